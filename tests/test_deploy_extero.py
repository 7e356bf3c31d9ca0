"""Exporting and deploying a policy that reads the height scan (a terrain teacher): policy.json describes the
scan well enough for plain MuJoCo to compute it, the deploy-side builder reproduces the training env's scan on
flat ground, and the control loop runs it in the deploy simulation at the latency it was trained with."""

from __future__ import annotations

import json
from dataclasses import replace

import mujoco
import numpy as np
import pytest
import torch

from stridelab.app.cli import main
from stridelab.config import override
from stridelab.deploy.backend import RobotSignals, SimBackend, SimBackendConfig, robot_of
from stridelab.deploy.export import export_policy, input_size
from stridelab.deploy.observation import ObservationBuilder
from stridelab.deploy.runtime import ControlLoop, OnnxPolicy
from stridelab.deploy.safety import SafetyConfig
from stridelab.errors import StridelabError
from stridelab.learn.policy import load_policy
from stridelab.envs import make_env
from stridelab.mdp.observations import height_scan
from stridelab.sim.terrain import TerrainConfig
from stridelab.sim.terrain.generators import stair_figures
from stridelab.tasks import make_env_cfg



@pytest.fixture(scope="module")
def rough_export(tiny_rough_run, tmp_path_factory):
    return tiny_rough_run, export_policy(tiny_rough_run, tmp_path_factory.mktemp("rough_export"))


def test_policy_json_describes_the_height_scan(rough_export):
    _, out = rough_export
    meta = json.loads((out / "policy.json").read_text())
    assert meta["observation_groups"] == ["policy", "extero"]
    assert meta["extero"]["size"] == 17 * 11
    assert input_size(meta) == meta["observation"]["size"] + 187 == ObservationBuilder(meta).size
    (term,) = meta["extero"]["terms"]
    parts = term["parts"]
    points = np.array(parts["points"])
    assert points.shape == (187, 2) and parts["centre"] == [-1] * 187 and parts["rings"] is None
    np.testing.assert_allclose(points[[0, 1, 11, 186]], [[-0.8, -0.5], [-0.8, -0.4], [-0.7, -0.5], [0.8, 0.5]])
    assert parts["frame"] == "yaw_aligned" and parts["offset"] == 0.0 and parts["clip"] == 1.0
    assert parts["ground"]["method"] == "lookup" and parts["ground"]["ray"]["geomgroup"] == [1, 0, 0, 0, 0, 0]
    assert parts["miss_value"] == 1.0 and term["scale"] == [5.0] * 187
    assert "roll and pitch ignored" in term["description"] and "17 x 11 grid" in term["description"]


def test_policy_json_carries_the_trained_latency_and_the_deploy_sim_runs_at_its_middle(rough_export, capsys):
    _, out = rough_export
    meta = json.loads((out / "policy.json").read_text())
    assert meta["latency"]["range_s"] == pytest.approx(list(make_env_cfg("quadruped-rough").events["latency"]
                                                            .params["delay_s"]))
    assert meta["latency"]["middle_s"] == pytest.approx(0.02) and meta["latency"]["source"] == "events.latency"
    assert main(["deploy", str(out / "policy.onnx"), "--duration", "0.1"]) == 0
    assert json.loads(capsys.readouterr().out)["sim_latency_s"] == pytest.approx(0.02)
    assert main(["deploy", str(out / "policy.onnx"), "--duration", "0.1", "--latency", "0.005"]) == 0
    assert json.loads(capsys.readouterr().out)["sim_latency_s"] == 0.005  # --latency overrides


def _scan_over_stairs(yaw: float, roll: float, pitch: float):
    """A quadruped-rough env on stairs (20 cm risers) with foot rings added to its scan; env 0's base over the stairs
    down, tilted, 0.3 m above the ground. Returns the env and the state of env 0."""
    cfg = make_env_cfg("quadruped-rough", num_envs=2, num_threads=1)
    extero = cfg.observations["extero"]
    scan = extero.terms["height_scan"]
    rings = replace(scan, params={**scan.params, "foot_radii": (0.1, 0.25), "foot_points": (4, 6)})
    stairs = TerrainConfig(num_rows=3, num_cols=2, border=1.0, levels=(1.0, 1.0),
                           types={"stairs_up": 1.0, "stairs_down": 1.0})
    env = make_env(replace(cfg, terrain=stairs, observations={**cfg.observations,
                                                             "extero": replace(extero, terms={"height_scan": rings})}))
    x, y = 4.0 + 1.6, 12.0  # the scan crosses the platform's edge and several risers
    cr, sr, cp, sp, cy, sy = (f(a / 2) for a in (roll, pitch, yaw) for f in (np.cos, np.sin))
    quat = [cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy]  # yaw, then pitch, then roll (z-y-x)
    b = env.robot.base_qpos_adr
    env.sim.qpos[0, b:b + 7] = [x, y, float(env.robot.terrain.height_at(x, y)) + 0.3, *quat]
    env.sim.batch.forward(np.array([0], dtype=np.int32))
    return env, env._read_state()


@pytest.mark.parametrize("yaw, roll, pitch", [(0.7, 0.15, -0.1), (-2.0, 0.0, 0.0)])
def test_plain_mujoco_computes_the_scan_from_its_description(yaw, roll, pitch):
    """A client with only MuJoCo's mj_ray and policy.json's scan description (pattern, frame, offset, clip, scale)
    computes the scan the env gives: to 1e-6 against the term casting rays, and against the task's own lookup
    within the bound the description states (a quarter of the twist of the heightfield cell under each point)."""
    env, s = _scan_over_stairs(yaw, roll, pitch)
    group = env.observations.groups["extero"]
    lookup = group.frame(s, noise=False)[0]  # the task's scan (method "lookup"), scaled and clipped
    desc = json.loads(json.dumps(group.describe()))
    (term,) = desc["terms"]
    parts, scale, group_clip = term["parts"], np.asarray(term["scale"]), desc["clip"]

    # ---- the client: plain MuJoCo on the same model and pose, nothing but the description -----------------------
    model = env.robot.model
    data = mujoco.MjData(model)
    data.qpos[:] = env.sim.qpos[0]
    mujoco.mj_forward(model, data)
    b = env.robot.base_qpos_adr
    base, (w, qx, qy, qz) = data.qpos[b:b + 3], data.qpos[b + 3:b + 7]
    feet = np.array([data.sensor(f"sl_pos_{f}").data[:2] for f in range(len(parts["rings"]["feet"]))])
    assert parts["frame"] == "yaw_aligned" and parts["rings"]["feet"] == list(env.robot.spec.feet)
    heading = np.arctan2(2 * (w * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
    centre = np.array([base[:2] if c < 0 else feet[c] for c in parts["centre"]])
    p = np.asarray(parts["points"])
    xy = centre + np.stack([np.cos(heading) * p[:, 0] - np.sin(heading) * p[:, 1],
                            np.sin(heading) * p[:, 0] + np.cos(heading) * p[:, 1]], axis=1)
    ray = parts["ground"]["ray"]
    top = base[2] + ray["start_above_base"]
    geomid = np.zeros(1, dtype=np.int32)
    ground = np.empty(len(xy))
    for i, (px, py) in enumerate(xy):  # one ray per point, as a client would
        dist = mujoco.mj_ray(model, data, np.array([px, py, top]), np.asarray(ray["direction"], dtype=np.float64),
                             np.asarray(ray["geomgroup"], dtype=np.uint8), ray["flg_static"], ray["bodyexclude"],
                             geomid)
        ground[i] = top - dist if dist >= 0 else -np.inf
    height = np.clip(base[2] - ground - parts["offset"], -parts["clip"], parts["clip"])
    client = np.clip(scale * height, -group_clip, group_clip)

    # ---- against the env ---------------------------------------------------------------------------------------
    assert len(client) == 187 + 4 * 10 and np.isfinite(ground).all()
    rise = stair_figures(1.0, env.robot.terrain.cfg)[0]
    assert np.ptp(height[:187]) >= 2 * rise - 1e-6 and np.ptp(height[187:]) > 0.1  # grid and rings see risers
    params = {k: v for k, v in term["params"].items()}
    rays = np.clip(scale * height_scan(env, **{**params, "method": "ray"})(s)[0], -group_clip, group_clip)
    np.testing.assert_allclose(client, rays, atol=1e-6)
    # lookup (bilinear) against MuJoCo's two triangles per cell: equal on planar cells, else within twist / 4
    terrain = env.robot.terrain
    hs, (x0, y0) = terrain.cfg.horizontal_scale, terrain.first_sample
    h = terrain.heights.astype(np.float64)
    ix = np.minimum(((xy[:, 0] - x0) / hs).astype(int), h.shape[1] - 2)
    iy = np.minimum(((xy[:, 1] - y0) / hs).astype(int), h.shape[0] - 2)
    twist = np.abs(h[iy, ix] - h[iy, ix + 1] - h[iy + 1, ix] + h[iy + 1, ix + 1])
    gap = np.abs(client - lookup) / scale
    assert np.all(gap <= twist / 4 + 1e-6), (gap.max(), twist[gap.argmax()])
    assert np.all(gap[twist == 0] <= 1e-6) and (twist == 0).mean() > 0.5


def test_deployed_scan_matches_the_training_scan_on_flat_ground(rough_export):
    run, out = rough_export
    meta = json.loads((out / "policy.json").read_text())
    loaded = load_policy(run)
    flat = replace(loaded.env_cfg.terrain, types={"flat": 1.0}, num_cols=1)
    env = make_env(override(replace(loaded.env_cfg, terrain=flat), num_envs=2,
                            observations={"policy": {"noise": 0.0}}))
    env.step(torch.full((2, 12), 0.3))
    s = env.state
    ground = env.robot.terrain.height_at(s.base_pos[:1, 0], s.base_pos[:1, 1])[0]
    base_pos = s.base_pos[0] - np.array([0.0, 0.0, ground])  # the deploy floor is at z = 0
    sample = RobotSignals(0.0, s.joint_pos[0], s.joint_vel[0], s.base_quat[0], s.base_ang_vel[0],
                        extra={"base_pos": base_pos})
    built = ObservationBuilder(meta)(sample, s.commands[0], s.actions[0])
    scan = env.get_observations()["extero"][0].numpy()
    assert np.ptp(scan) < 1e-9 and abs(scan[0]) > 0.1  # flat ground: one height, the base's (scaled)
    np.testing.assert_allclose(built[0, -187:], scan, atol=1e-5)


def test_the_loop_runs_a_scan_policy_in_the_deploy_sim_with_latency(rough_export):
    _, out = rough_export
    policy = OnnxPolicy(out / "policy.onnx")
    backend = SimBackend(robot_of(policy.meta), SimBackendConfig().for_policy(policy.meta))
    assert backend.cfg.latency_s == pytest.approx(0.02)  # the middle of the trained 0-40 ms
    loop = ControlLoop(policy, backend, SafetyConfig(), realtime=False)
    loop.reset()
    stats = loop.run(0.2, lambda t: np.array([0.5, 0.0, 0.0]))
    assert stats.ticks == 10 and not loop.safety.damping


def test_a_backend_without_base_position_is_a_clear_error(rough_export):
    _, out = rough_export
    meta = json.loads((out / "policy.json").read_text())
    sample = RobotSignals(0.0, np.zeros(12), np.zeros(12), np.array([1.0, 0, 0, 0]), np.zeros(3))
    with pytest.raises(StridelabError, match="height scan"):
        ObservationBuilder(meta)(sample, np.zeros(3), np.zeros(12))


def test_the_deployed_scan_reads_foot_rings_from_the_sim_backend(rough_export):
    """A scan with rings around the feet: the deploy sim reports the feet's positions, and the builder's rings sit
    on them; a backend without them is a clear error."""
    _, out = rough_export
    meta = json.loads((out / "policy.json").read_text())
    meta["extero"]["terms"][0]["params"].update(foot_radii=[0.1], foot_points=[4])
    meta["extero"]["terms"][0]["size"] = meta["extero"]["size"] = meta["extero"]["frame_size"] = 187 + 4 * 4
    meta["extero"]["terms"][0]["scale"] = 5.0  # the task's scale (policy.json lists it per value)
    builder = ObservationBuilder(meta)
    backend = SimBackend(robot_of(meta), SimBackendConfig().for_policy(meta))
    sample = backend.read_state()
    assert sample.extra["foot_pos"].shape == (4, 3)
    built = builder(sample, np.zeros(3), np.zeros(12))
    assert built.shape == (1, input_size(meta))
    rings = built[0, -16:] / 5.0
    np.testing.assert_allclose(rings, sample.extra["base_pos"][2], atol=1e-5)  # flat floor at z = 0 under every point
    xy = builder.extero.terms[0].world_points(builder.last_state)[0, 187:].reshape(4, 4, 2)
    np.testing.assert_allclose(xy.mean(axis=1), sample.extra["foot_pos"][:, :2], atol=1e-9)
    del sample.extra["foot_pos"]
    with pytest.raises(StridelabError, match="rings around the feet"):
        ObservationBuilder(meta)(sample, np.zeros(3), np.zeros(12))
