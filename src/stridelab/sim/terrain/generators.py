"""Terrain tile generators: pure numpy functions of the difficulty level.

Each generator is ``gen(level, rng, cfg) -> (heights, boxes)``:

* ``level``: difficulty in [0, 1]; every figure rises (or, for sizes, shrinks) with it;
* ``rng``: a ``numpy.random.Generator``, the only source of randomness;
* ``cfg``: the :class:`TerrainConfig`;
* ``heights``: ground height [m], shape ``(n, n)`` with ``n = cfg.tile_samples``, indexed ``[iy, ix]``;
  sample ``k`` sits at the tile-local coordinate ``(k + 0.5) * horizontal_scale - tile_size / 2``, so
  the samples are symmetric about the tile centre (0, 0); heights are about 0 at the tile edge so that
  neighbouring tiles meet;
* ``boxes``: box geoms in tile-local coordinates (z = 0 is the edge height), for what a heightfield
  cannot express: the beam (thin walls rising out of a pit, so the top is exactly ``beam_width`` wide)
  and the cave's ceiling (an overhang). The other generators return no boxes.

"Up"/"down" types are seen from the spawn point at the tile centre: on ``stairs_up`` a robot leaving
the centre climbs (an inverted pyramid, legged_gym's negative step height); on ``stairs_down`` it
descends from a pyramid's top platform. Heights are rounded to ``vertical_scale`` by the grid builder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stridelab.sim.terrain.config import TerrainConfig, lerp


@dataclass(frozen=True)
class Box:
    """An axis-aligned box geom.

    Attributes:
        pos: centre (x, y, z) [m].
        size: half-sizes (x, y, z) [m], as MuJoCo's box ``size``.
        overhead: True for a ceiling (not ground: the robot passes under it).
    """

    pos: tuple[float, float, float]
    size: tuple[float, float, float]
    overhead: bool = False

    @property
    def top(self) -> float:
        """Height of the top face [m]."""
        return self.pos[2] + self.size[2]

    @property
    def bottom(self) -> float:
        """Height of the bottom face [m]."""
        return self.pos[2] - self.size[2]

    def shifted(self, dx: float, dy: float, dz: float = 0.0) -> Box:
        """The same box moved by (dx, dy, dz) [m]."""
        return Box((self.pos[0] + dx, self.pos[1] + dy, self.pos[2] + dz), self.size, self.overhead)

    def covers(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether points (x, y) [m] lie in the box's footprint (edges included). Shape: broadcast of x, y."""
        return (np.abs(x - self.pos[0]) <= self.size[0]) & (np.abs(y - self.pos[1]) <= self.size[1])


TileGeometry = tuple[np.ndarray, list[Box]]
Generator = Callable[[float, np.random.Generator, TerrainConfig], TileGeometry]


def sample_coords(cfg: TerrainConfig) -> np.ndarray:
    """Tile-local coordinate of each sample along a side [m]. Shape: (n,)."""
    n = cfg.tile_samples
    return (np.arange(n) + 0.5) * cfg.horizontal_scale - cfg.tile_size / 2


def _grid(cfg: TerrainConfig) -> tuple[np.ndarray, np.ndarray]:
    u = sample_coords(cfg)
    return np.meshgrid(u, u)  # X, Y, each (n, n), indexed [iy, ix]


def _chebyshev(cfg: TerrainConfig) -> np.ndarray:
    """max(|x|, |y|) of each sample [m]: the square 'radius' around the tile centre. Shape: (n, n)."""
    x, y = _grid(cfg)
    return np.maximum(np.abs(x), np.abs(y))


def _snap(value: float, step: float, minimum: int = 1) -> float:
    """``value`` rounded to a whole number (at least ``minimum``) of ``step``."""
    return max(minimum, round(value / step)) * step


def platform_half(cfg: TerrainConfig) -> float:
    """Half the side of the central platform, rounded to samples [m]."""
    return _snap(cfg.platform_size / 2, cfg.horizontal_scale)


def flat(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """Flat ground at height 0."""
    n = cfg.tile_samples
    return np.zeros((n, n)), []


def rough(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """Random rough ground: heights uniform in [-a, a] on a ``rough_cell`` grid, bilinear in between.

    ``a = rough_amplitude`` at ``level`` (rounded to ``vertical_scale``); every height lies in [-a, a].
    """
    a = _snap(lerp(cfg.rough_amplitude, level), cfg.vertical_scale, minimum=0)
    m = max(2, round(cfg.tile_size / cfg.rough_cell) + 1)
    coarse_u = np.linspace(-cfg.tile_size / 2, cfg.tile_size / 2, m)
    coarse = rng.uniform(-a, a, size=(m, m))
    # separable bilinear interpolation: weights (n, m) along each axis
    weights = np.stack([np.interp(sample_coords(cfg), coarse_u, e) for e in np.eye(m)], axis=1)
    return weights @ coarse @ weights.T, []


def _pyramid(level: float, cfg: TerrainConfig, sign: float) -> TileGeometry:
    grad = np.tan(np.deg2rad(lerp(cfg.slope_deg, level)))
    run = cfg.tile_size / 2 - platform_half(cfg)
    inward = cfg.tile_size / 2 - _chebyshev(cfg)  # distance from the tile edge [m]
    return sign * grad * np.minimum(inward, run), []


def slope_up(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """Inverted pyramid: a sunken platform, smooth slopes of ``slope_deg`` rising to the tile edge."""
    return _pyramid(level, cfg, -1.0)


def slope_down(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """Pyramid: a raised platform, smooth slopes of ``slope_deg`` falling to the tile edge."""
    return _pyramid(level, cfg, 1.0)


def stair_figures(level: float, cfg: TerrainConfig) -> tuple[float, float, int]:
    """(riser [m], tread [m], number of risers) of the stairs at ``level``, after rounding to samples."""
    rise = _snap(lerp(cfg.step_height, level), cfg.vertical_scale, minimum=0)
    tread = _snap(cfg.step_width, cfg.horizontal_scale)
    steps = int(np.floor((cfg.tile_size / 2 - platform_half(cfg)) / tread + 1e-9))
    return rise, tread, steps


def _stairs(level: float, cfg: TerrainConfig, sign: float) -> TileGeometry:
    rise, tread, steps = stair_figures(level, cfg)
    inward = cfg.tile_size / 2 - _chebyshev(cfg)
    # samples sit half a spacing off any tread edge, so floor() never sees an exact integer
    step_index = np.minimum(np.floor(inward / tread), steps)
    return sign * rise * step_index, []


def stairs_up(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """Inverted pyramid stairs: risers of ``step_height``, treads of ``step_width``, climbing outward."""
    return _stairs(level, cfg, -1.0)


def stairs_down(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """Pyramid stairs: risers of ``step_height``, treads of ``step_width``, descending outward."""
    return _stairs(level, cfg, 1.0)


def obstacles(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """``obstacle_count`` random rectangular blocks and holes of height +-h or +-h/2 (``h = obstacle_height``),
    sides uniform in ``obstacle_size``, anywhere but on the central platform."""
    h = lerp(cfg.obstacle_height, level)
    x, y = _grid(cfg)
    heights = np.zeros_like(x)
    half = cfg.tile_size / 2
    for _ in range(cfg.obstacle_count):
        sx, sy = rng.uniform(*cfg.obstacle_size, size=2) / 2
        cx, cy = rng.uniform(-half, half, size=2)
        heights[(np.abs(x - cx) <= sx) & (np.abs(y - cy) <= sy)] = rng.choice([-1.0, -0.5, 0.5, 1.0]) * h
    heights[_chebyshev(cfg) <= platform_half(cfg)] = 0.0
    return heights, []


def gap_width(level: float, cfg: TerrainConfig) -> float:
    """Width of the gap ring at ``level``, rounded to samples [m]."""
    return _snap(lerp(cfg.gap_width, level), cfg.horizontal_scale)


def gaps(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """A square pit ring ``gap_width`` wide and ``pit_depth`` deep around the central platform.

    The width counts the samples in the pit: on MuJoCo's heightfield the rims slope over one sample
    spacing, so the opening is ``gap_width`` wide at half depth (one spacing wider at the top).
    """
    r, p = _chebyshev(cfg), platform_half(cfg)
    return np.where((r > p) & (r < p + gap_width(level, cfg)), -cfg.pit_depth, 0.0), []


def stepping_stones(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """Square stones of ``stone_size`` separated by ``stone_gap`` over a ``pit_depth`` pit, in rows along x
    with a random offset per row; tops uniform in +-``stone_height``; the central platform is solid."""
    size, gap = lerp(cfg.stone_size, level), lerp(cfg.stone_gap, level)
    jitter = lerp(cfg.stone_height, level)
    pitch = size + gap
    x, y = _grid(cfg)
    yy = y + cfg.tile_size / 2
    row = np.floor(yy / pitch).astype(int)
    n_rows = int(row.max()) + 1
    offsets = rng.uniform(0.0, pitch, size=n_rows)
    xx = x + cfg.tile_size / 2 + offsets[row]
    col = np.floor(xx / pitch).astype(int)
    tops = rng.uniform(-jitter, jitter, size=(n_rows, int(col.max()) + 1))
    on_stone = (np.mod(yy, pitch) < size) & (np.mod(xx, pitch) < size)
    heights = np.where(on_stone, tops[row, col], -cfg.pit_depth)
    heights[_chebyshev(cfg) <= platform_half(cfg)] = 0.0
    return heights, []


def beam(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """Four beams ``beam_width`` wide (along +-x and +-y) crossing a ``pit_depth`` pit from the central
    platform to a ``rim_width`` rim of ground at the tile edge.

    The pit is the heightfield; each beam is a box from the pit floor to height 0, because a
    heightfield ridge one sample wide would be a tent, not a flat 5 cm top. Boxes overlap the platform
    and the rim by one sample spacing, over the heightfield's sloped rims.
    """
    width = lerp(cfg.beam_width, level)
    p, hs, depth = platform_half(cfg), cfg.horizontal_scale, cfg.pit_depth
    outer = cfg.tile_size / 2 - _snap(cfg.rim_width, hs, minimum=0)
    r = _chebyshev(cfg)
    heights = np.where((r > p) & (r < outer), -depth, 0.0)
    a, b = p - hs, outer + hs
    mid, half_len = (a + b) / 2, (b - a) / 2
    boxes = [Box((sx * mid, 0.0, -depth / 2), (half_len, width / 2, depth / 2)) for sx in (1, -1)]
    boxes += [Box((0.0, sy * mid, -depth / 2), (width / 2, half_len, depth / 2)) for sy in (1, -1)]
    return heights, boxes


def cave(level: float, rng: np.random.Generator, cfg: TerrainConfig) -> TileGeometry:
    """Flat ground under a ceiling ``ceiling_clearance`` above it, covering all but the central platform
    (which stays open so that robots spawn standing). The ceiling is four slabs ``ceiling_thickness``
    thick: two spanning the tile along x beyond the platform in y, two beside the platform."""
    n, half = cfg.tile_samples, cfg.tile_size / 2
    p, clear, t = platform_half(cfg), lerp(cfg.ceiling_clearance, level), cfg.ceiling_thickness
    z, hz = clear + t / 2, t / 2
    band = (half - p) / 2  # half-width of the slabs
    mid = p + band
    boxes = [Box((0.0, s * mid, z), (half, band, hz), overhead=True) for s in (1, -1)]
    boxes += [Box((s * mid, 0.0, z), (band, p, hz), overhead=True) for s in (1, -1)]
    return np.zeros((n, n)), boxes


#: Generator of each terrain type, by name.
GENERATORS: dict[str, Generator] = {
    "flat": flat, "rough": rough, "slope_up": slope_up, "slope_down": slope_down, "stairs_up": stairs_up,
    "stairs_down": stairs_down, "obstacles": obstacles, "gaps": gaps, "stepping_stones": stepping_stones,
    "beam": beam, "cave": cave,
}
