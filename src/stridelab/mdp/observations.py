"""Observation terms: functions of a :class:`~stridelab.mdp.state.RobotState` -> ``(n, k)``.

Each term carries a whole description (:func:`~stridelab.mdp.describe.described`, or a class term's
``description()``): what each value is, its order, units and frame, and its rules with the configured
values; ``policy.json`` copies it into the term's ``description``, for clients outside stridelab. Terms of the
``policy`` group must read only the proprioceptive fields of the state (the ones a robot measures),
because the deploy runtime builds the same vector from robot signals with this same code.
Scales, noise and clipping are set per term in the task config, not here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stridelab.errors import ConfigError

from stridelab.mdp import symmetry as sym
from stridelab.mdp.describe import described
from stridelab.mdp.state import RobotState, commanded


@described("3 values: the base's linear velocity (vx forward, vy left, vz up) in the base frame [m/s], i.e. the world "
           "velocity of the base body's origin rotated into the base frame (in MuJoCo the free joint's qvel[0:3] "
           "rotated by the inverse of the base orientation; on a robot a state estimator's output).")
@sym.mirrored(sym.vector(1, -1, 1))
def base_lin_vel(s: RobotState) -> np.ndarray:
    """Base linear velocity in the base frame [m/s] (simulation or a state estimator)."""
    return s.base_lin_vel


@described("3 values: the base's angular velocity (wx, wy, wz) about the base frame's x (forward), y (left) and z "
           "(up) axes [rad/s], as a gyroscope fixed to the base measures it (in MuJoCo the free joint's qvel[3:6], "
           "which is already in the base frame).")
@sym.mirrored(sym.vector(-1, 1, -1))
def base_ang_vel(s: RobotState) -> np.ndarray:
    """Base angular velocity in the base frame [rad/s] (IMU gyro)."""
    return s.base_ang_vel


@described("3 values: the direction of gravity, the world's (0, 0, -1), expressed in the base frame (x forward, y "
           "left, z up), unitless: for the base orientation quaternion (w, x, y, z) it is (2 (w y - x z), "
           "-2 (y z + w x), -(1 - 2 (x^2 + y^2))), which reads (0, 0, -1) when the base is level.")
@sym.mirrored(sym.vector(1, -1, 1))
def projected_gravity(s: RobotState) -> np.ndarray:
    """Unit gravity direction in the base frame (from the IMU orientation)."""
    return s.projected_gravity


@described("3 values: the velocity command the policy tracks, vx [m/s] forward and vy [m/s] to the left in the "
           "base's heading frame, then the yaw rate wz [rad/s], positive counter-clockwise seen from above; "
           "policy.json's commands section gives the trained ranges.")
@sym.mirrored(sym.vector(1, -1, -1))
def velocity_commands(s: RobotState) -> np.ndarray:
    """Velocity command (vx [m/s], vy [m/s], yaw rate [rad/s]) in the base frame."""
    return s.commands


@described("One value per joint, in the order of policy.json's joint_names: the joint angle minus the joint's "
           "default_joint_pos entry [rad].")
@sym.mirrored(sym.joints)
def joint_pos_rel(s: RobotState) -> np.ndarray:
    """Joint angles minus the default pose [rad], in the policy's joint order."""
    return s.joint_pos - s.default_joint_pos


@described("One value per joint, in the order of policy.json's joint_names: the joint's angular velocity [rad/s].")
@sym.mirrored(sym.joints)
def joint_vel(s: RobotState) -> np.ndarray:
    """Joint velocities [rad/s], in the policy's joint order."""
    return s.joint_vel


@described("One value per joint, in the order of policy.json's joint_names: the policy's previous output after the "
           "action term's clipping (for joint_position: clip(action, -clip, clip) with the action section's clip; "
           "for the ETG action: clip(action, -1, 1)), in the action's own units; all zero at the first step of an "
           "episode.")
@sym.mirrored(sym.joints)
def last_action(s: RobotState) -> np.ndarray:
    """The previous policy output after the action term's clipping."""
    return s.actions


@described("One value per foot, in the order of policy.json's robot.feet: 1 while the foot touches anything (any "
           "contact of the foot's body or geom), 0 otherwise.")
@sym.mirrored(sym.feet)
def foot_contact(s: RobotState) -> np.ndarray:
    """Foot contact flags (1: touching), in the order of the robot's feet."""
    return s.foot_contact.astype(np.float64)


def _feet_twice(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Two blocks of one value per foot (sin, then cos): the feet permutation in each block."""
    perm, sign = sym.feet(spec, size // 2)
    return np.concatenate([perm, perm + size // 2]), np.concatenate([sign, sign])


def _gait_clock_description(params: dict, env: Any) -> str:
    """The gait clock observation with its standing threshold and, when the env has the clock, its phase rule."""
    m = float(params["min_command"])
    gait = getattr(getattr(env, "commands", None), "gait", None)
    feet = list(getattr(getattr(getattr(env, "robot", None), "spec", None), "feet", ()))
    order = f" ({', '.join(feet)})" if feet else ""
    rule = (gait.phase_rule() if gait is not None else
            "Foot f's phase in [0, 1) is the gait clock's, described by policy.json's gait section.")
    return (f"2 x F values for F feet in the order of policy.json's robot.feet{order}: sin(2 pi phase_f) for every "
            f"foot, then cos(2 pi phase_f) for every foot, unitless. {rule} All 2 x F values are 0 while the robot is "
            f"told to stand, that is while the planar command speed sqrt(vx^2 + vy^2) is below {m:g} m/s and the "
            f"yaw-rate command |wz| is below {m:g} rad/s (min_command = {m:g}); the clock keeps running meanwhile.")


@described(_gait_clock_description)
@sym.mirrored(_feet_twice)
def gait_clock(s: RobotState, min_command: float = 0.1) -> np.ndarray:
    """sin and cos of 2 pi x each foot's gait-clock phase (sin for every foot, then cos); all zero while
    the velocity command is below ``min_command`` (stand: no gait); unitless."""
    if s.gait_phase is None:
        raise ConfigError("observation term gait_clock needs a gait clock; add a 'gait_clock' command to the "
                          "task's commands (e.g. --env.commands.gait.func gait_clock).")
    angle = 2.0 * np.pi * s.gait_phase
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1) * commanded(s, min_command)[:, None]


@described("1 value: the gait clock's stepping frequency at this step minus the nominal {nominal:g} Hz [Hz] (the "
           "commanded frequency, raised with the speed when policy.json's gait section has a max_step_length).")
@sym.mirrored(sym.scalar)
def gait_frequency(s: RobotState, nominal: float = 0.0) -> np.ndarray:
    """The gait clock's stepping frequency minus ``nominal`` [Hz] (a command: apex's ``phase_add``).
    Shape: (n, 1)."""
    if s.gait_frequency is None:
        raise ConfigError("observation term gait_frequency needs a gait clock; add a 'gait_clock' command to the "
                          "task's commands.")
    return (s.gait_frequency - nominal)[:, None]


class randomized_parameters:  # noqa: N801 - a term, named like the function terms
    """Every randomized physical quantity of the task (friction, masses, gains, latency, pushes, ...).

    Only the quantities whose randomization is on are present, so the group has no constant
    dimension; ``describe()`` lists them (name, size, scale) for ``policy.json``. Each randomizer gives the
    scale of its quantities (e.g. the centre-of-mass offset x 10); ``scales`` overrides them by name.
    """

    def __init__(self, env: Any, scales: dict[str, float] | None = None) -> None:
        self.events = env.events
        self.rules = self.events.privileged_rules()
        self.scales = {**{name: scale for name, (_, scale) in self.rules.items()}, **(scales or {})}
        self.parts = [(name, v.shape[1]) for name, v in self.events.privileged().items()]
        self.meanings = self.events.privileged_meanings() if hasattr(self.events, "privileged_meanings") else {}

    def __call__(self, s: RobotState) -> np.ndarray:
        values = self.events.privileged()
        if not values:
            return np.zeros((len(s.base_quat), 0))
        return np.concatenate([values[name] * self.scales.get(name, 1.0) for name, _ in self.parts], axis=1)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless: the events own the values."""

    def describe(self) -> list[dict]:
        return [{"name": name, "size": size, "scale": self.scales.get(name, 1.0),
                 "meaning": self.meanings.get(name, "")} for name, size in self.parts]

    def description(self) -> str:
        """The parts in order, each with its size, meaning and scale."""
        if not self.parts:
            return "No values: no physical quantity of the task is randomized."
        listed = "; ".join(f"{name} ({size} value{'s' if size > 1 else ''}: {self.meanings.get(name) or name}, "
                           f"times {self.scales.get(name, 1.0):g})" for name, size in self.parts)
        return (f"Simulation only: the randomized physical quantities in force, parts concatenated in this order: "
                f"{listed}. Factors are unitless (1: nominal).")

    def mirror(self, spec, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Each part mirrors by its randomizer's rule: per-foot and per-joint values swap sides, y components
        flip."""
        perms, signs, offset = [], [], 0
        for name, n in self.parts:
            rule = self.rules.get(name, (None, 1.0))[0]
            if rule is None:
                raise ConfigError(f"randomized parameter {name!r} has no mirror rule; give its randomizer a "
                                  f"'mirrors' entry for it or turn symmetry off.")
            p, s = rule(spec, n)
            perms.append(np.asarray(p) + offset)
            signs.append(np.asarray(s, dtype=np.float64))
            offset += n
        return (np.concatenate(perms), np.concatenate(signs)) if perms else (np.zeros(0, int), np.zeros(0))


class height_scan:  # noqa: N801 - a term, named like the function terms
    """Base height minus ground height at a grid of points around the base [m], clipped to [-clip, clip].

    legged_gym's layout: ``size`` = (length along x, width along y) [m] sampled every ``resolution`` m
    (1.6 m x 1.0 m at 0.1 m: 17 x 11 = 187 points), centred on the base and turned with its heading
    (``yaw_aligned``; roll and pitch are ignored). Values are ordered x-major: point ``(ix, iy)`` is
    value ``ix * ny + iy``, x and y ascending. ``offset`` [m] is subtracted (legged_gym uses 0.5).

    The ground is found by casting rays straight down with ``mujoco.batch.Batch.ray`` (``method="ray"``,
    all envs in one call; the rays see only the terrain's ground geom group, not ceilings or the robot),
    or read from the terrain's heights (``method="lookup"``, bilinear). On the flat floor it is z = 0. A
    ray that misses (off the terrain) reads as ground far below (``+clip``).

    Rings around each foot, off by default (Miki et al. 2022, "Learning robust perceptive locomotion for
    quadrupedal robots in the wild": 52 samples per foot on circles of 0.08 / 0.16 / 0.26 / 0.36 / 0.48 m with
    6 / 8 / 10 / 12 / 16 points): ``foot_radii`` [m] with ``foot_points`` points each, centred on each foot's
    (x, y) and turned with the base's heading like the grid, the point at angle ``2 pi k / points`` first at
    k = 0 (straight ahead). They read base z minus ground z like the grid, and follow it: values
    ``nx * ny + foot * K + ring_start + k`` (K points per foot, feet in the robot's order).

    Noise model for student training, off by default: Gaussian per-point noise of std ``point_noise``
    [m], a per-env offset uniform in ``[-env_offset, env_offset]`` [m] and, on each foot's rings, a per-foot
    offset uniform in ``[-foot_offset, foot_offset]`` [m] (a foot's local map out of register), both drawn at
    each reset, outliers (probability ``outlier_prob`` per point: uniform in [-clip, clip]) and missing points
    (probability ``missing_prob``: they read ``missing_value``, default ``+clip`` like a miss). The draws use
    the env's RNG on every call (also in noise-free frames of the group).
    """

    def __init__(self, env: Any, size: tuple[float, float] = (1.6, 1.0), resolution: float = 0.1,
                 yaw_aligned: bool = True, offset: float = 0.0, clip: float = 1.0, method: str = "ray",
                 ray_start: float = 2.0, point_noise: float = 0.0, env_offset: float = 0.0,
                 outlier_prob: float = 0.0, missing_prob: float = 0.0, missing_value: float | None = None,
                 foot_radii: tuple[float, ...] = (), foot_points: tuple[int, ...] = (),
                 foot_offset: float = 0.0) -> None:
        if len(size) != 2 or min(size) < 0 or resolution <= 0:
            raise ConfigError(f"height_scan size = {size!r}, resolution = {resolution!r}: give (length, width) >= 0 "
                              f"and a resolution > 0 [m].")
        if method not in ("ray", "lookup"):
            raise ConfigError(f"height_scan method = {method!r} is unknown; use 'ray' or 'lookup'.")
        if clip <= 0 or not (0 <= outlier_prob <= 1 and 0 <= missing_prob <= 1):
            raise ConfigError("height_scan clip must be > 0 and outlier_prob, missing_prob within [0, 1].")
        self.env = env
        self.nx = int(round(size[0] / resolution)) + 1
        self.ny = int(round(size[1] / resolution)) + 1
        xs = np.linspace(-size[0] / 2, size[0] / 2, self.nx)
        ys = np.linspace(-size[1] / 2, size[1] / 2, self.ny)
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        self.points = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (m, 2) in the base's heading frame
        self.ring, self.ring_mirror = _foot_rings(tuple(foot_radii), tuple(foot_points))  # (K, 2) about a foot
        self.ring_radii, self.ring_counts = [float(r) for r in foot_radii], [int(c) for c in foot_points]
        self.num_feet = env.robot.num_feet if len(self.ring) else 0
        if foot_offset < 0 or (foot_offset > 0 and not self.num_feet):
            raise ConfigError(f"height_scan foot_offset = {foot_offset} must be >= 0 [m], and needs foot rings "
                              f"(foot_radii, foot_points).")
        self.foot_offset = float(foot_offset)
        # the grid, then each foot's rings, in the heading frame about their centres (the base, the feet). Shape: (m, 2)
        self.pattern = np.concatenate([self.points, np.tile(self.ring, (self.num_feet, 1))])
        self.foot_offsets = np.zeros((env.num_envs, self.num_feet * len(self.ring)))
        self.yaw_aligned, self.offset, self.clip = bool(yaw_aligned), float(offset), float(clip)
        self.terrain = getattr(env.robot, "terrain", None)
        self.method = method if self.terrain is not None else "flat"
        self.ray_start = float(ray_start)
        self.point_noise, self.env_offset = float(point_noise), float(env_offset)
        self.outlier_prob, self.missing_prob = float(outlier_prob), float(missing_prob)
        self.missing_value = self.clip if missing_value is None else float(missing_value)
        self.offsets = np.zeros((env.num_envs, 1))
        if self.env_offset > 0 or self.foot_offset > 0:
            self.reset(np.arange(env.num_envs))
        if self.method == "ray":
            from stridelab.sim.terrain.grid import GROUND_GROUP

            self.geomgroup = np.zeros(6, dtype=np.uint8)
            self.geomgroup[GROUND_GROUP] = 1
            self.down = np.array([0.0, 0.0, -1.0])

    def world_points(self, s: RobotState) -> np.ndarray:
        """World (x, y) of the scan points [m]: the grid around the base, then each foot's rings. Shape: (n, m, 2)."""
        p = self.pattern
        if self.yaw_aligned:
            q = s.base_quat
            yaw = np.arctan2(2 * (q[:, 0] * q[:, 3] + q[:, 1] * q[:, 2]), 1 - 2 * (q[:, 2] ** 2 + q[:, 3] ** 2))
            c, sn = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
            xy = np.stack([c * p[:, 0] - sn * p[:, 1], sn * p[:, 0] + c * p[:, 1]], axis=2)
        else:
            xy = np.broadcast_to(p, (len(s.base_pos), *p.shape))
        centre = np.broadcast_to(s.base_pos[:, None, :2], (len(s.base_pos), len(self.points), 2))
        if self.num_feet:
            if s.foot_pos is None:
                raise ConfigError("height_scan foot rings need the feet's positions, which this robot state does not "
                                  "carry; leave foot_radii empty here.")
            centre = np.concatenate([centre, np.repeat(s.foot_pos[:, :, :2], len(self.ring), axis=1)], axis=1)
        return xy + centre

    def ground(self, s: RobotState, xy: np.ndarray) -> np.ndarray:
        """Ground height under the points [m] (``-inf`` where a ray missed). Shape: (n, m)."""
        if self.method == "flat":
            return np.zeros(xy.shape[:2])
        if self.method == "lookup":
            return self.terrain.height_at(xy[..., 0], xy[..., 1])
        top = s.base_pos[:, 2:3] + self.ray_start
        pnt = np.concatenate([xy, np.broadcast_to(top[:, :, None], (*xy.shape[:2], 1))], axis=2)
        dist, _ = self.env.sim.batch.ray(pnt, self.down, geomgroup=self.geomgroup, flg_static=True)
        return np.where(dist >= 0, top - dist, -np.inf)

    def __call__(self, s: RobotState) -> np.ndarray:
        out = s.base_pos[:, 2:3] - self.ground(s, self.world_points(s)) - self.offset
        rng = self.env.rng
        if self.point_noise > 0:
            out = out + rng.normal(0.0, self.point_noise, size=out.shape)
        if self.env_offset > 0:
            out = out + self.offsets
        if self.foot_offset > 0:
            out[:, len(self.points):] += self.foot_offsets
        out = np.clip(out, -self.clip, self.clip)
        if self.outlier_prob > 0:
            hit = rng.random(out.shape) < self.outlier_prob
            out[hit] = rng.uniform(-self.clip, self.clip, size=int(hit.sum()))
        if self.missing_prob > 0:
            out[rng.random(out.shape) < self.missing_prob] = self.missing_value
        return out

    def reset(self, env_ids: np.ndarray) -> None:
        if self.env_offset > 0:
            self.offsets[env_ids] = self.env.rng.uniform(-self.env_offset, self.env_offset, size=(len(env_ids), 1))
        if self.foot_offset > 0:
            per_foot = self.env.rng.uniform(-self.foot_offset, self.foot_offset, size=(len(env_ids), self.num_feet))
            self.foot_offsets[env_ids] = np.repeat(per_foot, len(self.ring), axis=1)

    # ---- description (policy.json) -------------------------------------------------------------------
    def describe(self) -> dict:
        """The scan as data (``parts`` of the term in ``policy.json``): enough to compute it with ``mujoco.mj_ray`` or
        an elevation map. ``points`` and ``centre`` are in value order: value ``i`` is read at world (x, y) =
        ``c_i + R(yaw) @ points[i]`` (``R`` left out without ``yaw_aligned``), ``c_i`` the base's (x, y) where
        ``centre[i]`` is -1, else foot ``centre[i]``'s (x, y)."""
        k = len(self.ring)
        spec = getattr(getattr(self.env, "robot", None), "spec", None)
        feet = list(getattr(spec, "feet", ()))[:self.num_feet] if self.num_feet else []
        centre = [-1] * len(self.points) + [f for f in range(self.num_feet) for _ in range(k)]
        from stridelab.sim.terrain.grid import GROUND_GROUP

        # mj_ray's arguments that see the ground the way method "ray" does (for "lookup": up to a cell's twist / 4)
        ray = {"start_above_base": self.ray_start, "direction": [0.0, 0.0, -1.0],
               "geomgroup": [int(g == GROUND_GROUP) for g in range(6)], "flg_static": 1, "bodyexclude": -1}
        return {
            "points": self.pattern.tolist(),  # (x, y) [m] about the centre, in the heading frame. Shape: (m, 2)
            "centre": centre,
            "frame": "yaw_aligned" if self.yaw_aligned else "world",
            "yaw": "atan2(2 (w z + x y), 1 - 2 (y^2 + z^2)) of the base quaternion (w, x, y, z); roll and pitch "
                   "ignored",
            "rotation": "world (x, y) = c + (cos(yaw) px - sin(yaw) py, sin(yaw) px + cos(yaw) py)",
            "grid": {"first": 0, "count": len(self.points), "nx": self.nx, "ny": self.ny,
                     "x": [float(self.points[0, 0]), float(self.points[-1, 0])],
                     "y": [float(self.points[0, 1]), float(self.points[-1, 1])],
                     "order": "x-major: point (ix, iy) is value ix * ny + iy, x and y ascending"},
            "rings": None if not self.num_feet else {
                "first": len(self.points), "per_foot": k, "feet": feet, "radii": self.ring_radii,
                "points_per_ring": self.ring_counts,
                "order": "foot by foot in robot.feet order; per foot ring by ring, radius ascending as configured; "
                         "per ring point j at angle 2 pi j / points (j = 0 straight ahead, counter-clockwise)",
                "foot_position": "the world position of the foot's first collision geom (robot.xml's framepos "
                                 "sensors sl_pos_<foot index>)"},
            "height": "base_z - ground_z - offset",
            "offset": self.offset,
            "clip": self.clip,
            "value": "clip(base_z - ground_z - offset, -clip, clip) [m]; the group then multiplies it by the term's "
                     "scale and clips it to the group's clip",
            "ground": {"method": self.method, "ray": ray},
            "miss_value": self.clip,
            "noise": {"point_noise": self.point_noise, "env_offset": self.env_offset, "foot_offset": self.foot_offset,
                      "outlier_prob": self.outlier_prob, "missing_prob": self.missing_prob,
                      "missing_value": self.missing_value},
        }

    def description(self) -> str:
        """The scan in whole sentences, with its configured values (the numbers are in :meth:`describe`)."""
        m, grid = len(self.pattern), len(self.points)
        sizes = (f"{self.nx} x {self.ny} grid of {self.points[-1, 0] - self.points[0, 0]:g} m x "
                 f"{self.points[-1, 1] - self.points[0, 1]:g} m centred on the base, x-major (point (ix, iy) is value "
                 f"ix * {self.ny} + iy, x and y ascending)")
        frame = ("turned with the base's heading: yaw = atan2(2 (w z + x y), 1 - 2 (y^2 + z^2)) of the base "
                 "quaternion (w, x, y, z), roll and pitch ignored, so the world (x, y) of point (px, py) about its "
                 "centre c is c + (cos(yaw) px - sin(yaw) py, sin(yaw) px + cos(yaw) py)" if self.yaw_aligned else
                 "along the world's axes (not turned with the heading), so the world (x, y) of point (px, py) about "
                 "its centre c is c + (px, py)")
        rings = "" if not self.num_feet else (
            f" Values {grid} to {m - 1} are rings around each foot, {len(self.ring)} points per foot, foot by foot in "
            f"the order of robot.feet, centred on the foot's world (x, y) (its first collision geom, robot.xml's "
            f"framepos sensor sl_pos_<foot index>); per foot ring by ring with radii {self.ring_radii} m and "
            f"{self.ring_counts} points, point j of a ring at angle 2 pi j / points from straight ahead, "
            f"counter-clockwise.")
        ground = {
            "ray": (f"ground_z is where a ray cast straight down from (x, y, base_z + {self.ray_start:g} m) first "
                    f"hits a geom of geom group 0, the terrain's ground (mujoco.mj_ray with geomgroup (1, 0, 0, 0, 0, "
                    f"0), flg_static 1 and bodyexclude -1; the robot's geoms and ceilings are in other groups); a ray "
                    f"that hits nothing reads ground_z = -inf, so the value is +{self.clip:g} (ground far below)."),
            "lookup": ("ground_z is the terrain's height at (x, y), bilinear between its heightfield samples (with the "
                       "top faces of ground boxes), a point beyond the heightfield taking the nearest edge; mj_ray "
                       "straight down on the terrain's group-0 geoms gives the same on flat treads, platforms and "
                       "planar slopes and differs by at most a quarter of a cell's twist |h00 - h01 - h10 + h11| "
                       "elsewhere, because MuJoCo draws each heightfield cell as two triangles. A point without a "
                       f"height (a ray that hits nothing, a hole in an elevation map) should read +{self.clip:g}, as "
                       "a ray miss does."),
            "flat": "ground_z = 0: the task has no terrain, only the flat floor at z = 0.",
        }[self.method]
        noise = ("No noise is added." if not (self.point_noise or self.env_offset or self.foot_offset or
                                              self.outlier_prob or self.missing_prob) else
                 f"Training noise, added before the clip: Gaussian per point with std {self.point_noise:g} m, a "
                 f"per-env offset uniform in +-{self.env_offset:g} m and a per-foot offset on the rings uniform in "
                 f"+-{self.foot_offset:g} m (both drawn at each reset); after the clip a value is replaced with "
                 f"probability {self.outlier_prob:g} by an outlier uniform in +-{self.clip:g} m and with probability "
                 f"{self.missing_prob:g} by the missing value {self.missing_value:g} m.")
        return (f"{m} values [m]: value i is clip(base_z - ground_z_i - {self.offset:g}, -{self.clip:g}, "
                f"{self.clip:g}), the base's height above the ground at point i minus the offset {self.offset:g} m, "
                f"where base_z is the base's world z and ground_z_i the ground's z under point i; the group then "
                f"multiplies it by the term's scale and clips it to the group's clip. The points (parts.points, "
                f"(x forward, y left) [m] about their centre, in value order) are {frame}. Values 0 to {grid - 1} are "
                f"a {sizes}.{rings} {ground} {noise}")

    def mirror(self, spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Left/right: the grid's y columns swap (``iy -> ny - 1 - iy``); each foot's rings come from its mirror
        foot (``feet_mirror_perm``) with their angles negated; heights keep their sign."""
        grid, k = self.nx * self.ny, len(self.ring)
        if size != grid + self.num_feet * k:
            raise ConfigError(f"height_scan has {grid + self.num_feet * k} points but {size} values; it cannot be "
                              f"mirrored.")
        ix, iy = np.divmod(np.arange(grid), self.ny)
        perm = [ix * self.ny + (self.ny - 1 - iy)]
        if self.num_feet:
            feet_perm = sym.feet(spec, self.num_feet)[0]
            perm += [grid + int(feet_perm[f]) * k + self.ring_mirror for f in range(self.num_feet)]
        return np.concatenate(perm), np.ones(size)


def _foot_rings(radii: tuple[float, ...], points: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Points on circles about a foot [m] in the heading frame, and the index each one mirrors to (y -> -y).

    Shapes: (K, 2) and (K,), K = sum(points)."""
    if len(radii) != len(points) or any(r <= 0 for r in radii) or any(int(p) < 1 for p in points):
        raise ConfigError(f"height_scan foot_radii = {radii!r} and foot_points = {points!r}: give one point count "
                          f">= 1 per radius > 0 [m], e.g. foot_radii (0.08, 0.16) and foot_points (6, 8).")
    xy, mirror, start = [], [], 0
    for r, count in zip(radii, points):
        k = np.arange(int(count))
        angle = 2 * np.pi * k / count
        xy.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))
        mirror.append(start + (-k) % count)
        start += int(count)
    if not xy:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    return np.concatenate(xy), np.concatenate(mirror)
