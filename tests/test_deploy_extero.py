"""Exporting and deploying a policy that reads the height scan (a terrain teacher): policy.json describes the
scan, the deploy-side builder reproduces the training env's scan on flat ground, and the control loop runs it
in the deploy simulation (with actuation latency)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from stridelab.app.cli import main
from stridelab.config import override
from stridelab.deploy.backend import RobotState, SimBackend, SimBackendConfig, robot_of
from stridelab.deploy.export import export_policy, input_size
from stridelab.deploy.observation import ObservationBuilder
from stridelab.deploy.runtime import ControlLoop, OnnxPolicy
from stridelab.deploy.safety import SafetyConfig
from stridelab.errors import StridelabError
from stridelab.learn.policy import load_policy
from stridelab.envs import make_env
from conftest import TINY_TRAIN


@pytest.fixture(scope="module")
def rough_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("rough_run")
    assert main(["train", "quadruped-rough", "--max-iterations", "1", "--log-dir", str(root), "--no-eval",
                 *TINY_TRAIN]) == 0
    (run,) = list((root / "quadruped-rough").iterdir())
    return run, export_policy(run, tmp_path_factory.mktemp("rough_export"))


def test_policy_json_describes_the_height_scan(rough_export):
    _, out = rough_export
    meta = json.loads((out / "policy.json").read_text())
    assert meta["observation_groups"] == ["policy", "extero"]
    assert meta["extero"]["size"] == 17 * 11
    assert input_size(meta) == meta["observation"]["size"] + 187 == ObservationBuilder(meta).size


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
    sample = RobotState(0.0, s.joint_pos[0], s.joint_vel[0], s.base_quat[0], s.base_ang_vel[0],
                        extra={"base_pos": base_pos})
    built = ObservationBuilder(meta)(sample, s.commands[0], s.actions[0])
    scan = env.get_observations()["extero"][0].numpy()
    assert np.ptp(scan) < 1e-9 and abs(scan[0]) > 0.1  # flat ground: one height, the base's (scaled)
    np.testing.assert_allclose(built[0, -187:], scan, atol=1e-5)


def test_the_loop_runs_a_scan_policy_in_the_deploy_sim_with_latency(rough_export):
    _, out = rough_export
    policy = OnnxPolicy(out / "policy.onnx")
    backend = SimBackend(robot_of(policy.meta), SimBackendConfig(latency_s=0.02))
    loop = ControlLoop(policy, backend, SafetyConfig(), realtime=False)
    loop.reset()
    stats = loop.run(0.2, lambda t: np.array([0.5, 0.0, 0.0]))
    assert stats.ticks == 10 and not loop.safety.damping


def test_a_backend_without_base_position_is_a_clear_error(rough_export):
    _, out = rough_export
    meta = json.loads((out / "policy.json").read_text())
    sample = RobotState(0.0, np.zeros(12), np.zeros(12), np.array([1.0, 0, 0, 0]), np.zeros(3))
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
    backend = SimBackend(robot_of(meta), SimBackendConfig())
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
