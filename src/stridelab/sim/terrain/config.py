"""Terrain configuration: the grid of tiles, its sampling, and each terrain type's figures.

Every per-type figure named ``*: Range`` below is a pair ``(at level 0, at level 1)``, interpolated
linearly in the tile's difficulty level; a pair may decrease (smaller stones are harder).

Sources of the default figures:

* [LG] legged_gym ``legged_gym/utils/terrain.py`` and ``LeggedRobotCfg.terrain`` (Rudin et al. 2021):
  a 10 x 20 grid of 8 m tiles, 0.005 m vertical scale, proportions [0.1 smooth slope, 0.1 rough slope,
  0.35 stairs up, 0.25 stairs down, 0.2 discrete obstacles], slope ``0.4 * difficulty``, step height
  ``0.05 + 0.18 * difficulty`` with 0.31 m treads, obstacles ``0.05 + 0.2 * difficulty`` high and 1-2 m
  wide (20 per tile), stepping stones ``1.5 * (1.05 - difficulty)`` m apart by 0.05-0.1 m, gaps
  ``1.0 * difficulty`` m, rough noise +-0.05 m on a 0.2 m grid, 3 m spawn platforms, 25 m border.
* [ETG] ETG-RL's obstacle courses (Shen et al. 2022; its A1 environment in PaddlePaddle's RLSchool /
  MetaGym ``quadrupedal``): 13 cm stairs (``highstair``), 0.5 m gaps (``gallop``), a balance beam, and a
  cave with a low ceiling. ``sim/terrain/courses.py`` lists every course figure and where it comes from.
* [Q] the built-in quadruped (``robots/assets/quadruped.xml``): trunk top 0.39 m above the ground
  when standing (base 0.33 m + half height 0.057 m); the issue caps its risers at 0.20 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from stridelab.errors import ConfigError, unknown_name

Range = tuple[float, float]

#: Every terrain type, in the order of :data:`stridelab.sim.terrain.generators.GENERATORS`.
TERRAIN_TYPES = ("flat", "rough", "slope_up", "slope_down", "stairs_up", "stairs_down", "obstacles", "gaps",
                 "stepping_stones", "beam", "cave")

#: ETG-RL's named obstacle courses (:mod:`stridelab.sim.terrain.courses` builds them), in task order.
COURSES = ("stairstair", "stairslope", "slopestair", "slopeslope", "highstair", "gallop", "cave", "balancebeam")

#: Most heightfield samples allowed (float32: 4 bytes each in the model).
MAX_SAMPLES = 50_000_000


def _legged_gym_proportions() -> dict[str, float]:
    # [LG] terrain_proportions; its "smooth slope" share is split half up, half down as legged_gym does,
    # and its "rough slope" becomes our rough ground.
    return {"slope_up": 0.05, "slope_down": 0.05, "rough": 0.1, "stairs_up": 0.35, "stairs_down": 0.25,
            "obstacles": 0.2}


@dataclass(frozen=True)
class TerrainConfig:
    """A grid of ``num_rows`` difficulty levels (along x) by ``num_cols`` terrain columns (along y).

    Tile ``(row i, col j)`` covers ``x in [i, i+1] * tile_size``, ``y in [j, j+1] * tile_size`` [m]; a
    flat border of ``border`` m surrounds the grid. Row ``i`` has level
    ``levels[0] + (levels[1] - levels[0]) * i / (num_rows - 1)``; columns get types in blocks whose
    sizes follow ``types`` (name -> proportion, in column order).

    Attributes:
        num_rows, num_cols: grid size [LG: 10 x 20].
        tile_size: side of a square tile [m] [LG: 8]; a multiple of ``horizontal_scale``.
        horizontal_scale: spacing of heightfield samples [m] (LG used 0.1; 0.05 resolves 0.3 m treads
            into 6 samples and 5 cm features).
        vertical_scale: heights are rounded to multiples of this [m] [LG: 0.005].
        border: flat ground around the grid [m] (LG: 25 m; at 0.05 m sampling that costs 4 M samples).
        seed: tile ``(i, j)`` draws from ``numpy.random.default_rng([seed, i, j])``.
        types: proportion of columns per terrain type (see :data:`TERRAIN_TYPES`); zero drops a type.
        levels: difficulty of the first and last row, in [0, 1].
        platform_size: side of the flat square at each tile centre where robots spawn [m] [LG: 3].
        rim_width: flat ground kept at the tile edge around the beam's pit [m].
        pit_depth: depth of gaps, of the pit under stepping stones and beams [m].
        pit_depth_easy: depth of a course's gaps and beam pit at level 0 [m], ramping linearly to ``pit_depth``
            at the last level (None: ``pit_depth`` at every level). Gallop's and balancebeam's curricula start
            0.05 m deep: the rough teacher never saw a deep pit and stops at one's edge (docs/terrain.md, "Recipes").
        rough_amplitude: rough ground heights are uniform in ``[-a, a]`` [m] (LG: 0.05 at every level).
        rough_cell: spacing of the random rough heights, interpolated bilinearly in between [m] [LG: 0.2].
        slope_deg: slope angle of the pyramids [deg] (LG: gradient 0.4 * difficulty; atan 0.4 = 21.8 deg).
        step_height: stair riser [m] (LG: 0.05 + 0.18 difficulty; ETG highstair 0.13; [Q] at most 0.20).
        step_width: stair tread [m], rounded to samples [LG: 0.31].
        obstacle_height: largest obstacle height (each is +-h or +-h/2) [m] [LG: 0.05 + 0.2 difficulty].
        obstacle_size: (min, max) side of an obstacle, drawn uniformly [m] [LG: 1-2].
        obstacle_count: obstacles per tile [LG: 20].
        gap_width: width of the pit ring around the platform [m] (LG: 1.0 difficulty; ETG gallop 0.5).
        stone_size: side of a square stepping stone [m] (LG: 1.5 (1.05 - difficulty), 1.58 to 0.23).
        stone_gap: space between stones [m] (LG: 0.05 to 0.1).
        stone_height: stone tops are uniform in ``[-h, h]`` [m] (LG: 0).
        beam_width: width of the four beams crossing the pit [m] (ETG: 0.05).
        ceiling_clearance: free height under the cave's ceiling [m] ([Q] 0.50 clears the standing trunk
            by 11 cm; 0.30 makes it crouch by 9 cm).
        ceiling_thickness: of the ceiling slabs [m].
        course: one of :data:`COURSES` to build an obstacle course instead of the grid (``""``: the grid).
            A course has ``num_rows`` levels (row ``i`` at ``row_levels()[i]``; ``num_rows`` 1: one fixed level,
            the figures read at ``levels[0]``) of ``num_cols`` parallel lanes each, every lane ``tile_size`` wide
            along y and running along +x; the levels' lanes lie side by side, level 0's first (see
            :mod:`stridelab.sim.terrain.courses`; ``course_levels`` moves envs between levels by success).
        course_length: length of a course's obstacle section along x [m]; flights, cycles and gaps repeat
            to fill it (about 8-10 m: the distance a robot walks in a 20 s episode at 0.5 m/s).
    """

    num_rows: int = 10
    num_cols: int = 20
    tile_size: float = 8.0
    horizontal_scale: float = 0.05
    vertical_scale: float = 0.005
    border: float = 5.0
    seed: int = 0
    types: dict[str, float] = field(default_factory=_legged_gym_proportions)
    levels: Range = (0.0, 1.0)
    platform_size: float = 3.0
    rim_width: float = 0.5
    pit_depth: float = 1.0
    pit_depth_easy: float | None = None
    rough_amplitude: Range = (0.01, 0.05)
    rough_cell: float = 0.2
    slope_deg: Range = (0.0, 21.8)
    step_height: Range = (0.05, 0.20)
    step_width: float = 0.30
    obstacle_height: Range = (0.05, 0.25)
    obstacle_size: Range = (1.0, 2.0)
    obstacle_count: int = 20
    gap_width: Range = (0.10, 0.50)
    stone_size: Range = (1.20, 0.30)
    stone_gap: Range = (0.05, 0.20)
    stone_height: Range = (0.0, 0.05)
    beam_width: Range = (0.30, 0.05)
    ceiling_clearance: Range = (0.50, 0.30)
    ceiling_thickness: float = 0.10
    course: str = ""
    course_length: float = 8.0

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def tile_samples(self) -> int:
        """Heightfield samples along a tile's side."""
        return round(self.tile_size / self.horizontal_scale)

    @property
    def border_samples(self) -> int:
        """Heightfield samples across the border."""
        return round(self.border / self.horizontal_scale)

    def row_levels(self) -> list[float]:
        """Difficulty level of each row, in [0, 1], non-decreasing."""
        lo, hi = self.levels
        if self.num_rows == 1:
            return [float(lo)]
        return [lo + (hi - lo) * i / (self.num_rows - 1) for i in range(self.num_rows)]

    def column_types(self) -> list[str]:
        """Terrain type of each column: contiguous blocks in ``types`` order, sized by proportion."""
        names = [n for n, p in self.types.items() if p > 0]
        cum, total = [], 0.0
        for name in names:
            total += self.types[name]
            cum.append(total)
        out = []
        for j in range(self.num_cols):
            q = (j + 0.5) / self.num_cols * total
            out.append(names[min(sum(c <= q for c in cum), len(names) - 1)])
        return out


def lerp(pair: Range, level: float) -> float:
    """The value of an ``(at level 0, at level 1)`` pair at ``level``."""
    return float(pair[0] + (pair[1] - pair[0]) * level)


def _fail(name: str, value: object, fix: str) -> None:
    raise ConfigError(f"terrain.{name} = {value!r} is out of range; {fix}.")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _multiple(value: float, step: float) -> bool:
    return abs(value / step - round(value / step)) < 1e-6


def _validate(c: TerrainConfig) -> None:
    for name in ("num_rows", "num_cols"):
        v = getattr(c, name)
        if not _is_int(v) or not 1 <= v <= 1000:
            _fail(name, v, "give a whole number of tiles from 1 to 1000")
    if not _is_int(c.seed) or c.seed < 0:
        _fail("seed", c.seed, "give a whole number >= 0")
    for name in ("tile_size", "horizontal_scale", "vertical_scale", "pit_depth", "ceiling_thickness",
                 "step_width", "rough_cell", "platform_size"):
        v = getattr(c, name)
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            _fail(name, v, "it must be a number > 0 (metres)")
    for name in ("border", "rim_width"):
        v = getattr(c, name)
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            _fail(name, v, "it must be a number >= 0 (metres)")
    hs = c.horizontal_scale
    for name in ("tile_size", "border"):
        v = getattr(c, name)
        if not _multiple(v, hs):
            raise ConfigError(f"terrain.{name} = {v!r} is not a multiple of horizontal_scale = {hs!r}; round it to "
                              f"one, such as {round(v / hs) * hs:g}.")
    if c.tile_size / hs < 8:
        _fail("tile_size", c.tile_size, f"give at least 8 samples per tile ({8 * hs:g} m at this horizontal_scale)")
    if not isinstance(c.course, str) or (c.course and c.course not in COURSES):
        raise ConfigError(unknown_name("course", str(c.course), COURSES, "terrain.course").replace(
            "valid names are", "give '' for the terrain grid or a course; valid names are"))
    if c.course:
        _validate_course(c)
        return
    if c.platform_size + 2 * c.rim_width >= c.tile_size:
        _fail("platform_size", c.platform_size, f"platform_size + 2 rim_width must be < tile_size = {c.tile_size:g}")
    for name in ("step_width", "rough_cell"):
        if getattr(c, name) < hs:
            _fail(name, getattr(c, name), f"it must be at least horizontal_scale = {hs:g}")
    if not isinstance(c.types, dict) or not c.types:
        raise ConfigError(f"terrain.types = {c.types!r} is empty; give proportions by type name, such as "
                          f"{{'flat': 0.5, 'stairs_up': 0.5}}, from: {', '.join(TERRAIN_TYPES)}.")
    for name, p in c.types.items():
        if name not in TERRAIN_TYPES:
            raise ConfigError(unknown_name("terrain type", name, TERRAIN_TYPES, "terrain.types"))
        if not isinstance(p, (int, float)) or not math.isfinite(p) or p < 0:
            _fail(f"types.{name}", p, "give a proportion >= 0")
    if sum(c.types.values()) <= 0:
        _fail("types", c.types, "give at least one type a proportion > 0")
    pairs = ("levels", "rough_amplitude", "slope_deg", "step_height", "obstacle_height", "obstacle_size",
             "gap_width", "stone_size", "stone_gap", "stone_height", "beam_width", "ceiling_clearance")
    _check_pairs(c, pairs)
    if max(c.slope_deg) >= 80:
        _fail("slope_deg", c.slope_deg, "keep slopes below 80 degrees")
    if c.obstacle_size[0] > c.obstacle_size[1] or c.obstacle_size[0] < hs:
        _fail("obstacle_size", c.obstacle_size, f"give (min, max) with horizontal_scale = {hs:g} <= min <= max")
    if not _is_int(c.obstacle_count) or c.obstacle_count < 0:
        _fail("obstacle_count", c.obstacle_count, "give a whole number >= 0")
    for name in ("stone_size", "beam_width", "ceiling_clearance"):
        if min(getattr(c, name)) <= 0:
            _fail(name, getattr(c, name), "both values must be > 0")
    samples = (c.num_rows * c.tile_samples + 2 * c.border_samples) * (c.num_cols * c.tile_samples
                                                                      + 2 * c.border_samples)
    if samples > MAX_SAMPLES:
        _fail("horizontal_scale", hs, f"the grid would need {samples:,} samples (at most {MAX_SAMPLES:,}); raise "
              f"it or use fewer or smaller tiles")


def _check_pairs(c: TerrainConfig, names: tuple[str, ...]) -> None:
    """Each named figure is a (level 0, level 1) pair of finite numbers >= 0; ``levels`` lies within [0, 1]."""
    for name in names:
        v = getattr(c, name)
        if (not isinstance(v, (tuple, list)) or len(v) != 2
                or not all(isinstance(x, (int, float)) and math.isfinite(x) and x >= 0 for x in v)):
            _fail(name, v, "give a pair of numbers >= 0: (at level 0, at level 1)")
    if not 0 <= c.levels[0] <= c.levels[1] <= 1:
        _fail("levels", c.levels, "give (first row, last row) with 0 <= first <= last <= 1")


def _validate_course(c: TerrainConfig) -> None:
    """The checks of a course: its levels, a length, and a heightfield within :data:`MAX_SAMPLES`."""
    if not isinstance(c.num_rows, int) or not 1 <= c.num_rows <= 20:
        _fail("num_rows", c.num_rows, f"course {c.course!r} has num_rows levels of num_cols lanes each: give 1 (the "
              f"course's own figure) to 20")
    if (not isinstance(c.course_length, (int, float)) or not math.isfinite(c.course_length)
            or not 1.0 <= c.course_length <= 200.0):
        _fail("course_length", c.course_length, "give the obstacle section's length from 1 to 200 metres")
    e = c.pit_depth_easy
    if e is not None and (not isinstance(e, (int, float)) or not math.isfinite(e) or not 0 < e <= c.pit_depth):
        _fail("pit_depth_easy", e, f"give a depth > 0 and <= pit_depth = {c.pit_depth:g} m, or None for pit_depth "
              f"at every level")
    for name in ("step_width", "rough_cell"):
        if getattr(c, name) < c.horizontal_scale:
            _fail(name, getattr(c, name), f"it must be at least horizontal_scale = {c.horizontal_scale:g}")
    pairs = ("levels", "step_height", "slope_deg", "gap_width", "beam_width", "ceiling_clearance", "rough_amplitude")
    _check_pairs(c, pairs)
    for level in (c.levels[0], c.levels[1]) if c.num_rows > 1 else (c.levels[0],):  # the figures at each end
        if "slope" in c.course and not 0 < lerp(c.slope_deg, level) < 60:
            _fail("slope_deg", c.slope_deg, f"course {c.course!r} needs a slope between 0 and 60 degrees")
        if "stair" in c.course and lerp(c.step_height, level) < c.vertical_scale:
            _fail("step_height", c.step_height, f"course {c.course!r} needs risers of at least vertical_scale = "
                  f"{c.vertical_scale:g} m")
        used = {"gallop": "gap_width", "balancebeam": "beam_width", "cave": "ceiling_clearance"}.get(c.course)
        if used and lerp(getattr(c, used), level) < c.horizontal_scale / 2:
            _fail(used, getattr(c, used), f"it must be at least half a sample ({c.horizontal_scale / 2:g} m)")
    samples = (c.num_rows * c.num_cols * c.tile_samples + 2 * c.border_samples) * (round((c.course_length + 10.0)
                                                                            / c.horizontal_scale)
                                                                      + 2 * c.border_samples)
    if samples > MAX_SAMPLES:
        _fail("horizontal_scale", c.horizontal_scale, f"the course would need about {samples:,} samples (at most "
              f"{MAX_SAMPLES:,}); raise it or use fewer lanes or a shorter course")
