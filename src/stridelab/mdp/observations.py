"""Observation terms: functions of a :class:`~stridelab.mdp.state.RobotState` -> ``(n, k)``.

The first line of each docstring states the units; it is copied into ``policy.json``. Terms of the
``policy`` group must read only the proprioceptive fields of the state (the ones a robot measures),
because the deploy runtime builds the same vector from robot signals with this same code.
Scales, noise and clipping are set per term in the task config, not here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stridelab.errors import ConfigError

from stridelab.mdp import symmetry as sym
from stridelab.mdp.state import RobotState, commanded


@sym.mirrored(sym.vector(1, -1, 1))
def base_lin_vel(s: RobotState) -> np.ndarray:
    """Base linear velocity in the base frame [m/s] (simulation or a state estimator)."""
    return s.base_lin_vel


@sym.mirrored(sym.vector(-1, 1, -1))
def base_ang_vel(s: RobotState) -> np.ndarray:
    """Base angular velocity in the base frame [rad/s] (IMU gyro)."""
    return s.base_ang_vel


@sym.mirrored(sym.vector(1, -1, 1))
def projected_gravity(s: RobotState) -> np.ndarray:
    """Unit gravity direction in the base frame (from the IMU orientation)."""
    return s.projected_gravity


@sym.mirrored(sym.vector(1, -1, -1))
def velocity_commands(s: RobotState) -> np.ndarray:
    """Velocity command (vx [m/s], vy [m/s], yaw rate [rad/s]) in the base frame."""
    return s.commands


@sym.mirrored(sym.joints)
def joint_pos_rel(s: RobotState) -> np.ndarray:
    """Joint angles minus the default pose [rad], in the policy's joint order."""
    return s.joint_pos - s.default_joint_pos


@sym.mirrored(sym.joints)
def joint_vel(s: RobotState) -> np.ndarray:
    """Joint velocities [rad/s], in the policy's joint order."""
    return s.joint_vel


@sym.mirrored(sym.joints)
def last_action(s: RobotState) -> np.ndarray:
    """The previous policy output after the action term's clipping."""
    return s.actions


@sym.mirrored(sym.feet)
def foot_contact(s: RobotState) -> np.ndarray:
    """Foot contact flags (1: touching), in the order of the robot's feet."""
    return s.foot_contact.astype(np.float64)


def _feet_twice(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Two blocks of one value per foot (sin, then cos): the feet permutation in each block."""
    perm, sign = sym.feet(spec, size // 2)
    return np.concatenate([perm, perm + size // 2]), np.concatenate([sign, sign])


@sym.mirrored(_feet_twice)
def gait_clock(s: RobotState, min_command: float = 0.1) -> np.ndarray:
    """sin and cos of 2 pi x each foot's gait-clock phase (sin for every foot, then cos); all zero while
    the velocity command is below ``min_command`` (stand: no gait); unitless."""
    if s.gait_phase is None:
        raise ConfigError("observation term gait_clock needs a gait clock; add a 'gait_clock' command to the "
                          "task's commands (e.g. --env.commands.gait.func gait_clock).")
    angle = 2.0 * np.pi * s.gait_phase
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1) * commanded(s, min_command)[:, None]


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

    def __call__(self, s: RobotState) -> np.ndarray:
        values = self.events.privileged()
        if not values:
            return np.zeros((len(s.base_quat), 0))
        return np.concatenate([values[name] * self.scales.get(name, 1.0) for name, _ in self.parts], axis=1)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless: the events own the values."""

    def describe(self) -> list[dict]:
        return [{"name": name, "size": size, "scale": self.scales.get(name, 1.0)} for name, size in self.parts]

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
