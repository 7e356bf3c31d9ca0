"""ETG-RL's obstacle courses: straight tracks along +x, laid out as parallel lanes of one heightfield.

    cfg = course_config("stairstair")       # a TerrainConfig with ETG-RL's figures
    terrain = build_terrain(cfg)            # dispatches here: a CourseTerrain (a Terrain plus its Course)
    terrain.course.finish_x                 # where a robot has completed the course [m]

A course is a list of segments laid end to end along +x. It comes in ``num_rows`` levels (row ``i`` at
difficulty ``cfg.row_levels()[i]``: gap width, beam width, riser height, slope and ceiling clearance read
from their ``(easy, course figure)`` pairs), each of ``num_cols`` lanes ``tile_size`` wide along y. The lanes
lie side by side, level by level: lane ``j`` of level ``i`` covers ``y in [k, k+1] * tile_size`` with
``k = i * num_cols + j``. The lanes of a level hold the same course and differ only by their ground noise,
drawn from ``numpy.random.default_rng([seed, i, j])`` (off by default: ETG-RL's courses are exact). With
``num_rows`` 1 the course is one fixed level, ETG-RL's; the curriculum term
:class:`stridelab.mdp.curriculum.course_levels` moves envs between levels by success. Along x (world =
lane-local):

    0 ........ spawn (1 m) ....... first obstacle (2 m) ...... last obstacle (x_end) ..... finish line
    (x_end + 0.5 m, the whole body past the last obstacle) ..... end of the lane (x_end + 2 m)

The border (``border`` m around the lanes) continues the course's profile sideways, and its start and end
heights along x, so that no cliff bounds a lane. What a heightfield cannot express is a box: the balance
beam (a box from the pit floor to the ground level, exactly ``beam_width`` wide) and the cave's ceiling
(one overhead slab across all lanes).

Figures ([ETG]: ETG-RL's A1 environment, PaddlePaddle RLSchool / MetaGym ``quadrupedal``,
``envs/utilities/terrain.py`` and ``envs/locomotion_gym_env.py``; its README lists the nine tasks):

* stairs: 8 cm risers, 25 cm treads [ETG README: "stair height is 8 cm and width is 25 cm"], five risers
  per flight [ETG: ``STEP_PER_NUM = 5``];
* slopes: 0.34 rad = 19.5 deg [ETG: ``upslope``/``downslope`` vectors; README "around 20 degree"]; ETG
  runs each slope 1 m (0.35 m high against a flight's 0.40 m); ours climbs exactly one flight's height,
  over 1.15 m, so that every cycle returns to the start height;
* a cycle is up, landing, down, 1 m of flat ground [ETG: ``plane`` after each pair]; landings [ETG
  ``subplane``]: 0.5 m after an up-slope, 0.2 m between up-stairs and a down-slope, none between two
  flights (the top is then two treads long);
* highstair: one flight up of 13 cm risers on 40 cm treads [ETG: ``stair-fix``, 0.13 / 0.4, 40 risers];
* gallop: 0.5 m gaps between 0.5 m strips of ground [ETG: ``gallop``, ``stepwidth=0.5``, ``cliff_len``];
* balancebeam: 6 m long [ETG: ``stepheight=6``]. ETG-RL's box has a half-width of 0.05 m, a 10 cm beam
  (its README says 10 cm); issue #9 asks for 5 cm, which is our default (``beam_width``);
* cave: a ceiling 0.18 m above the ground [ETG: ``stepheight=0.18``; README "caves with height of 18 cm"]
  over the whole section (ETG: 20 m long, a 0.5 m wide tunnel; we leave out its side walls).

ETG-RL spawns 0.2-0.5 m before the first obstacle; we leave a 1 m run-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from stridelab.sim.terrain.config import COURSES, TerrainConfig, lerp
from stridelab.sim.terrain.generators import Box
from stridelab.sim.terrain.grid import SPAWN_HALF_WIDTH, Terrain, TerrainTile

SPAWN_X = 1.0  #: spawn point's distance from the lane's start [m]
FIRST_X = 2.0  #: where the first obstacle begins [m]
FINISH_MARGIN = 0.5  #: the finish line lies this far past the last obstacle [m] (the robot is ~0.5 m long)
FINISH_GROUND = 2.0  #: flat ground after the last obstacle, to the end of the lane [m]
FLIGHT = 5  #: risers per flight [ETG STEP_PER_NUM]
PLANE = 1.0  #: flat ground closing each cycle [m] [ETG plane]
GALLOP_LAND = 0.5  #: ground between two gaps [m] [ETG cliff_len]
#: flat landing between the up and the down part of a cycle [m] [ETG subplane calls]
LANDINGS = {("stairs_up", "stairs_down"): 0.0, ("stairs_up", "slope_down"): 0.2, ("slope_up", "stairs_down"): 0.5,
            ("slope_up", "slope_down"): 0.5}
#: the up and down parts of the cycle courses
CYCLES = {"stairstair": ("stairs_up", "stairs_down"), "stairslope": ("stairs_up", "slope_down"),
          "slopestair": ("slope_up", "stairs_down"), "slopeslope": ("slope_up", "slope_down")}
#: ETG-RL's figure of each course (see the module docstring), as TerrainConfig fields
ETG_FIGURES: dict[str, dict[str, float]] = {
    "stairstair": {}, "stairslope": {}, "slopestair": {}, "slopeslope": {},
    "highstair": {"step_height": 0.13, "step_width": 0.40},
    "gallop": {"gap_width": 0.5},
    "cave": {"ceiling_clearance": 0.18},
    "balancebeam": {"beam_width": 0.05, "course_length": 6.0},
}
_BASE_FIGURES = {"step_height": 0.08, "step_width": 0.25, "slope_deg": 19.5, "gap_width": 0.5, "beam_width": 0.05,
                 "ceiling_clearance": 0.18}
assert tuple(ETG_FIGURES) == COURSES
#: the easiest level of each course's curriculum (the hardest is ETG-RL's figure): risers and slopes half
#: ETG-RL's, 0.10 m gaps (two samples) 0.05 m deep (:data:`EASY_PIT_DEPTH`), a 60 cm beam, and a ceiling that
#: clears the built-in quadruped's standing trunk (top 0.39 m, [Q] in ``config.py``) by 11 cm (at 0.40 m, 1 cm,
#: the trunk's contact ended most level-0 episodes and the curriculum never left level 0). The beam starts at
#: twice the quadruped's natural stance (feet 26 cm apart at the default pose, 30 cm over their outer edges):
#: a 30 cm level 0 already asked for a narrowed stance, and no env stayed above level 0.
EASY_FIGURES: dict[str, dict[str, float]] = {
    "stairstair": {"step_height": 0.04, "slope_deg": 10.0}, "stairslope": {"step_height": 0.04, "slope_deg": 10.0},
    "slopestair": {"step_height": 0.04, "slope_deg": 10.0}, "slopeslope": {"step_height": 0.04, "slope_deg": 10.0},
    "highstair": {"step_height": 0.05}, "gallop": {"gap_width": 0.10}, "cave": {"ceiling_clearance": 0.50},
    "balancebeam": {"beam_width": 0.60},
}
assert tuple(EASY_FIGURES) == COURSES
#: the gap depth of a curriculum's level 0 [m] (``pit_depth_easy``; ramping to ``pit_depth`` at the last level):
#: the rough teacher, which never saw a deep pit, stopped at the edge of a 1 m deep 10 cm gap
#: and the beam's pit 0.05 m deep at level 0, so that a foot beside the beam is caught by ``feet_below_deck``
#: instead of the rough teacher refusing the pit's edge (it stopped before a 1 m pit even beside a 30 cm beam)
EASY_PIT_DEPTH = {"gallop": 0.05, "balancebeam": 0.05}


def course_config(name: str, lanes: int = 4, lane_width: float = 2.0, levels: int = 1, **fields) -> TerrainConfig:
    """The TerrainConfig of course ``name``: ``levels`` levels of ``lanes`` lanes ``lane_width`` m wide.

    With ``levels`` 1, the course is ETG-RL's figures only; with more, level 0 has :data:`EASY_FIGURES` and the
    last level ETG-RL's, linear in between (the ``(easy, figure)`` pairs of the config). ``fields`` replace any
    TerrainConfig field (a scalar for a figure sets both ends, e.g. ``beam_width=0.1``).
    """
    figures = {"border": 3.0, "rough_amplitude": 0.0, **_BASE_FIGURES, **ETG_FIGURES.get(name, {})}
    pairs = {k: (EASY_FIGURES.get(name, {}).get(k, v) if levels > 1 else v, v) for k, v in figures.items()
             if k in _PAIR_FIELDS}
    given = {k: (float(v), float(v)) if isinstance(v, (int, float)) and k in _PAIR_FIELDS else v
             for k, v in fields.items()}
    span = (0.0, 1.0) if levels > 1 else (1.0, 1.0)
    easy_depth = {"pit_depth_easy": EASY_PIT_DEPTH[name]} if levels > 1 and name in EASY_PIT_DEPTH else {}
    return TerrainConfig(**{"course": name, "num_rows": levels, "num_cols": lanes, "tile_size": lane_width,
                            "levels": span, **figures, **pairs, **easy_depth, **given})


def final_level(cfg: TerrainConfig) -> TerrainConfig:
    """A course's config at its last level only (the course's own figures, one level of ``num_cols`` lanes):
    what the course evaluation and the deployment checks run on. A one-level course is returned as it is."""
    if cfg.num_rows == 1:
        return cfg
    return replace(cfg, num_rows=1, levels=(cfg.levels[1], cfg.levels[1]))


_PAIR_FIELDS = {"step_height", "slope_deg", "gap_width", "beam_width", "ceiling_clearance", "rough_amplitude"}


@dataclass(frozen=True)
class CourseSegment:
    """One piece of a course, from ``x0`` to ``x1`` along the lane [m], ground from ``z0`` to ``z1`` [m].

    Attributes:
        kind: ``flat``, ``stairs_up``, ``stairs_down``, ``slope_up``, ``slope_down``, ``gaps``, ``beam``, ``cave``.
        label: its key figure for pictures, e.g. ``"up 5 x 8 cm"`` (risers; ``""`` for flat ground).
        riser, tread: of stairs [m]; gap, land: of gaps [m]; depth: of the gaps or the beam's pit [m]; width: of
            the beam [m]; clearance: free height under the cave's ceiling [m].
    """

    kind: str
    x0: float
    x1: float
    z0: float
    z1: float
    label: str = ""
    riser: float = 0.0
    tread: float = 0.0
    gap: float = 0.0
    land: float = 0.0
    width: float = 0.0
    clearance: float = 0.0
    depth: float = 0.0

    def ground(self, x: np.ndarray, pit_depth: float) -> np.ndarray:
        """Ground height at lane positions ``x`` inside the segment [m] (pits included). Shape: as x.

        Gaps and the beam's pit are the segment's own ``depth`` deep; ``pit_depth`` 0 bridges every pit (the
        deck), any other value keeps them."""
        u = x - self.x0
        if self.kind == "stairs_up":  # the first riser at x0, the last tread at z1
            return self.z0 + self.riser * (np.floor(u / self.tread) + 1)
        if self.kind == "stairs_down":  # the first tread at z0, the last riser at x1
            return self.z0 - self.riser * np.floor(u / self.tread)
        if self.kind in ("slope_up", "slope_down"):
            return self.z0 + (self.z1 - self.z0) * u / (self.x1 - self.x0)
        depth = self.depth if pit_depth > 0 else 0.0
        if self.kind == "gaps":  # a gap ``depth`` deep, then ground, repeated
            return np.where(np.mod(u, self.gap + self.land) < self.gap, self.z0 - depth, self.z0)
        if self.kind == "beam":  # a pit ``depth`` deep; the beam is a box
            return np.full_like(u, self.z0 - depth)
        return np.full_like(u, self.z0)


@dataclass(frozen=True)
class Course:
    """The layout of a course along its lanes (identical in every lane).

    Attributes:
        name: one of :data:`~stridelab.sim.terrain.config.COURSES`.
        segments: the obstacles in order, with the flat ground between them.
        spawn_x: where robots spawn [m]; finish_x: the finish line [m]; length: of a lane [m].
        lane_width: [m]; num_lanes: lanes of this level side by side along y; level: its difficulty in [0, 1].
    """

    name: str
    segments: tuple[CourseSegment, ...]
    spawn_x: float
    finish_x: float
    length: float
    lane_width: float
    num_lanes: int
    level: float

    @property
    def distance(self) -> float:
        """Spawn point to finish line [m]: what a robot must walk to complete the course."""
        return self.finish_x - self.spawn_x

    @property
    def end_height(self) -> float:
        """Ground height after the last obstacle [m] (the start is at 0)."""
        return self.segments[-1].z1

    def summary(self) -> str:
        """One line: the course's key figures."""
        figures = list(dict.fromkeys(s.label for s in self.segments if s.label))
        figures += list(dict.fromkeys(f"{s.tread * 100:.3g} cm treads" for s in self.segments if s.tread))
        return f"{self.name}: {', '.join(figures)}; {self.distance:.2f} m from spawn to finish line"


@dataclass(frozen=True, eq=False)
class CourseTerrain(Terrain):
    """A :class:`Terrain` whose tiles are the lanes of a course: tile ``(i, j)`` is lane ``j`` of level ``i``
    (its origin is the lane's spawn point). ``courses[i]`` is level ``i``'s layout; ``course`` is the last
    level's, the course's own figures."""

    course: Course | None = None
    courses: tuple[Course, ...] = ()

    @property
    def finish_x(self) -> np.ndarray:
        """The finish line of each level [m]. Shape: (num_rows,)."""
        return np.array([c.finish_x for c in self.courses])

    def deck(self, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The deck (:func:`course_deck`) under lane positions ``x`` of envs on levels ``rows`` [m].

        Args:
            rows: level of each point, int. Shape: (k,). x: [m]. Shape: (k,).
        Returns:
            Heights [m]. Shape: (k,).
        """
        return self._per_level(rows, x, course_deck, np.float64)

    def over_pit(self, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Whether lane positions ``x`` of envs on levels ``rows`` are over a gap or the beam's pit (the pit's
        own extent, not the heightfield's one-sample ramps at its rims). Shapes: (k,) each; returns (k,), bool."""
        return self._per_level(rows, x, lambda course, xs: course_profile(course, xs, self.cfg.pit_depth)[1], bool)

    def _per_level(self, rows: np.ndarray, x: np.ndarray, fn: Any, dtype: type) -> np.ndarray:
        """``fn(course, x)`` evaluated with each point's level's course. Shapes: (k,) each; returns (k,), ``dtype``."""
        rows, x = np.asarray(rows), np.asarray(x, dtype=np.float64)
        if len(self.courses) == 1:
            return fn(self.courses[0], x)
        out = np.empty(x.shape, dtype=dtype)
        for i in np.unique(rows):  # a loop over the few levels, not over envs
            on = rows == i
            out[on] = fn(self.courses[i], x[on])
        return out

    def tile_index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(level, lane) under points (x, y) [m]; -1 off the lanes. Shapes: broadcast of x, y."""
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        lane = np.floor(y / self.cfg.tile_size).astype(int)
        n = self.cfg.num_cols
        off = (x < 0) | (x >= self.course.length) | (lane < 0) | (lane >= self.cfg.num_rows * n)
        return np.where(off, -1, lane // n), np.where(off, -1, lane % n)


def _snap(value: float, step: float, minimum: int = 1) -> float:
    return max(minimum, round(value / step)) * step


def course_plan(cfg: TerrainConfig, level: float | None = None) -> Course:
    """Lay out ``cfg.course``'s segments from its figures at ``level`` (default: the last level,
    ``levels[1]``, the course's own figures; lengths rounded to samples, heights to ``vertical_scale``)."""
    name = cfg.course
    level = cfg.row_levels()[-1] if level is None else float(level)
    hs, vs = cfg.horizontal_scale, cfg.vertical_scale
    riser = _snap(lerp(cfg.step_height, level), vs)
    easy = cfg.pit_depth if cfg.pit_depth_easy is None else cfg.pit_depth_easy
    depth = _snap(lerp((easy, cfg.pit_depth), level), vs)  # of gaps and the beam's pit
    tread = _snap(cfg.step_width, hs)
    segments: list[CourseSegment] = []
    x, z = FIRST_X, 0.0

    def add(kind: str, length: float, dz: float, label: str = "", **figures: float) -> None:
        nonlocal x, z
        segments.append(CourseSegment(kind, x, x + length, z, z + dz, label, **figures))
        x, z = x + length, z + dz

    if name in CYCLES:
        up, down = CYCLES[name]
        rise = FLIGHT * riser
        slope_run = _snap(rise / math.tan(math.radians(lerp(cfg.slope_deg, level))), hs)
        angle = math.degrees(math.atan2(rise, slope_run))
        runs = {"stairs_up": FLIGHT * tread, "stairs_down": FLIGHT * tread, "slope_up": slope_run,
                "slope_down": slope_run}
        stairs = f"{FLIGHT} x {riser * 100:.3g} cm"
        labels = {"stairs_up": f"up {stairs}", "stairs_down": f"down {stairs}", "slope_up": f"up {angle:.1f}°",
                  "slope_down": f"down {angle:.1f}°"}
        landing = _snap(LANDINGS[(up, down)], hs, minimum=0)
        cycle = runs[up] + landing + runs[down] + PLANE
        # as many cycles as fit in course_length (the last cycle's flat is the finish ground)
        cycles = max(1, math.floor((cfg.course_length + PLANE) / cycle + 1e-9))
        for k in range(cycles):
            add(up, runs[up], rise, labels[up], riser=riser, tread=tread)
            if landing:
                add("flat", landing, 0.0)
            add(down, runs[down], -rise, labels[down], riser=riser, tread=tread)
            if k < cycles - 1:
                add("flat", PLANE, 0.0)
    elif name == "highstair":
        n = max(1, round(cfg.course_length / tread))
        add("stairs_up", n * tread, n * riser, f"up {n} x {riser * 100:.3g} cm",
            riser=riser, tread=tread)
    elif name == "gallop":
        gap, land = _snap(lerp(cfg.gap_width, level), hs), _snap(GALLOP_LAND, hs)
        n = max(1, round(cfg.course_length / (gap + land)))
        label = f"{n} gaps of {gap:.2f} m" + (f", {depth:.2f} m deep" if depth < cfg.pit_depth else "")
        add("gaps", n * (gap + land), 0.0, label, gap=gap, land=land, depth=depth)
    elif name == "balancebeam":
        width = lerp(cfg.beam_width, level)
        length = _snap(cfg.course_length, hs)
        shallow = f", {depth:.2f} m deep" if depth < cfg.pit_depth else ""
        label = f"beam {width * 100:.3g} cm wide, {length:.1f} m{shallow}"
        add("beam", length, 0.0, label, width=width, depth=depth)
    elif name == "cave":
        clearance = lerp(cfg.ceiling_clearance, level)
        add("cave", _snap(cfg.course_length, hs), 0.0, f"ceiling {clearance:.2f} m", clearance=clearance)
    else:  # TerrainConfig validates the name; this guards a course added to COURSES but not here
        raise ValueError(f"course {name!r} has no layout")
    return Course(name=name, segments=tuple(segments), spawn_x=SPAWN_X, finish_x=x + FINISH_MARGIN,
                  length=x + FINISH_GROUND, lane_width=cfg.tile_size, num_lanes=cfg.num_cols, level=float(level))


def course_profile(course: Course, x: np.ndarray, pit_depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Ground height along a lane without noise, and where it is a pit.

    Args:
        x: lane positions [m], any shape; before the lane the start height (0), after it the end height.
    Returns:
        (heights [m], pit mask), each shaped like ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    z = np.where(x < course.segments[0].x0, 0.0, course.end_height)
    for seg in course.segments:
        inside = (x >= seg.x0) & (x < seg.x1)
        z = np.where(inside, seg.ground(x, pit_depth), z)
    pit = np.zeros(x.shape, dtype=bool)
    for seg in course.segments:
        if seg.kind in ("gaps", "beam"):
            pit |= (x >= seg.x0) & (x < seg.x1) & (z < seg.z0 - seg.depth / 2)
    return z, pit


def course_deck(course: Course, x: np.ndarray) -> np.ndarray:
    """Height of the surface a robot walks on along a lane [m], without noise: the ground with every gap and
    the beam's pit bridged at its rims' height (the gallop strips' level, the beam's top). Shape: as ``x``.

    A base below the deck is in a pit: :class:`stridelab.mdp.terminations.base_below_deck` ends its episode.
    """
    return course_profile(course, x, pit_depth=0.0)[0]


def _lane_noise(rng: np.random.Generator, amplitude: float, cell: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Rough ground over a lane: uniform heights in [-a, a] on a ``cell`` grid, bilinear in between.

    Args:
        xs, ys: sample coordinates along the lane and across it [m]. Shapes: (nx,), (ny,).
    Returns:
        Heights [m]. Shape: (ny, nx).
    """
    def weights(u: np.ndarray) -> np.ndarray:  # (len(u), m): separable linear interpolation
        knots = np.linspace(u.min(), u.max(), max(2, round((u.max() - u.min()) / cell) + 1))
        return np.stack([np.interp(u, knots, e) for e in np.eye(len(knots))], axis=1)

    wx, wy = weights(xs), weights(ys)
    coarse = rng.uniform(-amplitude, amplitude, size=(wy.shape[1], wx.shape[1]))
    return wy @ coarse @ wx.T


def build_course(cfg: TerrainConfig) -> CourseTerrain:
    """Build ``cfg.course``: heights, boxes (beams, ceilings) and one tile per lane of every level.
    Deterministic in ``cfg``."""
    courses = tuple(course_plan(cfg, level) for level in cfg.row_levels())
    hs, vs, b, n_w = cfg.horizontal_scale, cfg.vertical_scale, cfg.border_samples, cfg.tile_samples
    rows, cols = cfg.num_rows, cfg.num_cols
    n_x = round(max(c.length for c in courses) / hs)
    xs = (np.arange(n_x + 2 * b) + 0.5) * hs - cfg.border
    heights = np.empty((rows * cols * n_w + 2 * b, n_x + 2 * b))
    lane_x, lane_y = xs[b:b + n_x], (np.arange(n_w) + 0.5) * hs
    for i, course in enumerate(courses):
        profile, pit = course_profile(course, xs, cfg.pit_depth)
        lo, hi = b + i * cols * n_w, b + (i + 1) * cols * n_w
        lo, hi = (0 if i == 0 else lo), (heights.shape[0] if i == rows - 1 else hi)  # the side borders continue
        heights[lo:hi] = profile
        amplitude = _snap(lerp(cfg.rough_amplitude, course.level), vs, minimum=0)
        for j in range(cols) if amplitude > 0 else ():  # lane (i, j)'s noise does not depend on the others
            noise = _lane_noise(np.random.default_rng([cfg.seed, i, j]), amplitude, cfg.rough_cell, lane_x, lane_y)
            y0 = b + (i * cols + j) * n_w
            heights[y0:y0 + n_w, b:b + n_x] += noise * ~pit[b:b + n_x]
    heights = (np.round(heights / vs) * vs).astype(np.float32)

    boxes: list[Box] = []
    level_width = cols * cfg.tile_size
    for i, course in enumerate(courses):
        for seg in course.segments:
            if seg.kind == "beam":  # from the pit floor to the ground, over the pit's sloped rims by a sample
                half = (seg.x1 - seg.x0) / 2 + hs
                boxes += [Box(((seg.x0 + seg.x1) / 2, (i * cols + j + 0.5) * cfg.tile_size,
                               seg.z0 - seg.depth / 2), (half, seg.width / 2, seg.depth / 2))
                          for j in range(cols)]
            elif seg.kind == "cave":  # one slab over the level's lanes (and the side border at either end)
                t = cfg.ceiling_thickness
                y_lo = i * level_width - (cfg.border if i == 0 else 0.0)
                y_hi = (i + 1) * level_width + (cfg.border if i == rows - 1 else 0.0)
                boxes.append(Box(((seg.x0 + seg.x1) / 2, (y_lo + y_hi) / 2, seg.z0 + seg.clearance + t / 2),
                                 ((seg.x1 - seg.x0) / 2, (y_hi - y_lo) / 2, t / 2), overhead=True))

    origins = np.zeros((rows, cols, 3))
    tiles = []
    spawn = max(1, round(SPAWN_HALF_WIDTH / hs))
    ix = b + round(SPAWN_X / hs)
    for i, course in enumerate(courses):
        for j in range(cols):
            iy = b + (i * cols + j) * n_w + n_w // 2
            z = float(heights[iy - spawn:iy + spawn, ix - spawn:ix + spawn].max())
            origins[i, j] = (course.spawn_x, (i * cols + j + 0.5) * cfg.tile_size, z)
            tiles.append(TerrainTile(i, j, course.name, course.level, tuple(origins[i, j])))
    levels = np.array([c.level for c in courses])
    for arr in (heights, origins, levels):
        arr.flags.writeable = False
    return CourseTerrain(cfg=cfg, heights=heights, boxes=tuple(boxes), tiles=tuple(tiles), origins=origins,
                         levels=levels, column_types=(courses[-1].name,) * cols, course=courses[-1], courses=courses)
