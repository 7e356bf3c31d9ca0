"""Rough terrain in the env: terrain in the scene, spawning on tiles, the height scan, the terrain
curriculum, terrain-aware base height, the rough task and the terrain CLI."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import stridelab
from stridelab.app.cli import main
from stridelab.config import from_dict, override, to_dict
from stridelab.config import EnvConfig
from stridelab.errors import ConfigError
from stridelab.mdp.curriculum import update_terrain_levels
from stridelab.mdp.observations import height_scan
from stridelab.robots.loader import ROBOT_GROUP
from stridelab.sim.terrain import TerrainConfig
from stridelab.sim.terrain.generators import stair_figures
from stridelab.tasks import make_env_cfg

# stairs at level 1 (20 cm risers): up in column 0, down in column 1
STAIRS = TerrainConfig(num_rows=3, num_cols=2, border=1.0, levels=(1.0, 1.0), types={"stairs_up": 1.0, "stairs_down": 1.0})


def _stairs_env():
    return stridelab.make_env(replace(make_env_cfg("quadruped-rough", num_envs=2, num_threads=1), terrain=STAIRS))


@pytest.fixture(scope="module")
def rough_env():
    return stridelab.make("quadruped-rough", num_envs=12, num_threads=1, seed=0)


def test_rough_env_builds_and_steps(rough_env):
    env = rough_env
    obs = env.get_observations()
    # policy: 45 + the clock (sin, cos x 4 feet), with two past frames (the teacher's history); every randomization on
    assert obs["policy"].shape == (12, 3 * 53) and obs["privileged"].shape == (12, 110)
    assert obs["extero"].shape == (12, 17 * 11)
    model = env.robot.model
    assert model.nhfield == 1 and not (model.geom_type == 0).any()  # the heightfield replaced the plane
    robot_geoms = model.geom_bodyid != 0
    assert (model.geom_group[robot_geoms] >= ROBOT_GROUP).all()  # rays of group 0 never see the robot
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs, reward, done, extras = env.step(torch.as_tensor(rng.uniform(-1, 1, size=(12, 12)), dtype=torch.float32))
        assert extras["unstable"] == 0
        assert torch.isfinite(obs["extero"]).all() and torch.isfinite(reward).all()


def test_envs_spawn_on_their_tile_origins():
    env = stridelab.make("quadruped-rough", num_envs=12, num_threads=1, seed=1)
    tiles, terrain = env.terrain_tiles, env.robot.terrain
    ids = np.arange(12)
    origins = terrain.origins[tiles.rows, tiles.cols]
    base = env.sim.qpos[:, :3]
    assert np.all(np.abs(base[:, :2] - origins[:, :2]) <= 0.5 + 1e-9)  # xy noise +-0.5 m
    np.testing.assert_allclose(base[:, 2], origins[:, 2] + env.robot.spec.init_height)
    np.testing.assert_allclose(tiles.spawn_xy, base[:, :2])
    # columns (types) are spread evenly; rows start within max_init_level = 2
    assert sorted(set(tiles.cols)) == list(range(8)) and tiles.rows.max() <= 2
    # a reset after a promotion spawns the env on the next row
    env.sim.qpos[0, :2] = tiles.spawn_xy[0] + [5.0, 0.0]  # walked 5 m > half a tile
    row = tiles.rows[0]
    env._reset(ids[:1])
    assert tiles.rows[0] == row + 1
    assert np.abs(env.sim.qpos[0, :2] - terrain.origins[row + 1, tiles.cols[0], :2]).max() <= 0.5


def test_curriculum_promotes_and_demotes_on_synthetic_distances():
    rng = np.random.default_rng(0)
    rows = np.array([0, 1, 2, 2, 0, 4, 4, 3])
    distance = np.array([4.5, 4.5, 1.0, 3.0, 0.0, 4.1, 1.0, 3.9])  # tile 8 m: promotion beyond 4 m
    required = np.array([9.0, 0.0, 10.0, 5.0, 10.0, 20.0, 1.0, 2.0])  # demotion below half of it
    new = update_terrain_levels(rows, distance, required, tile_size=8.0, num_rows=5, rng=rng)
    assert list(new[[0, 1, 2, 3, 4, 6, 7]]) == [1, 2, 1, 2, 0, 4, 3]
    # promoted beyond the top row (4): a random row
    many = update_terrain_levels(np.full(400, 4), np.full(400, 5.0), np.zeros(400), 8.0, 5, rng)
    assert many.min() == 0 and many.max() == 4 and len(set(many)) == 5
    assert 0 <= new[5] <= 4


def test_curriculum_term_logs_mean_level_per_type(rough_env):
    info = {k: v for k, v in rough_env.curriculum.reset(np.zeros(0, dtype=np.int64)).items()
            if k.startswith("Curriculum/terrain_levels/")}
    assert set(info) == {f"Curriculum/terrain_levels/{t}" for t in
                         ("flat", "rough", "slope_up", "slope_down", "stairs_up", "stairs_down")}
    assert all(0.0 <= v <= 2.0 for v in info.values())  # rows 0..max_init_level


def _pose(env, xy, yaw):
    """Put env 0's base at (x, y) with heading ``yaw``, 0.3 m above the ground there; return its state."""
    b = env.robot.base_qpos_adr
    x, y = xy
    z = float(env.robot.terrain.height_at(x, y)) + 0.3
    env.sim.qpos[0, b:b + 7] = [x, y, z, np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
    env.sim.batch.forward(np.array([0], dtype=np.int32))
    return env._read_state()


@pytest.mark.parametrize("yaw", [0.0, 0.7])
def test_height_scan_matches_terrain_on_stairs(yaw):
    env = _stairs_env()
    terrain = env.robot.terrain
    assert terrain.column_types == ("stairs_up", "stairs_down")
    rise, _, _ = stair_figures(1.0, terrain.cfg)
    s = _pose(env, (4.0 + 1.6, 12.0), yaw)  # stairs down, the scan crossing the platform's edge and risers
    scan = height_scan(env, clip=10.0)
    values = scan(s)[0]
    xy = scan.world_points(s)[0]
    expected = s.base_pos[0, 2] - terrain.height_at(xy[:, 0], xy[:, 1])
    assert np.ptp(expected) >= 2 * rise - 1e-6  # the scan sees at least two risers
    np.testing.assert_allclose(values, expected, atol=0.01)
    lookup = height_scan(env, clip=10.0, method="lookup")(s)[0]
    np.testing.assert_allclose(lookup, expected, atol=1e-9)


def test_foot_rings_read_the_terrain_around_each_foot():
    env = _stairs_env()
    s = _pose(env, (4.0 + 1.6, 12.0), 0.7)  # over the stairs down, the feet beside risers
    scan = height_scan(env, clip=10.0, method="lookup", foot_radii=(0.1, 0.25), foot_points=(4, 6))
    values, xy = scan(s)[0], scan.world_points(s)[0]
    assert values.shape == (187 + 4 * 10,)
    rings = xy[187:].reshape(4, 10, 2)
    np.testing.assert_allclose(rings.mean(axis=1), s.foot_pos[0, :, :2], atol=1e-12)  # centred on the feet
    np.testing.assert_allclose(np.linalg.norm(rings[:, 4:] - s.foot_pos[0, :, None, :2], axis=2), 0.25)
    heading = np.array([np.cos(0.7), np.sin(0.7)])  # point k = 0 of a ring lies straight ahead
    np.testing.assert_allclose(rings[:, 0] - s.foot_pos[0, :, :2], 0.1 * np.tile(heading, (4, 1)), atol=1e-12)
    expected = s.base_pos[0, 2] - env.robot.terrain.height_at(xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(values, expected, atol=1e-9)
    assert np.ptp(values[187:]) > 0.1  # the rings see the risers
    np.testing.assert_allclose(values[:187], height_scan(env, clip=10.0, method="lookup")(s)[0])  # the grid stays


def test_foot_rings_mirror_and_per_foot_offsets(rough_env):
    env = rough_env
    scan = height_scan(env, foot_radii=(0.1, 0.2), foot_points=(4, 6))
    size = 187 + 4 * 10
    perm, sign = scan.mirror(env.robot.spec, size)
    assert np.array_equal(perm[perm], np.arange(size)) and (sign == 1).all()
    feet = np.asarray(env.robot.spec.feet_mirror_perm)
    for f in range(4):  # foot f's ring point k comes from the mirror foot's point at the negated angle
        src = perm[187 + 10 * f: 187 + 10 * (f + 1)] - 187
        assert (src // 10 == feet[f]).all()
        np.testing.assert_allclose(scan.ring[src % 10] * [1, -1], scan.ring, atol=1e-12)
    shifted = height_scan(env, foot_radii=(0.1, 0.2), foot_points=(4, 6), foot_offset=0.05)
    delta = shifted(env.state) - scan(env.state)
    assert np.abs(delta[:, :187]).max() == 0.0  # the grid has no foot offset
    per_foot = delta[:, 187:].reshape(len(delta), 4, 10)
    assert np.ptp(per_foot, axis=2).max() < 1e-12  # one offset per foot ...
    assert np.abs(per_foot).max() <= 0.05 and np.ptp(per_foot[:, :, 0]) > 0.0  # ... within its bound, varying
    for params, words in [({"foot_radii": (0.1,), "foot_points": (4, 6)}, "one point count >= 1 per radius"),
                          ({"foot_offset": 0.02}, "needs foot rings")]:
        with pytest.raises(ConfigError) as err:
            height_scan(env, **params)
        assert words in str(err.value) and "\n" not in str(err.value)


def test_height_scan_layout_mirror_clip_and_noise(rough_env):
    env = rough_env
    scan = height_scan(env)
    assert scan.points.shape == (187, 2) and scan.nx == 17 and scan.ny == 11
    perm, sign = scan.mirror(env.robot.spec, 187)
    np.testing.assert_allclose(scan.points[perm] * [1, -1], scan.points)  # y flips, x stays
    assert np.array_equal(perm[perm], np.arange(187)) and (sign == 1).all()
    s = env._read_state()
    s.base_pos = s.base_pos.copy()
    s.base_pos[:, 2] += 5.0  # far above the ground: clipped
    assert np.allclose(scan(s), 1.0)
    noisy = height_scan(env, point_noise=0.02, env_offset=0.05, outlier_prob=0.1, missing_prob=0.1, clip=1.0)
    clean, out = scan(env.state), noisy(env.state)
    assert out.shape == clean.shape and np.abs(out).max() <= 1.0 and not np.allclose(out, clean)
    assert np.mean(out == 1.0) > 0.05  # missing points read +clip


def test_rough_task_symmetry_and_train_groups(rough_env):
    from stridelab.learn.symmetry import supports_symmetry
    from stridelab.tasks import get_task

    assert supports_symmetry(rough_env)
    groups = get_task("quadruped-rough").train_cfg().rsl_rl_dict()["obs_groups"]
    assert groups == {"actor": ["policy", "extero"], "critic": ["policy", "privileged", "extero"]}
    flat = get_task("quadruped-flat").train_cfg().rsl_rl_dict()["obs_groups"]
    assert flat == {"actor": ["policy"], "critic": ["policy", "privileged"]}


def test_base_height_is_relative_to_ground():
    from stridelab.mdp.rewards import base_height_l2

    env = _stairs_env()
    s = _pose(env, (4.0, 4.0), 0.0)  # centre of the stairs-up tile: its platform is below z = 0
    assert env.robot.terrain.height_at(4.0, 4.0) < -0.5
    assert base_height_l2(env, target=0.3)(s)[0] == pytest.approx(0.0, abs=1e-12)
    assert base_height_l2(env, target=0.3, relative_to_ground=False)(s)[0] > 0.2


def test_flat_task_unchanged():
    cfg = make_env_cfg("quadruped-flat", num_envs=4, num_threads=1)
    assert cfg.terrain is None
    env = stridelab.make_env(cfg)
    obs = env.get_observations()
    assert set(obs.keys()) == {"policy", "privileged"}
    assert obs["policy"].shape == (4, 53) and obs["privileged"].shape == (4, 12)
    assert env.robot.terrain is None and (env.robot.model.geom_type == 0).sum() == 1  # the floor plane
    assert not hasattr(env, "terrain_tiles")


def test_terrain_config_round_trips_through_dicts():
    cfg = make_env_cfg("quadruped-rough")
    again = from_dict(EnvConfig, to_dict(cfg))
    assert again == cfg and isinstance(again.terrain, TerrainConfig)
    assert override(make_env_cfg("quadruped-flat"), terrain={"num_rows": 2}).terrain.num_rows == 2
    assert from_dict(EnvConfig, {**to_dict(cfg), "terrain": None}).terrain is None


def test_terrain_term_on_flat_ground_is_one_sentence():
    from stridelab.errors import ConfigError

    cfg = override(make_env_cfg("quadruped-flat", num_envs=2, num_threads=1),
                   curriculum={"terrain_levels": {"func": "terrain_levels"}})
    with pytest.raises(ConfigError, match="needs terrain"):
        stridelab.make_env(cfg)


def test_terrain_cli_writes_png(tmp_path, capsys):
    out = tmp_path / "terrain.png"
    assert main(["terrain", "--preview", str(out), "--task", "quadruped-rough", "--dpi", "30"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "10 levels x 8 columns" in capsys.readouterr().out
    assert main(["terrain", "--preview", str(out), "--task", "quadruped-flat"]) == 2
    assert "flat floor" in capsys.readouterr().err


def test_feet_stumble_counts_feet_touching_without_support():
    from dataclasses import replace as dc_replace

    from stridelab.mdp.rewards import feet_stumble

    env = _stairs_env()
    term = feet_stumble(env)
    r = term.radius[0]
    assert r == pytest.approx(0.02)
    x, y = 4.0 + 1.4, 4.0  # stairs up: the lower platform just before the first riser
    g = float(env.robot.terrain.height_at(x, y))
    foot_pos = np.zeros((2, 4, 3))
    foot_pos[:, :, :2] = [x, y]
    foot_pos[:, :, 2] = [g + r, g + r + 0.10, g + r + 0.10, g + r]  # resting, against the riser, in the air, resting
    contact = np.array([[True, True, False, False]] * 2)
    s = dc_replace(env.state, foot_pos=foot_pos, foot_contact=contact)
    np.testing.assert_array_equal(term(s), [1.0, 1.0])


def test_feet_swing_height_measures_clearance_above_the_terrain_against_the_swing_profile():
    from dataclasses import replace as dc_replace

    from stridelab.mdp.rewards import desired_stance, feet_swing_height

    env = _stairs_env()
    term = feet_swing_height(env, height=0.08)
    r = term.radius[0]
    x, y = 4.0 + 1.75, 4.0  # stairs up: mid first tread, one 20 cm riser above the spawn platform
    g = float(env.robot.terrain.height_at(x, y))
    assert g == pytest.approx(env.robot.terrain.height_at(4.0, 4.0) + 0.20, abs=1e-6)
    foot_pos = np.zeros((2, 4, 3))
    foot_pos[:, :, :2] = [x, y]
    # mid-swing (phase 0.75): the target is the full 8 cm above the tread, not above the world origin
    phase = np.full((2, 4), 0.75)
    foot_pos[:, :, 2] = [g + r + 0.08, g + r, g + r + 0.08, g + r + 0.18]
    commands = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # the second env is told to stand
    s = dc_replace(env.state, foot_pos=foot_pos, gait_phase=phase, commands=commands)
    swing = 1.0 - float(desired_stance(np.array([[0.75]]))[0, 0])
    in_swing = term(s)
    np.testing.assert_allclose(in_swing, [(0.08 ** 2 + 0.10 ** 2) * swing, 0.0], rtol=1e-6)
    # in stance (phase 0.25) the same raised feet cost under 2 % of that: the profile applies to swing only
    s = dc_replace(s, gait_phase=np.full((2, 4), 0.25))
    assert term(s)[0] < 0.02 * in_swing[0]
    with pytest.raises(stridelab.errors.ConfigError, match="needs a gait clock"):
        term(dc_replace(s, gait_phase=None))


def test_rough_snapshot_resumes_exactly():
    from stridelab.envs.snapshot import env_state_dict, load_env_state

    a = stridelab.make("quadruped-rough", num_envs=6, num_threads=1, seed=3, episode_length_s=0.2)
    b = stridelab.make("quadruped-rough", num_envs=6, num_threads=1, seed=4, episode_length_s=0.2)
    rng = np.random.default_rng(0)
    actions = [torch.as_tensor(rng.uniform(-1, 1, (6, 12)), dtype=torch.float32) for _ in range(25)]
    for act in actions[:12]:
        a.step(act)
    load_env_state(b, env_state_dict(a))
    for act in actions[12:]:  # episodes of 10 steps: resets, curriculum moves and respawns on the way
        oa, ra, _, _ = a.step(act)
        ob, rb, _, _ = b.step(act)
        for key in oa.keys():
            assert torch.equal(oa[key], ob[key]), key
        assert torch.equal(ra, rb)
    np.testing.assert_array_equal(a.terrain_tiles.rows, b.terrain_tiles.rows)


def test_train_cli_sets_terrain_options():
    from stridelab.app.cli import parse

    parsed = parse(["train", "quadruped-rough", "--env.terrain.num-rows", "3", "--seed", "2"])
    assert parsed.options.env.terrain.num_rows == 3 and parsed.options.seed == 2
    assert parse(["train", "quadruped-flat"]).options.env.terrain is None
