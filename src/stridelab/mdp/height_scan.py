"""The height scan: the base's height above the ground at points around the base (and the feet), the
exteroception of a terrain policy, with the exteroception noise model of a student (:mod:`stridelab.mdp.scan_noise`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from stridelab.errors import ConfigError
from stridelab.mdp import symmetry as sym
from stridelab.mdp.scan_noise import ScanNoise, ScanNoiseSettings
from stridelab.mdp.state import RobotState
from stridelab.sim.terrain.grid import GROUND_GROUP


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

    Noise model for student training, off by default (:mod:`stridelab.mdp.scan_noise`: per-point noise, per-env and
    per-foot offsets, map drift, outliers, missing points and regions, a scan removed mid-episode), every magnitude
    and probability times ``noise_level`` (which :class:`stridelab.mdp.curriculum.scan_noise_level` schedules). A
    missing value reads ``missing_value`` (default ``+clip``, like a miss), a removed scan ``blind_value`` (default:
    the missing value). The draws use the env's RNG on every call (also in noise-free frames of the group).
    """

    def __init__(self, env: Any, size: tuple[float, float] = (1.6, 1.0), resolution: float = 0.1,
                 yaw_aligned: bool = True, offset: float = 0.0, clip: float = 1.0, method: str = "ray",
                 ray_start: float = 2.0, point_noise: float = 0.0, env_offset: float = 0.0,
                 outlier_prob: float = 0.0, missing_prob: float = 0.0, missing_value: float | None = None,
                 foot_radii: tuple[float, ...] = (), foot_points: tuple[int, ...] = (),
                 foot_offset: float = 0.0, drift_rate: float = 0.0, drift_max: float = 0.1, region_rate: float = 0.0,
                 region_radius: float = 0.3, blind_prob: float = 0.0, blind_after_s: tuple[float, float] = (1.0, 10.0),
                 blind_value: float | None = None, noise_level: float = 1.0) -> None:
        if len(size) != 2 or min(size) < 0 or resolution <= 0:
            raise ConfigError(f"height_scan size = {size!r}, resolution = {resolution!r}: give (length, width) >= 0 "
                              f"and a resolution > 0 [m].")
        if method not in ("ray", "lookup"):
            raise ConfigError(f"height_scan method = {method!r} is unknown; use 'ray' or 'lookup'.")
        if clip <= 0 or noise_level < 0:
            raise ConfigError(f"height_scan clip = {clip} must be > 0 and noise_level = {noise_level} >= 0.")
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
        if foot_offset > 0 and not self.num_feet:
            raise ConfigError(f"height_scan foot_offset = {foot_offset} needs foot rings (foot_radii, foot_points).")
        # the grid, then each foot's rings, in the heading frame about their centres (the base, the feet). Shape: (m, 2)
        self.pattern = np.concatenate([self.points, np.tile(self.ring, (self.num_feet, 1))])
        self.yaw_aligned, self.offset, self.clip = bool(yaw_aligned), float(offset), float(clip)
        self.terrain = getattr(env.robot, "terrain", None)
        self.method = method if self.terrain is not None else "flat"
        self.ray_start = float(ray_start)
        self.missing_value = self.clip if missing_value is None else float(missing_value)
        self.blind_value = self.missing_value if blind_value is None else float(blind_value)
        self.settings = ScanNoiseSettings(
            point_noise=float(point_noise), env_offset=float(env_offset), foot_offset=float(foot_offset),
            drift_rate=float(drift_rate), drift_max=float(drift_max), outlier_prob=float(outlier_prob),
            missing_prob=float(missing_prob), region_rate=float(region_rate), region_radius=float(region_radius),
            blind_prob=float(blind_prob), blind_after_s=(float(blind_after_s[0]), float(blind_after_s[1])))
        self.noise: ScanNoise | None = None
        if self.settings.active:
            dt = float(getattr(env, "dt", 0.02))
            self.noise = ScanNoise(self.settings, env.num_envs, len(self.pattern), len(self.points), len(self.ring),
                                   dt, env.rng, level=noise_level)
            self.noise.reset(np.arange(env.num_envs))
        self._stepped_at: int | None = None
        if self.method == "ray":
            self.geomgroup = np.zeros(6, dtype=np.uint8)
            self.geomgroup[GROUND_GROUP] = 1
            self.down = np.array([0.0, 0.0, -1.0])

    @property
    def noise_level(self) -> float:
        """The noise model's level (0 without a noise model)."""
        return self.noise.level if self.noise is not None else 0.0

    @noise_level.setter
    def noise_level(self, level: float) -> None:
        if self.noise is not None:
            self.noise.level = float(level)

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
        xy = self.world_points(s)
        noise = self.noise
        if noise is None:
            out = s.base_pos[:, 2:3] - self.ground(s, xy) - self.offset
            return np.clip(out, -self.clip, self.clip)
        counter = getattr(self.env, "common_step_counter", None)
        if counter is None or counter != self._stepped_at:  # once per control step (not per noise-free frame)
            noise.step(xy)
            self._stepped_at = counter
        out = noise.heights(s.base_pos[:, 2:3] - self.ground(s, noise.shift(xy)) - self.offset)
        out = np.clip(out, -self.clip, self.clip)
        return noise.corrupt(out, xy, self.clip, self.missing_value, self.blind_value)

    def reset(self, env_ids: np.ndarray) -> None:
        if self.noise is not None:
            self.noise.reset(env_ids)

    def state_dict(self) -> dict:
        return {"noise": self.noise.state_dict()} if self.noise is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.noise is not None and "noise" in state:
            self.noise.load_state_dict(state["noise"])

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
            "missing_value": self.missing_value,
            "noise": {**dataclasses.asdict(self.settings), "level": self.noise_level, "blind_value": self.blind_value,
                      "use": "training only: a robot's own map brings its own errors; leave it off in deployment"},
        }

    def description(self) -> str:
        """The scan in whole sentences, with its configured values (the numbers are in :meth:`describe`)."""
        m, grid = len(self.pattern), len(self.points)
        sizes = (f"{self.nx} x {self.ny} grid of {self.points[-1, 0] - self.points[0, 0]:g} m x "
                 f"{self.points[-1, 1] - self.points[0, 1]:g} m centred on the base, x-major (point (ix, iy) is value "
                 f"ix * {self.ny} + iy, x and y ascending)")
        frame = frame_sentence(self.yaw_aligned)
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
        c = self.settings
        noise = ("No noise is added." if self.noise is None else
                 f"Training noise (times the level {self.noise_level:g}), not part of the scan a robot computes: "
                 f"Gaussian per point with std {c.point_noise:g} m, a per-env offset uniform in +-{c.env_offset:g} m "
                 f"and a per-foot offset on the rings uniform in +-{c.foot_offset:g} m (both drawn at each reset), a "
                 f"map drift in x, y and z with std {c.drift_rate:g} m per sqrt(s) up to {c.drift_max:g} m; after the "
                 f"clip a value is replaced with probability {c.outlier_prob:g} by an outlier uniform in "
                 f"+-{self.clip:g} m and with probability {c.missing_prob:g} by the missing value "
                 f"{self.missing_value:g} m, discs of radius up to {c.region_radius:g} m appear at "
                 f"{c.region_rate:g} per s and read missing, and with probability {c.blind_prob:g} per episode the "
                 f"whole scan reads {self.blind_value:g} from a time uniform in {list(c.blind_after_s)} s on.")
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


def frame_sentence(yaw_aligned: bool) -> str:
    """How a scan's points (px, py) about their centre c become world (x, y), as a clause of a description."""
    if yaw_aligned:
        return ("turned with the base's heading: yaw = atan2(2 (w z + x y), 1 - 2 (y^2 + z^2)) of the base "
                "quaternion (w, x, y, z), roll and pitch ignored, so the world (x, y) of point (px, py) about its "
                "centre c is c + (cos(yaw) px - sin(yaw) py, sin(yaw) px + cos(yaw) py)")
    return ("along the world's axes (not turned with the heading), so the world (x, y) of point (px, py) about its "
            "centre c is c + (px, py)")


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
