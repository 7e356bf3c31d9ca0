"""The ceiling scan: the ceiling's height above the base at points around the base, so that a policy can see a
low ceiling (the cave course) and crouch only under it. The upward counterpart of
:class:`stridelab.mdp.height_scan.height_scan`, on the same grid of points.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from stridelab.errors import ConfigError
from stridelab.mdp.height_scan import frame_sentence, height_scan
from stridelab.mdp.state import RobotState
from stridelab.sim.terrain.grid import OVERHEAD_GROUP

log = logging.getLogger(__name__)


class ceiling_scan:  # noqa: N801 - a term, named like the function terms
    """Ceiling height minus base height at a grid of points around the base [m], clipped to [-clip, clip]; a
    point with no ceiling above it reads ``+clip``.

    The grid is the height scan's (:class:`~stridelab.mdp.height_scan.height_scan` with the same ``size``,
    ``resolution`` and ``yaw_aligned``; 1.6 m x 1.0 m at 0.1 m: 17 x 11 = 187 points, x-major, turned with the
    base's heading), so value i of both scans is read at the same (x, y). ``offset`` [m] is subtracted.

    The ceiling over a point is the lowest face of the terrain's overhead geoms (geom group 1: the cave's slab,
    the grid's cave bands) above (x, y, base_z - ``ray_start``): found by casting rays straight up with
    ``mujoco.batch.Batch.ray`` (``method="ray"``, all envs in one call; the rays see only the overhead group,
    not the ground or the robot), or read from the terrain's boxes (``method="lookup"``,
    :meth:`~stridelab.sim.terrain.grid.Terrain.ceiling_at`). The boxes are axis-aligned, so both give the same
    heights (away from a box's edges); "lookup" is the cheaper. Where a ray hits nothing (no ceiling, or the
    flat floor without terrain) the value is ``+clip``: ceiling far above. Under the cave course's ceiling
    (0.18 m above the ground) a standing robot (base ~0.27 m) reads about -0.09 m: the ceiling is below its
    base, so it must crouch.

    Args:
        size: (length along x, width along y) of the grid [m]; resolution: spacing of its points [m].
        yaw_aligned: the grid turns with the base's heading (roll and pitch ignored).
        offset: subtracted from every value [m]; clip: values are clipped to [-clip, clip] [m], > 0.
        method: "lookup" or "ray" (see above). Without a simulation (the deploy runtime rebuilding the term
            from ``policy.json``) "ray" reads the terrain's boxes, which give the same heights.
        ray_start: the rays start this far below the base [m], >= 0, so that they see a ceiling lower than the
            base too.
    """

    def __init__(self, env: Any, size: tuple[float, float] = (1.6, 1.0), resolution: float = 0.1,
                 yaw_aligned: bool = True, offset: float = 0.0, clip: float = 1.0, method: str = "lookup",
                 ray_start: float = 1.0) -> None:
        if len(size) != 2 or min(size) < 0 or resolution <= 0:
            raise ConfigError(f"ceiling_scan size = {size!r}, resolution = {resolution!r}: give (length, width) >= 0 "
                              f"and a resolution > 0 [m].")
        if method not in ("ray", "lookup"):
            raise ConfigError(f"ceiling_scan method = {method!r} is unknown; use 'lookup' or 'ray'.")
        if not clip > 0 or not (math.isfinite(ray_start) and ray_start >= 0):
            raise ConfigError(f"ceiling_scan clip = {clip} and ray_start = {ray_start}: give a clip > 0 and a "
                              f"ray_start >= 0 [m].")
        self.env = env
        self.grid = height_scan(env, size=size, resolution=resolution, yaw_aligned=yaw_aligned, method="lookup")
        self.nx, self.ny, self.points = self.grid.nx, self.grid.ny, self.grid.points
        self.yaw_aligned, self.offset, self.clip = bool(yaw_aligned), float(offset), float(clip)
        self.ray_start = float(ray_start)
        self.terrain = getattr(env.robot, "terrain", None)
        self.method = method if self.terrain is not None else "flat"
        if self.method == "ray" and getattr(env, "sim", None) is None:
            log.info("ceiling_scan: no simulation to cast rays in; reading the terrain's boxes (the same heights)")
            self.method = "lookup"
        self.geomgroup = np.zeros(6, dtype=np.uint8)
        self.geomgroup[OVERHEAD_GROUP] = 1
        self.up = np.array([0.0, 0.0, 1.0])

    def ceiling(self, s: RobotState, xy: np.ndarray) -> np.ndarray:
        """Height of the ceiling over points ``xy`` [m] (world (x, y) [m], Shape: (n, m, 2)); ``+inf`` where there
        is none. Shape: (n, m)."""
        if self.method == "flat":
            return np.full(xy.shape[:2], np.inf)
        start = s.base_pos[:, 2:3] - self.ray_start  # (n, 1)
        if self.method == "lookup":
            return self.terrain.ceiling_at(xy[..., 0], xy[..., 1], start)
        pnt = np.concatenate([xy, np.broadcast_to(start[:, :, None], (*xy.shape[:2], 1))], axis=2)
        dist, _ = self.env.sim.batch.ray(pnt, self.up, geomgroup=self.geomgroup, flg_static=True)
        return np.where(dist >= 0, start + dist, np.inf)

    def __call__(self, s: RobotState) -> np.ndarray:
        """Shape: (n, nx * ny) [m]."""
        xy = self.grid.world_points(s)
        out = self.ceiling(s, xy) - s.base_pos[:, 2:3] - self.offset
        return np.clip(out, -self.clip, self.clip)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""

    def mirror(self, spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Left/right: the grid's y columns swap (``iy -> ny - 1 - iy``); heights keep their sign."""
        if size != len(self.points):
            raise ConfigError(f"ceiling_scan has {len(self.points)} points but {size} values; it cannot be mirrored.")
        return self.grid.mirror(spec, size)

    # ---- description (policy.json) -------------------------------------------------------------------
    def describe(self) -> dict:
        """The scan as data (``parts`` of the term in ``policy.json``), laid out as the height scan's: enough to
        compute it with ``mujoco.mj_ray``. Value ``i`` is read at world (x, y) = ``c + R(yaw) @ points[i]``, ``c``
        the base's (x, y) (``R`` left out without ``yaw_aligned``)."""
        grid = self.grid.describe()
        ray = {"start_below_base": self.ray_start, "direction": [0.0, 0.0, 1.0],
               "geomgroup": [int(g == OVERHEAD_GROUP) for g in range(6)], "flg_static": 1, "bodyexclude": -1}
        return {
            **{k: grid[k] for k in ("points", "centre", "frame", "yaw", "rotation", "grid", "rings")},
            "height": "ceiling_z - base_z - offset",
            "offset": self.offset,
            "clip": self.clip,
            "value": "clip(ceiling_z - base_z - offset, -clip, clip) [m]; the group then multiplies it by the term's "
                     "scale and clips it to the group's clip",
            "ceiling": {"method": self.method, "ray": ray,
                        "lookup": "the lowest bottom face of the terrain's overhead boxes (geom group 1, axis-aligned) "
                                  "covering (x, y) at or above base_z - start_below_base: what the ray hits"},
            "miss_value": self.clip,
            "no_ceiling": f"a point with no ceiling above it (the ray hits nothing) reads +{self.clip:g}",
            "noise": None,
        }

    def description(self) -> str:
        """The scan in whole sentences, with its configured values (the numbers are in :meth:`describe`)."""
        m = len(self.points)
        sizes = (f"{self.nx} x {self.ny} grid of {self.points[-1, 0] - self.points[0, 0]:g} m x "
                 f"{self.points[-1, 1] - self.points[0, 1]:g} m centred on the base, x-major (point (ix, iy) is value "
                 f"ix * {self.ny} + iy, x and y ascending), the same points as the height scan's grid")
        how = {
            "ray": "The env casts these rays.",
            "lookup": ("The env reads it from the terrain's overhead boxes instead (axis-aligned: the lowest bottom face "
                       "over the point at or above the ray's start), which is the height the ray finds."),
            "flat": "The task has no terrain, so no ray hits anything: every value is the no-ceiling value.",
        }[self.method]
        return (f"{m} values [m]: value i is clip(ceiling_z_i - base_z - {self.offset:g}, -{self.clip:g}, "
                f"{self.clip:g}), the height of the ceiling above the base at point i minus the offset "
                f"{self.offset:g} m, where base_z is the base's world z; the group then multiplies it by the term's "
                f"scale and clips it to the group's clip. A negative value is a ceiling below the base (crouch). The "
                f"points (parts.points, (x forward, y left) [m] about the base, in value order) are "
                f"{frame_sentence(self.yaw_aligned)}; they form a {sizes}. ceiling_z_i is where a ray cast straight "
                f"up from (x_i, y_i, base_z - {self.ray_start:g} m) first hits a geom of geom group 1, the terrain's "
                f"ceilings (mujoco.mj_ray with direction (0, 0, 1), geomgroup (0, 1, 0, 0, 0, 0), flg_static 1 and "
                f"bodyexclude -1; the ground and the robot's geoms are in other groups). A point with no ceiling "
                f"above it (the ray hits nothing) reads +{self.clip:g} (ceiling far above). {how} No noise is added.")
