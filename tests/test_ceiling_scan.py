"""The cave's ceiling is visible: the ceiling scan reads the cave's known ceiling height (18 cm above the ground)
where the slab is and "no ceiling" (+clip) elsewhere, casting rays (``Batch.ray``, plain ``mj_ray`` from
policy.json's description) and reading the terrain's boxes alike; policy.json describes it and the deploy
builder rebuilds it on the course."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest

import stridelab
from stridelab.app.cli import main
from stridelab.deploy.backend import RobotSignals
from stridelab.deploy.export import export_policy
from stridelab.deploy.observation import ObservationBuilder
from stridelab.errors import ConfigError
from stridelab.mdp.ceiling_scan import ceiling_scan
from stridelab.mdp.height_scan import height_scan
from stridelab.sim.terrain import TerrainConfig, build_terrain
from stridelab.config import from_dict, override
from stridelab.envs import make_env
from stridelab.sim.terrain.courses import course_config, final_level
from stridelab.tasks.courses import course_task

CLEARANCE = 0.18  # ETG-RL's cave: the ceiling 18 cm above the ground (z = 0)
LANE_Y = 1.0


def _yaw_quat(yaw: float) -> list[float]:
    return [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]


@pytest.fixture(scope="module")
def cave():
    """A quadruped-cave env of 3: env 0 at its start (no ceiling over the scan), env 1 in the cave's middle with its
    base 12 cm up (crouching) and turned by 0.4 rad, env 2 standing 0.33 m before the entrance (the scan's front
    under the ceiling), turned by 0.05 rad. Returns the env and its state."""
    env = make_env(override(course_task("cave", levels=1), num_envs=3, num_threads=1, seed=0))  # ETG-RL's 0.18 m
    seg = env.robot.terrain.course.segments[0]
    b = env.robot.base_qpos_adr
    poses = [(1.013, LANE_Y, 0.3, 0.0), ((seg.x0 + seg.x1) / 2 + 0.013, 3.0, 0.12, 0.4),
             (seg.x0 - 0.33, 5.0, 0.3, 0.05)]
    for i, (x, y, z, yaw) in enumerate(poses):
        env.sim.qpos[i, b:b + 7] = [x, y, z, *_yaw_quat(yaw)]
    env.sim.batch.forward(np.arange(3, dtype=np.int32))
    yield env, env._read_state()
    env.close()


def _expected(env, s) -> np.ndarray:
    """The ceiling scan from the cave's known figures: 0.18 m minus the base's z over the slab (x from the cave's
    start to its end), +1 (no ceiling) elsewhere. Shape: (n, 187)."""
    seg = env.robot.terrain.course.segments[0]
    x = height_scan(env).world_points(s)[..., 0]  # x of the height scan's points [m]
    under = (x >= seg.x0) & (x <= seg.x1)
    return np.where(under, CLEARANCE - s.base_pos[:, 2:3], 1.0)


def test_the_ceiling_channel_reads_the_cave_height(cave):
    env, s = cave
    seg = env.robot.terrain.course.segments[0]
    assert seg.clearance == pytest.approx(CLEARANCE) and seg.z0 == 0.0
    group = env.observations.groups["extero"]
    assert group.term_names == ["height_scan", "ceiling_scan"]
    term = group.terms[1]
    values = term(s)
    expected = _expected(env, s)
    np.testing.assert_allclose(values, expected, atol=1e-9)
    assert np.all(values[0] == 1.0)  # at the start: no ceiling anywhere over the scan
    np.testing.assert_allclose(values[1], CLEARANCE - 0.12, atol=1e-9)  # in the cave: 6 cm above the crouching base
    front = values[2].reshape(17, 11)  # x-major: rows along x
    assert np.all(front[:12] == 1.0) and np.allclose(front[12:], CLEARANCE - 0.3)  # the ceiling from 0.33 m ahead
    # the same from Batch.ray casting up on the overhead geom group (not the ground, not the robot)
    rays = ceiling_scan(env, method="ray")
    assert rays.method == "ray"
    np.testing.assert_allclose(rays(s), values, atol=1e-9)
    # in the policy's input: scaled by 5 after the height scan's 187 values
    np.testing.assert_allclose(group.frame(s, noise=False)[:, 187:], 5.0 * expected, atol=1e-6)


def test_terrain_ceiling_at_is_the_slab_and_nothing_else():
    terrain = build_terrain(course_config("cave"))
    seg = terrain.course.segments[0]
    xs = np.array([seg.x0 + 0.01, (seg.x0 + seg.x1) / 2, seg.x1 - 0.01, terrain.course.spawn_x,
                   terrain.course.finish_x])
    np.testing.assert_allclose(terrain.ceiling_at(xs, LANE_Y), [CLEARANCE] * 3 + [np.inf] * 2)
    np.testing.assert_allclose(terrain.ceiling_at(xs[1], np.array([-2.0, 7.9, 10.5])), CLEARANCE)  # lanes, borders
    assert terrain.ceiling_at(xs[1], LANE_Y, above=0.2) == np.inf  # a ray starting above the slab's bottom
    assert np.all(build_terrain(course_config("gallop")).ceiling_at(xs, LANE_Y) == np.inf)
    grid = build_terrain(TerrainConfig(num_rows=2, num_cols=1, border=1.0, types={"cave": 1.0}))
    lows = {b.bottom for b in grid.boxes if b.overhead}
    assert len(lows) == 2 and set(grid.ceiling_at(np.array([b.pos[0] for b in grid.boxes]),
                                                  np.array([b.pos[1] for b in grid.boxes]))) == lows


def test_plain_mujoco_computes_the_ceiling_from_its_description(cave):
    """A client with MuJoCo's mj_ray and policy.json's description of the term (points, frame, ray, offset, clip)
    gets the env's values."""
    env, s = cave
    group = env.observations.groups["extero"]
    desc = json.loads(json.dumps(group.describe()))
    term = desc["terms"][1]
    parts = term["parts"]
    assert term["name"] == "ceiling_scan" and term["offset"] == 187 and term["size"] == 187
    assert parts["frame"] == "yaw_aligned" and parts["miss_value"] == 1.0 and parts["noise"] is None
    assert parts["grid"]["nx"] == 17 and parts["grid"]["ny"] == 11 and parts["centre"] == [-1] * 187
    assert parts["points"] == desc["terms"][0]["parts"]["points"]  # the height scan's points
    assert "no ceiling" in term["description"] and "(0, 1, 0, 0, 0, 0)" in term["description"]
    ray = parts["ceiling"]["ray"]
    assert ray["direction"] == [0.0, 0.0, 1.0] and ray["geomgroup"] == [0, 1, 0, 0, 0, 0]
    model = env.robot.model
    data = mujoco.MjData(model)
    b = env.robot.base_qpos_adr
    p = np.asarray(parts["points"])
    for i in range(3):
        data.qpos[:] = env.sim.qpos[i]
        mujoco.mj_forward(model, data)
        base, (w, qx, qy, qz) = data.qpos[b:b + 3], data.qpos[b + 3:b + 7]
        yaw = np.arctan2(2 * (w * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
        xy = base[:2] + np.stack([np.cos(yaw) * p[:, 0] - np.sin(yaw) * p[:, 1],
                                  np.sin(yaw) * p[:, 0] + np.cos(yaw) * p[:, 1]], axis=1)
        start = base[2] - ray["start_below_base"]
        ceiling = np.empty(len(xy))
        for k, (px, py) in enumerate(xy):
            dist = mujoco.mj_ray(model, data, np.array([px, py, start]), np.asarray(ray["direction"]),
                                 np.asarray(ray["geomgroup"], dtype=np.uint8), ray["flg_static"],
                                 ray["bodyexclude"], np.zeros(1, dtype=np.int32))
            ceiling[k] = start + dist if dist >= 0 else np.inf
        value = np.clip(ceiling - base[2] - parts["offset"], -parts["clip"], parts["clip"])
        client = np.clip(np.asarray(term["scale"]) * value, -desc["clip"], desc["clip"])
        np.testing.assert_allclose(client, group.frame(s, noise=False)[i, 187:], atol=1e-6)


def test_the_ceiling_mirrors_like_the_height_scan_grid(cave):
    env, _ = cave
    spec = env.robot.spec
    scan, ceiling = env.observations.groups["extero"].terms
    np.testing.assert_array_equal(ceiling.mirror(spec, 187)[0], scan.mirror(spec, 187)[0])
    with pytest.raises(ConfigError, match="cannot be mirrored"):
        ceiling.mirror(spec, 188)


@pytest.mark.parametrize("params, match", [({"method": "up"}, "use 'lookup' or 'ray'"),
                                           ({"clip": 0.0}, "clip > 0"), ({"ray_start": -1.0}, "ray_start >= 0"),
                                           ({"resolution": 0.0}, "resolution > 0")])
def test_bad_ceiling_scan_settings_are_one_sentence(cave, params, match):
    with pytest.raises(ConfigError, match=match):
        ceiling_scan(cave[0], **params)


def test_policy_json_carries_the_ceiling_and_the_deploy_builder_reads_it_on_the_cave(tmp_path, capsys):
    assert main(["train", "quadruped-cave", "--max-iterations", "1", "--log-dir", str(tmp_path), "--no-eval",
                 "--num-envs", "8", "--train.num-steps-per-env", "4", "--train.save-interval", "1",
                 "--env.num-threads", "1", "--env.episode-length-s", "0.2"]) == 0
    (run,) = list((tmp_path / "quadruped-cave").iterdir())
    meta = json.loads((export_policy(run, tmp_path / "export") / "policy.json").read_text())
    assert [t["name"] for t in meta["extero"]["terms"]] == ["height_scan", "ceiling_scan"]
    assert meta["extero"]["size"] == 2 * 187 and meta["observation_groups"] == ["policy", "extero"]
    trained = from_dict(TerrainConfig, meta["terrain"], "terrain")  # the course it was trained on: 6 levels
    assert trained.num_rows == 6 and trained.ceiling_clearance == (0.50, CLEARANCE)
    terrain = build_terrain(final_level(trained))  # its last level: ETG-RL's ceiling, as deploy --terrain cave
    seg = terrain.course.segments[0]
    builder = ObservationBuilder(meta, terrain=terrain)
    for x, z, expected in (((seg.x0 + seg.x1) / 2, 0.12, CLEARANCE - 0.12), (terrain.course.spawn_x, 0.27, 1.0)):
        sample = RobotSignals(0.0, np.zeros(12), np.zeros(12), np.array([1.0, 0.0, 0.0, 0.0]), np.zeros(3),
                              extra={"base_pos": np.array([x, LANE_Y, z])})
        built = builder(sample, np.zeros(3), np.zeros(12))
        np.testing.assert_allclose(built[0, -187:], 5.0 * expected, atol=1e-6)
    flat = ObservationBuilder(meta)  # the deploy simulation without the course: the flat floor, no ceiling
    assert np.all(flat(sample, np.zeros(3), np.zeros(12))[0, -187:] == 5.0)
    # the deploy simulation on the course itself: one lane, the robot at its start, the scans read the course
    export = tmp_path / "export"
    assert main(["deploy", str(export), "--backend", "sim", "--terrain", "cave", "--duration", "0.2"]) == 0
    out = capsys.readouterr().out
    terrain_report = json.loads(out[out.index("{"):])["terrain"]
    assert terrain_report["type"] == "cave" and terrain_report["distance_m"] >= 0.0
    assert main(["deploy", str(export), "--backend", "sim", "--terrain", "stairs_up", "--duration", "0.2"]) == 2
    assert "is not the course the policy was trained on; use --terrain cave" in capsys.readouterr().err
