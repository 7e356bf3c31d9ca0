"""Export and deployment: ONNX/TorchScript parity, metadata, safety triggers, UDP bridge, sim-to-sim."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from stridelab.deploy.backend import RobotSignals, SimBackend, SimBackendConfig
from stridelab.deploy.export import export_policy
from stridelab.deploy.observation import ObservationBuilder
from stridelab.deploy.runtime import ControlLoop, OnnxPolicy, file_command
from stridelab.deploy.safety import SafetyConfig, SafetyLayer
from stridelab.learn.policy import load_policy
from stridelab.robots import get_robot, load_robot


@pytest.fixture(scope="module")
def mlp_export(tiny_run, tmp_path_factory):
    return export_policy(tiny_run, tmp_path_factory.mktemp("export_mlp"))


@pytest.fixture(scope="module")
def lstm_export(tiny_lstm_run, tmp_path_factory):
    return export_policy(tiny_lstm_run, tmp_path_factory.mktemp("export_lstm"))


def _env_obs(loaded, n, seed):
    """Random observations in the policy's format, as a TensorDict for the torch actor."""
    from tensordict import TensorDict

    g = torch.Generator().manual_seed(seed)
    policy = torch.randn(n, loaded.obs_groups["policy"], generator=g) * 2.0
    return TensorDict({"policy": policy}, batch_size=[n])


def test_mlp_export_parity_with_the_torch_actor(tiny_run, mlp_export):
    import onnxruntime as ort

    loaded = load_policy(tiny_run)
    assert loaded.policy.obs_normalizer.count.item() > 0  # the normalizer has real statistics
    obs = _env_obs(loaded, 64, seed=1)
    with torch.no_grad():
        expected = loaded.policy(obs).numpy()
    sess = ort.InferenceSession(str(mlp_export / "policy.onnx"))
    got = sess.run(None, {"obs": obs["policy"].numpy()})[0]
    assert np.abs(got - expected).max() < 1e-5
    scripted = torch.jit.load(str(mlp_export / "policy.pt"))
    assert np.abs(scripted(obs["policy"]).detach().numpy() - expected).max() < 1e-5
    # without the normalizer the outputs would differ: the test can fail
    raw = loaded.policy.mlp(obs["policy"]).detach().numpy()
    assert np.abs(raw - expected).max() > 1e-3


def test_lstm_export_parity_over_a_sequence(tiny_lstm_run, lstm_export):
    import onnxruntime as ort

    loaded = load_policy(tiny_lstm_run)
    meta = json.loads((lstm_export / "policy.json").read_text())
    assert meta["recurrent"]["type"] == "lstm" and meta["inputs"] == ["obs", "h_in", "c_in"]
    sess = ort.InferenceSession(str(lstm_export / "policy.onnx"))
    loaded.policy.reset()
    shape = meta["recurrent"]["state_shape"]
    h, c = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    worst = 0.0
    for step in range(10):
        obs = _env_obs(loaded, 1, seed=step)
        with torch.no_grad():
            expected = loaded.policy(obs).numpy()  # the actor carries its own hidden state
        a, h, c = sess.run(None, {"obs": obs["policy"].numpy(), "h_in": h, "c_in": c})
        worst = max(worst, float(np.abs(a - expected).max()))
    assert worst < 1e-5
    assert np.abs(h).max() > 0  # state was carried


def test_metadata_is_complete(mlp_export):
    meta = json.loads((mlp_export / "policy.json").read_text())
    for key in ("joint_names", "default_joint_pos", "kp", "kd", "action", "control_dt", "observation",
                "privileged", "commands", "recurrent", "git_sha", "joint_limits", "torque_limits", "inputs", "outputs",
                "latency", "gait"):
        assert key in meta, key
    j = len(meta["joint_names"])
    assert j == 12 and len(meta["default_joint_pos"]) == j and len(meta["kp"]) == j
    assert meta["control_dt"] == pytest.approx(0.02)
    terms = meta["observation"]["terms"]
    assert sum(t["size"] for t in terms) == meta["observation"]["frame_size"] == 53
    assert [t["name"] for t in terms][:3] == ["base_ang_vel", "projected_gravity", "velocity_commands"]
    assert meta["recurrent"] is None and meta["git_sha"] != ""
    # every term names the code that built it, so the deploy runtime can rebuild the vector
    assert terms[3]["func"] == "stridelab.mdp.observations:joint_pos_rel"
    assert terms[2]["scale"] == [2.0, 2.0, 0.25]
    action = meta["action"]
    assert action["func"] == "stridelab.mdp.actions:joint_position"
    assert action["params"]["scale"] == 0.25 and action["params"]["default_joint_pos"] == meta["default_joint_pos"]
    # the privileged group lists only what is randomized by default (friction, base mass)
    parts = [p["name"] for t in meta["privileged"]["terms"] for p in t.get("parts", [])]
    assert parts == ["friction", "added_mass"] and meta["privileged"]["size"] == 12
    # whole descriptions with the configured values: the gait clock's standing threshold, the action's scale
    (clock,) = [t for t in terms if t["name"] == "gait_clock"]
    assert clock["params"] == {"min_command": 0.1} and "below 0.1 m/s" in clock["description"]
    assert meta["gait"]["min_command"] == 0.1 and "below 0.1 m/s" in meta["gait"]["phase"]
    assert "default_joint_pos[j] + 0.25 * clip(action_j, -10, 10) [rad]" in action["description"]
    assert all(t["description"].endswith(".") and "units" not in t for t in terms)
    # the flat task trains without latency (its latency event has the neutral range)
    assert meta["latency"]["range_s"] == [0.0, 0.0] and meta["latency"]["middle_s"] == 0.0


def test_observation_builder_matches_the_training_env(tiny_run, mlp_export):
    """The metadata-driven builder reproduces the env's (noise-free) policy observation."""
    from stridelab.config import override
    from stridelab.envs import make_env
    meta = json.loads((mlp_export / "policy.json").read_text())
    loaded = load_policy(tiny_run)
    env = make_env(override(loaded.env_cfg, num_envs=2, observations={"policy": {"noise": 0.0}}))
    env.step(torch.full((2, 12), 0.3))
    s = env.state
    state = RobotSignals(0.0, s.joint_pos[0], s.joint_vel[0], s.base_quat[0], s.base_ang_vel[0])
    builder = ObservationBuilder(meta)
    builder.clock.phase[:] = env.commands.gait.phase[0]  # the robot's clock at the env's phase
    builder.clock.step(0.0)
    built = builder(state, s.commands[0], s.actions[0])
    assert np.abs(built[0] - env.get_observations()["policy"][0].numpy()).max() < 1e-5


def _state(**kw):
    base = dict(stamp=1.0, joint_pos=np.zeros(12), joint_vel=np.zeros(12), base_quat=np.array([1.0, 0, 0, 0]),
                base_ang_vel=np.zeros(3), extra={"base_pos": np.array([0.0, 0.0, 0.3])})
    base.update(kw)
    return RobotSignals(**base)


@pytest.mark.parametrize("fault, kind", [
    (dict(joint_pos=np.full(12, np.nan)), "non_finite"),
    (dict(joint_vel=np.full(12, 100.0)), "out_of_range"),
    (dict(stamp=0.5), "stale_state"),
    (dict(base_quat=np.array([np.cos(0.6), np.sin(0.6), 0.0, 0.0])), "tilt"),  # 1.2 rad roll
    (dict(extra={"base_pos": np.array([0.0, 0.0, 0.05])}), "fall"),
])
def test_each_safety_trigger(mlp_export, fault, kind, caplog):
    meta = json.loads((mlp_export / "policy.json").read_text())
    layer = SafetyLayer(meta)
    assert layer.check_state(_state(), now=1.01)
    assert not layer.check_state(_state(**fault), now=1.01)
    assert layer.damping and layer.events[-1].kind == kind
    assert kind in caplog.text and "damping" in caplog.text
    targets, kp, kd = layer.damping_command(np.zeros(12))
    assert (kp == 0).all() and (kd > 0).all()
    # the latch holds until reset
    assert not layer.check_state(_state(), now=1.02)
    layer.reset()
    assert layer.check_state(_state(), now=1.02)


def test_non_finite_observation_and_target_clamps(mlp_export):
    meta = json.loads((mlp_export / "policy.json").read_text())
    layer = SafetyLayer(meta, SafetyConfig(max_target_rate=5.0))
    obs = np.zeros((1, 45), np.float32)
    assert layer.check_observation(obs, 0.0)
    obs[0, 3] = np.nan
    assert not layer.check_observation(obs, 0.0) and layer.events[-1].kind == "non_finite"
    layer.reset()
    limits = np.asarray(meta["joint_limits"])
    out = layer.filter_targets(np.full(12, 100.0), current=limits[:, 1] - 0.01)
    assert (out <= limits[:, 1]).all()  # joint limits
    step = layer.filter_targets(np.asarray(meta["default_joint_pos"]), current=out)
    assert np.abs(step - out).max() <= 5.0 * meta["control_dt"] + 1e-9  # rate limit


def test_control_loop_damps_on_an_injected_fault(mlp_export):
    """A backend that starts returning NaN joint angles mid-run: the loop switches to damping."""
    policy = OnnxPolicy(mlp_export / "policy.onnx")
    robot = load_robot(get_robot("quadruped"))

    class Faulty(SimBackend):
        def read_state(self):
            s = super().read_state()
            if self.time() > 0.5:
                s.joint_pos = s.joint_pos * np.nan
            return s

    backend = Faulty(robot, SimBackendConfig().for_policy(policy.meta))
    written = []
    real_write = backend.write_targets
    backend.write_targets = lambda q, kp, kd: (written.append(kp.copy()), real_write(q, kp, kd))
    loop = ControlLoop(policy, backend, realtime=False)
    loop.reset()
    loop.run(1.0, lambda t: np.zeros(3))
    assert loop.safety.events and loop.safety.events[0].kind == "non_finite"
    assert (written[0] > 0).all() and (written[-1] == 0).all()


def test_file_commands(tmp_path):
    f = tmp_path / "cmd.csv"
    f.write_text("# t, vx, vy, yaw\n0,0,0,0\n2,0.5,0,0.2\n")
    cmd = file_command(f)
    assert cmd(1.0).tolist() == [0, 0, 0] and cmd(3.0).tolist() == [0.5, 0, 0.2]
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n")
    from stridelab.errors import StridelabError

    with pytest.raises(StridelabError, match="4 columns"):
        file_command(bad)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_localhost_bridge_paces_the_loop_in_real_time(mlp_export):
    """The loop runs its ticks against a robot process over UDP, never faster than real time.

    Timing on a loaded 2-core machine is not asserted here; benchmarks/deploy_loop.py measures it."""
    from stridelab.deploy.bridge import UdpBackend

    port = _free_port()
    robot = subprocess.Popen([sys.executable, "-m", "stridelab.deploy.bridge", "quadruped", str(port), "12"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        backend = UdpBackend(12, port, timeout_s=20.0)
        policy = OnnxPolicy(mlp_export / "policy.onnx")
        loop = ControlLoop(policy, backend, realtime=True)
        loop.reset()
        t0 = time.monotonic()
        stats = loop.run(1.0, lambda t: np.zeros(3))
        wall = time.monotonic() - t0
        backend.close()
        out, _ = robot.communicate(timeout=20)
    finally:
        robot.kill()
    summary = stats.summary()
    assert summary["ticks"] == 50 and 0 <= summary["overruns"] <= 50, summary
    assert wall >= 1.0 - 0.02  # paced by the clock: 50 ticks of 20 ms cannot finish early
    served = eval(out.strip().splitlines()[-1])  # {'targets': ..., 'states': ...}
    assert served["targets"] > 0 and backend.received > 0  # targets reached the robot, states came back


def test_sim2sim_report_of_a_tiny_policy(mlp_export, tmp_path):
    from stridelab.deploy.sim2sim import run_sim2sim

    report = run_sim2sim(mlp_export / "policy.onnx", tmp_path, repeats=1, duration_s=1.5,
                         commands=np.array([[0.5, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    assert (tmp_path / "sim2sim.json").is_file() and (tmp_path / "sim2sim.md").is_file()
    assert report["backend"]["latency_s"] == 0.0 and report["trained_latency"]["range_s"] == [0.0, 0.0]
    assert [(r["vx"], r["yaw_rate"]) for r in report["rows"]] == [(0.5, 0.0), (0.0, 1.0)]
    assert report["fall_rate"] in (0.0, 0.5, 1.0)  # one run per command
    assert np.isfinite(report["lin_vel_error"]) or report["fall_rate"] == 1.0
    train_eval = json.loads((mlp_export.parent / "eval.json").read_text()) if (mlp_export.parent / "eval.json").exists() \
        else json.loads((mlp_export / "train_eval.json").read_text())
    assert report["train_eval"]["lin_vel_error"] == pytest.approx(train_eval["lin_vel_error"])
    table = (tmp_path / "sim2sim.md").read_text()
    assert "training sim (eval)" in table and "deploy sim (sim2sim)" in table


def test_deploy_cli_without_metadata_is_a_clear_error(tmp_path, capsys):
    from stridelab.app.cli import main

    (tmp_path / "policy.onnx").write_bytes(b"not onnx")
    assert main(["deploy", str(tmp_path / "policy.onnx")]) == 2
    assert "policy.json" in capsys.readouterr().err
