"""The terrain grid: tiles assembled into one heightfield plus boxes, and its MuJoCo form.

World frame: tile ``(row i, col j)`` covers ``x in [i, i+1] * tile_size``, ``y in [j, j+1] * tile_size``;
heightfield sample ``[iy, ix]`` sits at ``x = ix * hs - border + hs / 2``, ``y = iy * hs - border + hs / 2``
(``hs = horizontal_scale``), the same row-major layout as MuJoCo's ``hfield_data`` (row = y).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import mujoco
import numpy as np

from stridelab.sim.terrain.config import TerrainConfig
from stridelab.sim.terrain.generators import GENERATORS, Box

log = logging.getLogger(__name__)

#: Half-side of the square around a tile centre whose highest ground is the spawn height [m]
#: (legged_gym uses +-1 m; our platforms are 3 m wide, and rough ground has no platform).
SPAWN_HALF_WIDTH = 0.5
#: Geom groups of the terrain: ground (heightfield, beams) and overhead boxes (ceilings), so that a
#: height scan can leave ceilings out with a geomgroup mask.
GROUND_GROUP, OVERHEAD_GROUP = 0, 1
#: Depth of the heightfield's solid base below its lowest point [m].
HFIELD_BASE = 0.5


@dataclass(frozen=True)
class TerrainTile:
    """One tile of the grid.

    Attributes:
        row, col: grid indices (row = difficulty level, col = terrain column).
        type: terrain type name.
        level: difficulty in [0, 1].
        origin: spawn point (x, y, z) [m]: the tile centre and the highest ground within
            ``SPAWN_HALF_WIDTH`` of it (the platform height for types with a platform).
    """

    row: int
    col: int
    type: str
    level: float
    origin: tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class Terrain:
    """A built terrain.

    Attributes:
        cfg: the configuration it was built from.
        heights: ground heights [m], float32, quantized to ``vertical_scale``. Shape:
            (num_cols * n + 2 b, num_rows * n + 2 b), indexed [iy, ix] (n = tile samples, b = border samples).
        boxes: box geoms in world coordinates (beams, ceilings).
        tiles: one per tile, row-major: ``tiles[i * num_cols + j]`` is tile (i, j).
        origins: spawn points [m]. Shape: (num_rows, num_cols, 3).
        levels: difficulty per row. Shape: (num_rows,).
        column_types: terrain type per column. Length: num_cols.
    """

    cfg: TerrainConfig
    heights: np.ndarray
    boxes: tuple[Box, ...]
    tiles: tuple[TerrainTile, ...]
    origins: np.ndarray
    levels: np.ndarray
    column_types: tuple[str, ...]

    @property
    def first_sample(self) -> tuple[float, float]:
        """World (x, y) of sample [0, 0] [m]."""
        off = self.cfg.horizontal_scale / 2 - self.cfg.border
        return off, off

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) of the heightfield's samples [m]."""
        x0, y0 = self.first_sample
        hs = self.cfg.horizontal_scale
        return x0, x0 + (self.heights.shape[1] - 1) * hs, y0, y0 + (self.heights.shape[0] - 1) * hs

    def tile(self, row: int, col: int) -> TerrainTile:
        """Tile (row, col)."""
        return self.tiles[row * self.cfg.num_cols + col]

    def tile_index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the tile under points (x, y) [m]; -1 off the grid. Shapes: broadcast of x, y."""
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        t = self.cfg.tile_size
        row, col = np.floor(x / t).astype(int), np.floor(y / t).astype(int)
        off = (row < 0) | (row >= self.cfg.num_rows) | (col < 0) | (col >= self.cfg.num_cols)
        return np.where(off, -1, row), np.where(off, -1, col)

    @cached_property
    def hfield_file(self) -> tuple[float, float, bytes]:
        """The heights for MuJoCo: (lowest height [m], height range [m], the heights normalized to [0, 1] in
        MuJoCo's binary heightfield format: int32 rows, int32 columns, float32 data, row-major)."""
        h = self.heights.astype(np.float64)
        low, high = float(h.min()), float(h.max())
        elevation = high - low
        data = (h - low) / elevation if elevation > 0 else np.zeros_like(h)
        blob = np.array(h.shape, dtype=np.int32).tobytes() + np.ascontiguousarray(data, dtype=np.float32).tobytes()
        return low, elevation, blob

    @cached_property
    def _flat_heights(self) -> np.ndarray:
        """``heights`` as one contiguous float64 row [m]. Shape: (rows * cols,)."""
        return np.ascontiguousarray(self.heights, dtype=np.float64).ravel()

    def height_at(self, x: np.ndarray, y: np.ndarray, boxes: bool = True) -> np.ndarray:
        """Ground height under points (x, y) [m], bilinear between samples.

        Points beyond the heightfield take the nearest edge height. With ``boxes`` the tops of ground
        boxes (beams) count too; ceilings never do. MuJoCo's heightfield is two triangles per cell, so on
        a non-planar cell it differs from bilinear by up to a quarter of the cell's twist; on flat treads,
        platforms and planar slopes they agree exactly.

        Args:
            x, y: world coordinates [m]; any broadcastable shapes.
        Returns:
            Heights [m], float64. Shape: broadcast of x, y.
        """
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        hs = self.cfg.horizontal_scale
        x0, y0 = self.first_sample
        rows, cols = self.heights.shape
        fx = np.clip((x - x0) * (1.0 / hs), 0.0, cols - 1)
        fy = np.clip((y - y0) * (1.0 / hs), 0.0, rows - 1)
        # fx, fy >= 0, so truncation is floor; the last sample belongs to the last cell
        ix = np.minimum(fx.astype(np.intp), cols - 2)
        iy = np.minimum(fy.astype(np.intp), rows - 2)
        tx, ty = fx - ix, fy - iy
        # one flat gather per corner is several times cheaper than 2-d fancy indexing
        flat = self._flat_heights
        i00 = iy * cols + ix
        h00, h01 = flat.take(i00), flat.take(i00 + 1)
        h10, h11 = flat.take(i00 + cols), flat.take(i00 + cols + 1)
        near = h00 + tx * (h01 - h00)
        out = near + ty * (h10 + tx * (h11 - h10) - near)
        if boxes:
            for box in self.boxes:
                if not box.overhead:
                    out = np.where(box.covers(x, y), np.maximum(out, box.top), out)
        return out

    def ceiling_at(self, x: np.ndarray, y: np.ndarray, above: np.ndarray | float = -np.inf) -> np.ndarray:
        """Height of the lowest ceiling over points (x, y) [m]: the bottom face of the lowest overhead box
        (``Box.overhead``: the cave's slab, the grid's cave bands) that covers (x, y), edges included, and whose
        bottom is at or above ``above`` [m]; ``+inf`` where no such box covers the point (no ceiling).

        Exact for the compiled model: a ray cast straight up from (x, y, above) on the terrain's overhead geom
        group hits the same face (away from a box's edges). The cost grows with the number of overhead boxes.

        Args:
            x, y, above: world coordinates [m]; any broadcastable shapes.
        Returns:
            Heights [m], float64. Shape: broadcast of x, y, above.
        """
        x, y, above = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float), np.asarray(above, float))
        out = np.full(x.shape, np.inf)
        for box in self.boxes:
            if box.overhead:
                over = box.covers(x, y) & (above <= box.bottom)
                out = np.where(over, np.minimum(out, box.bottom), out)
        return out


def build_grid(cfg: TerrainConfig) -> Terrain:
    """Generate every tile and assemble the grid. Deterministic in ``cfg`` (including ``cfg.seed``).

    :func:`stridelab.sim.terrain.build_terrain` calls this, or builds a course when ``cfg.course`` is set.
    """
    n, b = cfg.tile_samples, cfg.border_samples
    heights = np.zeros((cfg.num_cols * n + 2 * b, cfg.num_rows * n + 2 * b), dtype=np.float32)
    levels = cfg.row_levels()
    column_types = cfg.column_types()
    missing = [name for name, p in cfg.types.items() if p > 0 and name not in column_types]
    if missing:
        log.warning("terrain types %s get no column of %d; raise num_cols or their proportions", missing,
                    cfg.num_cols)
    t, vs, hs = cfg.tile_size, cfg.vertical_scale, cfg.horizontal_scale
    spawn = max(1, round(SPAWN_HALF_WIDTH / hs))
    boxes: list[Box] = []
    tiles: list[TerrainTile] = []
    origins = np.zeros((cfg.num_rows, cfg.num_cols, 3))
    for i, level in enumerate(levels):
        for j, kind in enumerate(column_types):
            rng = np.random.default_rng([cfg.seed, i, j])
            tile_heights, tile_boxes = GENERATORS[kind](level, rng, cfg)
            tile_heights = np.round(tile_heights / vs) * vs
            heights[b + j * n:b + (j + 1) * n, b + i * n:b + (i + 1) * n] = tile_heights
            cx, cy = (i + 0.5) * t, (j + 0.5) * t
            boxes += [box.shifted(cx, cy) for box in tile_boxes]
            z = float(tile_heights[n // 2 - spawn:n // 2 + spawn, n // 2 - spawn:n // 2 + spawn].max())
            origins[i, j] = (cx, cy, z)
            tiles.append(TerrainTile(i, j, kind, float(level), (cx, cy, z)))
    levels_arr = np.asarray(levels)
    for arr in (heights, origins, levels_arr):
        arr.flags.writeable = False  # a Terrain is frozen; copy an array to edit it
    return Terrain(cfg=cfg, heights=heights, boxes=tuple(boxes), tiles=tuple(tiles), origins=origins,
                   levels=levels_arr, column_types=tuple(column_types))


def add_to_spec(terrain: Terrain, mjspec: mujoco.MjSpec, name: str = "terrain",
                replace_floor: bool = True) -> None:
    """Add the terrain to a model: a heightfield asset and geom, and one box geom per box.

    Every geom has ``contype = conaffinity = 1``; the heightfield and ground boxes are in geom group
    ``GROUND_GROUP``, ceilings in ``OVERHEAD_GROUP``. The heightfield's data is the heights normalized
    to [0, 1]: the geom sits at the lowest height and its elevation is the height range.

    Args:
        terrain: from :func:`build_terrain`.
        mjspec: the model to edit (e.g. from ``robots.loader.build_mjspec``).
        name: name of the heightfield asset and geom; boxes are ``{name}_box{k}``.
        replace_floor: delete the world's plane geoms first (a plane at z = 0 would fill every pit).
    """
    if replace_floor:
        for geom in list(mjspec.worldbody.geoms):
            if geom.type == mujoco.mjtGeom.mjGEOM_PLANE:
                log.info("terrain replaces the floor plane %r", geom.name)
                mjspec.delete(geom)
    low, elevation, blob = terrain.hfield_file
    rows, cols = terrain.heights.shape
    hs = terrain.cfg.horizontal_scale
    x_min, x_max, y_min, y_max = terrain.extent
    # the heights reach the compiler as an in-memory file: the same model as ``userdata`` (MuJoCo's normalization
    # of file data leaves values spanning exactly [0, 1] as they are), but a memory copy instead of pybind's
    # element-wise conversion (0.3 s per build of the rough grid's 3.4 M samples)
    file = f"{name}.stridelab-hfield.bin"
    mjspec.assets = {**mjspec.assets, file: blob}
    mjspec.add_hfield(name=name, file=file,
                      size=[(cols - 1) * hs / 2, (rows - 1) * hs / 2, max(elevation, 1e-6), HFIELD_BASE])
    geom = mjspec.worldbody.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_HFIELD, hfieldname=name,
                                     pos=[(x_min + x_max) / 2, (y_min + y_max) / 2, low], contype=1,
                                     conaffinity=1, group=GROUND_GROUP)
    if any(m.name == "sl_grid" for m in mjspec.materials):
        geom.material = "sl_grid"  # the loader's 0.5 m checker, for judging speed in videos
    else:
        geom.rgba = [0.45, 0.5, 0.55, 1.0]
    for k, box in enumerate(terrain.boxes):
        mjspec.worldbody.add_geom(name=f"{name}_box{k}", type=mujoco.mjtGeom.mjGEOM_BOX, pos=list(box.pos),
                                  size=list(box.size), contype=1, conaffinity=1,
                                  group=OVERHEAD_GROUP if box.overhead else GROUND_GROUP,
                                  rgba=[0.6, 0.45, 0.3, 0.6] if box.overhead else [0.55, 0.5, 0.4, 1.0])
