"""Terrain generator: each type's geometry, level monotonicity, determinism, lookups, MuJoCo agreement."""

from __future__ import annotations

import dataclasses
import mujoco
import numpy as np
import pytest

from stridelab.errors import ConfigError
from stridelab.robots.builtin import QUADRUPED
from stridelab.robots.loader import build_mjspec
from stridelab.sim.terrain import GENERATORS, TERRAIN_TYPES, TerrainConfig, add_to_spec, build_terrain, preview
from stridelab.sim.terrain.config import lerp
from stridelab.sim.terrain.generators import platform_half, stair_figures
from stridelab.sim.terrain.grid import GROUND_GROUP

CFG = TerrainConfig()  # default figures; 8 m tiles of 160 x 160 samples at 0.05 m
HS, VS = CFG.horizontal_scale, CFG.vertical_scale
LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


def tile(kind: str, level: float, cfg: TerrainConfig = CFG, seed: int = 0):
    """Generator output, rounded to the vertical scale as the grid builder does."""
    heights, boxes = GENERATORS[kind](level, np.random.default_rng(seed), cfg)
    assert heights.shape == (cfg.tile_samples, cfg.tile_samples)
    return np.round(heights / cfg.vertical_scale) * cfg.vertical_scale, boxes


def outward(heights: np.ndarray) -> np.ndarray:
    """Heights along +x from the tile centre to its edge (the row just above the centre line)."""
    n = heights.shape[0]
    return heights[n // 2, n // 2:]


def runs(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(height change at each step of the profile, length in samples of each flat run between them)."""
    diff = np.diff(profile)
    edges = np.flatnonzero(np.abs(diff) > 1e-9)
    return diff[edges], np.diff(edges)


# ---------------------------------------------------------------- geometry of each type


def test_flat_is_zero():
    heights, boxes = tile("flat", 1.0)
    assert not heights.any() and boxes == []


@pytest.mark.parametrize("kind,sign", [("stairs_up", 1.0), ("stairs_down", -1.0)])
@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
def test_stairs_risers_and_treads(kind, sign, level):
    rise, tread, steps = stair_figures(level, CFG)
    assert rise == pytest.approx(round(lerp(CFG.step_height, level) / VS) * VS)
    heights, _ = tile(kind, level)
    jumps, flats = runs(outward(heights))
    assert len(jumps) == steps == 8  # (4 m - 1.5 m platform half) / 0.3 m
    np.testing.assert_allclose(jumps, sign * rise, atol=1e-9)  # every riser is the configured height
    np.testing.assert_array_equal(flats, round(tread / HS))  # every inner tread is 0.30 m (6 samples)
    assert tread == pytest.approx(0.30)
    # the outermost tread is at the edge height, the platform at steps risers
    assert outward(heights)[-1] == 0.0
    assert outward(heights)[0] == pytest.approx(-sign * steps * rise)


def test_stair_riser_figures():
    assert stair_figures(1.0, CFG)[0] == pytest.approx(0.20)  # the quadruped's maximum
    etg_level = (0.13 - 0.05) / 0.15  # ETG-RL's highstair
    assert stair_figures(etg_level, CFG)[0] == pytest.approx(0.13)


@pytest.mark.parametrize("kind,sign", [("slope_up", 1.0), ("slope_down", -1.0)])
def test_slope_angle(kind, sign):
    heights, _ = GENERATORS[kind](1.0, np.random.default_rng(0), CFG)
    profile = outward(heights)
    p = round(platform_half(CFG) / HS)
    np.testing.assert_allclose(np.diff(profile[p:]) / HS, sign * np.tan(np.deg2rad(21.8)), rtol=1e-9)
    np.testing.assert_allclose(profile[:p], profile[0])  # flat platform
    assert np.degrees(np.arctan(np.abs(np.diff(profile)).max() / HS)) == pytest.approx(21.8)
    assert not GENERATORS[kind](0.0, np.random.default_rng(0), CFG)[0].any()


@pytest.mark.parametrize("level,width", [(0.0, 0.10), (0.5, 0.30), (1.0, 0.50)])
def test_gap_width(level, width):
    heights, _ = tile("gaps", level)
    profile = outward(heights)
    pit = np.flatnonzero(profile < 0)
    assert len(pit) * HS == pytest.approx(width)  # 0.5 m at level 1: ETG-RL's gallop
    assert pit[0] * HS == pytest.approx(platform_half(CFG))  # right after the platform
    np.testing.assert_allclose(profile[pit], -CFG.pit_depth)
    assert np.count_nonzero(np.diff(pit) != 1) == 0  # one contiguous ring


@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
def test_rough_amplitude_bounds(level):
    a = lerp(CFG.rough_amplitude, level)
    heights, _ = tile("rough", level)
    assert np.abs(heights).max() <= a + 1e-9
    assert np.abs(heights).max() >= 0.7 * a  # the noise spans its range
    assert abs(heights.mean()) < 0.2 * a


def test_obstacles_heights_and_platform():
    h = lerp(CFG.obstacle_height, 1.0)
    heights, _ = tile("obstacles", 1.0)
    allowed = np.round(np.array([0.0, h, -h, h / 2, -h / 2]) / VS) * VS
    assert np.isin(np.round(heights, 9), np.round(allowed, 9)).all()
    assert np.abs(heights).max() == pytest.approx(h)
    n, p = CFG.tile_samples, round(platform_half(CFG) / HS)
    assert not heights[n // 2 - p:n // 2 + p, n // 2 - p:n // 2 + p].any()


def test_stepping_stones():
    for level in (0.0, 1.0):
        heights, _ = tile("stepping_stones", level)
        jitter = lerp(CFG.stone_height, level)
        stones = heights[heights > -CFG.pit_depth]
        assert np.abs(stones).max() <= jitter + 1e-9
        # a stone along the profile beyond the platform is stone_size wide (to a sample)
        profile = outward(heights)[round(platform_half(CFG) / HS):]
        _, flats = runs(profile)
        size, gap = lerp(CFG.stone_size, level), lerp(CFG.stone_gap, level)
        inner = flats[1:-1]
        assert inner.size and np.all(np.isin(inner, [np.floor(size / HS), np.ceil(size / HS),
                                                     np.floor(gap / HS), np.ceil(gap / HS)]))


@pytest.mark.parametrize("level,width", [(0.0, 0.30), (1.0, 0.05)])
def test_beam_boxes(level, width):
    heights, boxes = tile("beam", level)
    assert len(boxes) == 4 and not any(b.overhead for b in boxes)
    for box in boxes:
        assert min(box.size[:2]) * 2 == pytest.approx(width)  # 5 cm at level 1: ETG-RL's beam
        assert box.top == pytest.approx(0.0) and box.bottom == pytest.approx(-CFG.pit_depth)
        assert max(box.size[:2]) * 2 > CFG.tile_size / 2 - platform_half(CFG) - CFG.rim_width  # crosses the pit
    profile = outward(heights)
    pit = np.flatnonzero(profile < 0)
    assert profile[pit].min() == -CFG.pit_depth
    assert (len(profile) - 1 - pit[-1]) * HS == pytest.approx(CFG.rim_width)


@pytest.mark.parametrize("level,clearance", [(0.0, 0.50), (1.0, 0.30)])
def test_cave_ceiling(level, clearance):
    heights, boxes = tile("cave", level)
    assert not heights.any()
    assert len(boxes) == 4 and all(b.overhead for b in boxes)
    for box in boxes:
        assert box.bottom == pytest.approx(clearance)
        assert box.size[2] * 2 == pytest.approx(CFG.ceiling_thickness)
    covered = lambda x, y: any(b.covers(np.array(x), np.array(y)) for b in boxes)  # noqa: E731
    assert not covered(0.0, 0.0) and not covered(1.4, 1.4)  # the spawn platform is open
    for x, y in [(2.0, 0.0), (-3.9, 3.9), (0.0, -1.6), (1.6, 0.0), (3.0, -1.0)]:
        assert covered(x, y)


# ---------------------------------------------------------------- levels, determinism, grid


def _difficulty(kind: str, level: float) -> float:
    heights, boxes = tile(kind, level)
    if kind in ("rough", "obstacles"):
        return float(np.abs(heights).max())
    if kind.startswith(("slope", "stairs")):
        return float(np.abs(np.diff(heights, axis=1)).max())
    if kind in ("gaps", "stepping_stones"):
        return float(np.mean(heights <= -CFG.pit_depth))
    if kind == "beam":
        return -min(min(b.size[:2]) for b in boxes)
    if kind == "cave":
        return -min(b.bottom for b in boxes)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [k for k in TERRAIN_TYPES if k != "flat"])
def test_harder_levels_are_harder(kind):
    values = [_difficulty(kind, level) for level in LEVELS]
    assert np.all(np.diff(values) > 0), values


def test_deterministic_and_seeded():
    cfg = TerrainConfig(num_rows=2, num_cols=4, border=1.0, types={"rough": 1, "obstacles": 1, "stepping_stones": 1,
                                                                    "beam": 1})
    a, b = build_terrain(cfg), build_terrain(cfg)
    np.testing.assert_array_equal(a.heights, b.heights)
    np.testing.assert_array_equal(a.origins, b.origins)
    assert a.boxes == b.boxes and a.tiles == b.tiles
    c = build_terrain(dataclasses.replace(cfg, seed=1))
    assert not np.array_equal(a.heights, c.heights)
    assert not a.heights.flags.writeable


def test_grid_layout_levels_and_origins():
    cfg = TerrainConfig(num_rows=3, num_cols=4, border=1.0, types={"stairs_down": 0.5, "stairs_up": 0.25, "gaps": 0.25})
    terrain = build_terrain(cfg)
    n, b = cfg.tile_samples, cfg.border_samples
    assert terrain.heights.shape == (4 * n + 2 * b, 3 * n + 2 * b)
    assert terrain.column_types == ("stairs_down", "stairs_down", "stairs_up", "gaps")
    np.testing.assert_allclose(terrain.levels, [0.0, 0.5, 1.0])
    for t in terrain.tiles:
        rise, _, steps = stair_figures(t.level, cfg)
        expected = {"stairs_down": steps * rise, "stairs_up": -steps * rise, "gaps": 0.0}[t.type]
        assert t.origin == pytest.approx(((t.row + 0.5) * 8.0, (t.col + 0.5) * 8.0, expected))
        assert terrain.tile(t.row, t.col) is t
    assert terrain.origins.shape == (3, 4, 3)
    np.testing.assert_array_equal(terrain.tile_index(np.array([0.1, 23.9, -0.5]), np.array([31.9, 0.0, 4.0])),
                                  [[0, 2, -1], [3, 0, -1]])
    assert not terrain.heights[:b].any() and not terrain.heights[:, -b:].any()  # flat border


def test_height_at_known_points():
    cfg = TerrainConfig(num_rows=1, num_cols=2, border=1.0, levels=(1.0, 1.0),
                        types={"stairs_down": 1, "slope_down": 1})
    terrain = build_terrain(cfg)
    rise, tread, steps = stair_figures(1.0, cfg)
    # centre of the stairs tile, and of its outermost and second treads (along +x from the centre)
    x = np.array([4.0, 8.0 - tread / 2, 8.0 - 1.5 * tread])
    np.testing.assert_allclose(terrain.height_at(x, np.full(3, 4.0)), [steps * rise, 0.0, rise], atol=1e-6)
    # halfway between two samples on the slope: the mean of the two samples
    x0, y0 = terrain.first_sample
    iy, ix = 259, 159  # a sample on the slope tile's +x face (local x = 2.975 m, y = -0.025 m)
    xs, ys = x0 + ix * HS, y0 + iy * HS
    h = terrain.heights.astype(float)
    assert terrain.height_at(xs, ys) == pytest.approx(h[iy, ix])
    assert h[iy, ix] - h[iy, ix + 1] == pytest.approx(np.tan(np.deg2rad(21.8)) * HS, abs=VS)
    assert terrain.height_at(xs + HS / 2, ys) == pytest.approx((h[iy, ix] + h[iy, ix + 1]) / 2)
    # beyond the heightfield: the nearest edge; vectorized over any shape
    assert terrain.height_at(-50.0, 4.0) == 0.0
    assert terrain.height_at(np.zeros((2, 3)), np.zeros((2, 3))).shape == (2, 3)


# ---------------------------------------------------------------- MuJoCo


def _compile(terrain, mjspec=None):
    mjspec = mjspec or mujoco.MjSpec()
    add_to_spec(terrain, mjspec)
    model = mjspec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


def _ray_down(model, data, x, y, groups=(GROUND_GROUP,), top=5.0):
    mask = np.array([g in groups for g in range(6)], dtype=np.uint8)
    geom = np.zeros(1, np.int32)
    dist = mujoco.mj_ray(model, data, np.array([x, y, top]), np.array([0.0, 0.0, -1.0]), mask, 1, -1, geom)
    assert dist >= 0, (x, y)
    return top - dist


def test_mujoco_rays_match_height_at():
    cfg = TerrainConfig(num_rows=2, num_cols=4, border=0.5,
                        types={"stairs_up": 1, "stairs_down": 1, "beam": 1, "rough": 1})
    terrain = build_terrain(cfg)
    model, data = _compile(terrain)
    assert model.nhfield == 1 and model.ngeom == 1 + len(terrain.boxes)
    # the heightfield MuJoCo compiled holds the heights exactly: normalized to [0, 1] over the height range
    h = terrain.heights.astype(np.float64)
    expected = ((h - h.min()) / (h.max() - h.min())).astype(np.float32)
    np.testing.assert_array_equal(model.hfield_data.reshape(h.shape), expected)
    assert model.hfield_size[0, 2] == pytest.approx(h.max() - h.min()) and model.hfield_nrow[0] == h.shape[0]
    # flat tops: tread centres of both stairs, platforms, the beam's top and the pit beside it
    rise, tread, steps = stair_figures(1.0, cfg)
    points = [(12.0, 4.0), (12.0, 12.0), (16.0 - tread / 2, 4.0), (16.0 - 2.5 * tread, 12.0), (12.0 - 3.5 * tread, 4.0),
              (14.0, 20.0), (14.0, 20.04), (4.0, 20.0 + 2.5)]
    for x, y in points:
        assert _ray_down(model, data, x, y) == pytest.approx(terrain.height_at(x, y), abs=0.01)
    assert terrain.height_at(14.0, 20.0) == 0.0 and terrain.height_at(14.0, 20.04) == -cfg.pit_depth
    # anywhere (risers, corners, rough cells): MuJoCo's two triangles per cell differ from bilinear by at
    # most a quarter of the cell's twist, plus one vertical quantum
    rng = np.random.default_rng(0)
    x0, y0 = terrain.first_sample
    h = terrain.heights.astype(float)
    for x, y in rng.uniform([0.0, 0.0], [16.0, 32.0], size=(150, 2)):
        ix, iy = int((x - x0) // HS), int((y - y0) // HS)
        twist = abs(h[iy, ix] - h[iy, ix + 1] - h[iy + 1, ix] + h[iy + 1, ix + 1])
        assert abs(_ray_down(model, data, x, y) - terrain.height_at(x, y)) <= twist / 4 + VS, (x, y)


def test_mujoco_ceiling_and_resting_ball():
    cfg = TerrainConfig(num_rows=1, num_cols=2, border=0.5, levels=(1.0, 1.0), types={"cave": 1, "stairs_down": 1})
    terrain = build_terrain(cfg)
    mjspec = mujoco.MjSpec()
    rise, tread, steps = stair_figures(1.0, cfg)
    x, y, r = 8.0 - 1.5 * tread, 12.0, 0.04  # the second tread of the stairs tile
    ball = mjspec.worldbody.add_body(pos=[x, y, rise + 0.3])
    ball.add_freejoint()
    ball.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[r, 0, 0], mass=1.0)
    model, data = _compile(terrain, mjspec)
    # the ceiling: 0.30 m clear at level 1, hit from above (all groups) and from below
    assert _ray_down(model, data, 6.0, 4.0, groups=range(6)) == pytest.approx(0.30 + cfg.ceiling_thickness)
    up = mujoco.mj_ray(model, data, np.array([6.0, 4.0, 0.01]), np.array([0.0, 0.0, 1.0]), None, 1, -1,
                       np.zeros(1, np.int32))
    assert up + 0.01 == pytest.approx(0.30)
    assert _ray_down(model, data, 6.0, 4.0) == pytest.approx(0.0)  # ground group only
    # a ball dropped on a tread comes to rest on it
    for _ in range(600):
        mujoco.mj_step(model, data)
    assert data.qpos[2] == pytest.approx(terrain.height_at(x, y) + r, abs=0.005)
    assert terrain.height_at(x, y) == pytest.approx(rise)


def test_add_to_spec_replaces_robot_floor_and_flat_terrain_compiles():
    mjspec, _, _ = build_mjspec(QUADRUPED)
    assert any(g.type == mujoco.mjtGeom.mjGEOM_PLANE for g in mjspec.worldbody.geoms)
    terrain = build_terrain(TerrainConfig(num_rows=1, num_cols=1, border=0.0, types={"flat": 1}))
    model, data = _compile(terrain, mjspec)
    assert not any(model.geom_type == mujoco.mjtGeom.mjGEOM_PLANE)
    assert _ray_down(model, data, 2.0, 7.0) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- errors, preview


@pytest.mark.parametrize("overrides,field", [
    ({"tile_size": -8.0}, "tile_size"),
    ({"types": {"stairs": 1.0}}, "stairs"),
    ({"types": {"flat": -1.0}}, "types.flat"),
    ({"types": {"flat": 0.0}}, "types"),
    ({"tile_size": 8.03}, "tile_size"),
    ({"levels": (0.5, 1.5)}, "levels"),
    ({"horizontal_scale": 0.0}, "horizontal_scale"),
    ({"num_rows": 0}, "num_rows"),
    ({"platform_size": 8.0}, "platform_size"),
    ({"step_height": (0.05,)}, "step_height"),
])
def test_bad_config_is_one_sentence(overrides, field):
    with pytest.raises(ConfigError) as err:
        TerrainConfig(**overrides)
    message = str(err.value)
    assert field in message and message.endswith(".") and message.count(". ") == 0, message
    assert "; " in message  # the problem, then the fix


def test_unknown_type_suggests_a_name():
    with pytest.raises(ConfigError, match="did you mean 'stairs_up'"):
        TerrainConfig(types={"stairs_upp": 1.0})


def test_preview_writes_png(tmp_path):
    cfg = TerrainConfig(num_rows=2, num_cols=3, border=1.0, types={"stairs_up": 1, "beam": 1, "cave": 1})
    path = preview(build_terrain(cfg), tmp_path / "sub" / "terrain.png", dpi=40)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_equal_config_returns_the_built_terrain_and_another_seed_a_new_one():
    cfg = TerrainConfig(num_rows=2, num_cols=2, border=0.5, types={"rough": 1, "stairs_up": 1})
    terrain = build_terrain(cfg)
    assert build_terrain(TerrainConfig(num_rows=2, num_cols=2, border=0.5, types={"rough": 1, "stairs_up": 1})) \
        is terrain  # frozen and deterministic in its config: built once
    other = build_terrain(dataclasses.replace(cfg, seed=1))
    assert other is not terrain and not np.array_equal(other.heights, terrain.heights)
    assert not terrain.heights.flags.writeable  # nobody can edit the shared copy
