"""Teacher-student distillation: the belief student (encoder, gate, decoder), starting from the teacher, the
distillation command with exact resume, and the student's export with its recurrent state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from rsl_rl.models import MLPModel
from tensordict import TensorDict

from conftest import TINY_TRAIN
from stridelab.app.cli import main
from stridelab.learn.belief import BeliefStudent
from stridelab.learn.checkpoint import load_checkpoint

P, E, D, A = 10, 12, 5, 4  # proprioception, scan, privileged, actions


def obs_batch(n: int, seed: int = 0, scale: float = 1.0) -> TensorDict:
    g = torch.Generator().manual_seed(seed)
    return TensorDict({"policy": scale * torch.randn(n, P, generator=g), "extero": scale * torch.randn(n, E, generator=g),
                       "teacher_extero": torch.randn(n, E, generator=g), "privileged": torch.randn(n, D, generator=g)},
                      batch_size=[n])


def student(decoder: bool = True) -> BeliefStudent:
    torch.manual_seed(0)
    return BeliefStudent(obs_batch(1), {"student": ["policy", "extero"]}, "student", A, hidden_dims=(32, 32),
                         rnn_hidden_dim=16, embed_dim=8, decoder_sizes={"scan": E, "privileged": D} if decoder else {})


def test_encoder_and_decoder_shapes_and_the_gates_stay_in_0_1():
    s = student()
    obs = obs_batch(6, scale=1e3)  # extreme inputs: the gates saturate but stay in [0, 1]
    actions, scan, privileged = s.forward_with_reconstruction(obs)
    assert actions.shape == (6, A) and scan.shape == (6, E) and privileged.shape == (6, D)
    assert s.get_hidden_state().shape == (1, 6, 16)  # the belief state carries to the next step
    p, e, h, belief = s.encode(obs)
    assert (p.shape, e.shape, h.shape, belief.shape) == ((6, P), (6, E), (6, 16), (6, E))
    for gate in (s.last_gate, torch.sigmoid(s.decoder.gate(h))):
        assert gate.min() >= 0.0 and gate.max() <= 1.0 and gate.shape == (6, E)
    assert torch.isfinite(actions).all() and torch.isfinite(scan).all()
    s.reset(torch.tensor([1, 0, 0, 0, 0, 0]))
    assert (s.get_hidden_state()[0, 0] == 0).all() and (s.get_hidden_state()[0, 1] != 0).any()
    assert student(decoder=False).decoder is None


def test_the_reconstruction_loss_falls_on_a_fixed_batch():
    s = student()
    steps = [obs_batch(32, seed=k) for k in range(4)]
    for batch in steps:
        s.update_normalization(batch)
    opt = torch.optim.Adam(s.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        s.reset()
        total = 0
        for batch in steps:  # a short sequence: the belief state carries from step to step
            _, scan, privileged = s.forward_with_reconstruction(batch)
            scan_t, privileged_t = s.reconstruction_targets(batch)
            total = total + torch.nn.functional.mse_loss(scan, scan_t) + torch.nn.functional.mse_loss(privileged,
                                                                                                      privileged_t)
        return total / len(steps)

    first = float(loss())
    for _ in range(60):  # the loss falls to about 0.38 of its start in 60 steps, 0.18 in 150
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    assert float(loss()) < 0.5 * first


def test_the_student_starts_from_the_teachers_weights():
    obs = obs_batch(64)
    teacher = MLPModel(obs, {"teacher": ["policy", "teacher_extero"]}, "teacher", A, hidden_dims=(32, 32),
                       obs_normalization=True, distribution_cfg={"class_name": "GaussianDistribution", "init_std": 0.5})
    teacher.train()
    teacher.update_normalization(obs)
    teacher.eval()
    s = student()
    assert s.init_from_teacher(teacher) == ["input normalization", "policy MLP"]
    for (name, mine), theirs in zip(s.mlp.state_dict().items(), teacher.mlp.state_dict().values()):
        assert torch.equal(mine, theirs), name
    torch.testing.assert_close(torch.cat([s.norm_proprio.mean, s.norm_scan.mean]), teacher.obs_normalizer.mean)
    torch.testing.assert_close(torch.cat([s.norm_proprio.std, s.norm_scan.std]), teacher.obs_normalizer.std)
    # with the gate fully open the belief is the scan itself: on a clean scan the student acts as the teacher
    with torch.no_grad():
        s.gate.bias.fill_(1e3)
        clean = TensorDict({"policy": obs["policy"], "extero": obs["teacher_extero"]}, batch_size=[64])
        torch.testing.assert_close(s(clean), teacher(obs), atol=1e-5, rtol=1e-5)
    # a teacher of another shape: nothing is copied, and no error
    other = MLPModel(obs, {"teacher": ["policy"]}, "teacher", A, hidden_dims=(8,), obs_normalization=True)
    assert student().init_from_teacher(other) == []


DISTILL_TINY = ["--num-envs", "16", "--train.num-steps-per-env", "8", "--train.save-interval", "1",
                "--env.num-threads", "1", "--env.episode-length-s", "0.4", "--no-eval",
                "--train.distillation.gradient-length", "4"]


@pytest.fixture(scope="module")
def distilled(tiny_rough_run, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("students")
    assert main(["distill", str(tiny_rough_run), "--max-iterations", "3", "--log-dir", str(root), *DISTILL_TINY]) == 0
    (run,) = list((root / "quadruped-rough-student").iterdir())
    return run


def test_distill_writes_a_normal_run_that_resumes_exactly(distilled, tiny_rough_run, tmp_path):
    data = load_checkpoint(distilled / "checkpoints" / "model_000003.pt")  # weights_only=True
    assert data["algorithm"] == "BeliefDistillation" and data["policy_model"] == "student"
    assert data["policy_obs_groups"] == {"policy": 3 * 53, "extero": 187}
    assert data["policy_cfg"]["decoder_sizes"]["scan"] == 187
    assert any(p.name.startswith("events.out.tfevents") for p in distilled.iterdir())  # TensorBoard
    # the teacher came from its checkpoint; the student moved away from its starting point
    teacher = load_checkpoint(sorted((tiny_rough_run / "checkpoints").iterdir())[-1])
    state = data["algorithm_state"]
    for key, value in teacher["algorithm_state"]["actor_state_dict"].items():
        assert torch.equal(state["teacher_state_dict"][key], value)
    # 2 iterations, then --resume to 3: the same student as 3 straight iterations
    root = tmp_path / "runs"
    assert main(["distill", str(tiny_rough_run), "--max-iterations", "2", "--log-dir", str(root), *DISTILL_TINY]) == 0
    (run,) = list((root / "quadruped-rough-student").iterdir())
    assert main(["distill", "--resume", str(run), "--max-iterations", "3", "--no-eval"]) == 0
    resumed = load_checkpoint(run / "checkpoints" / "model_000003.pt")["algorithm_state"]["student_state_dict"]
    for key, value in state["student_state_dict"].items():
        assert torch.equal(resumed[key], value), key


def test_resume_refuses_a_changed_student(distilled, capsys):
    assert main(["distill", "--resume", str(distilled), "--train.distillation.reconstruction-coef", "0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--train.distillation.reconstruction-coef 0.1 (stored: 0.5)" in err[0]


def test_distill_needs_a_terrain_teacher(tiny_run, capsys):
    assert main(["distill", str(tiny_run), "--max-iterations", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "distil a terrain teacher" in err[0]
    assert main(["distill", "--max-iterations", "1"]) == 2
    assert "needs the teacher's run" in capsys.readouterr().err


def test_every_noise_parameter_is_an_env_option(tiny_rough_run):
    from stridelab.app.cli import parse

    options = parse(["distill", str(tiny_rough_run), "--env.observations.extero.terms.height-scan.params.blind-prob",
                     "0.5", "--env.observations.extero.terms.height-scan.params.drift-rate", "0.2"]).options
    params = options.env.observations["extero"].terms["height_scan"].params
    assert params["blind_prob"] == 0.5 and params["drift_rate"] == 0.2 and params["point_noise"] == 0.02
    assert "teacher_extero" in options.env.observations  # the teacher's clean scan
    assert options.env.curriculum["scan_noise"].params["end_step"] == 9600


def test_the_student_exports_with_its_recurrent_state(distilled, tmp_path):
    import onnxruntime as ort

    from stridelab.deploy.export import export_policy
    from stridelab.learn.policy import load_policy

    out = export_policy(distilled, tmp_path / "export")
    meta = json.loads((out / "policy.json").read_text())
    assert meta["inputs"] == ["obs", "h_in"] and meta["outputs"] == ["actions", "h_out"]
    assert meta["recurrent"]["state_shapes"] == [[1, 1, 128]] and meta["observation_groups"] == ["policy", "extero"]
    sess = ort.InferenceSession(str(out / "policy.onnx"), providers=["CPUExecutionProvider"])
    loaded = load_policy(distilled)
    rng = np.random.default_rng(0)
    h = np.zeros((1, 1, 128), np.float32)
    worst, moved = 0.0, 0.0
    for _ in range(20):  # a sequence: the state carried by the caller equals the model's own
        obs = {"policy": rng.normal(0, 1, (1, 159)).astype(np.float32),
               "extero": rng.uniform(-0.5, 0.5, (1, 187)).astype(np.float32)}
        a_onnx, h = sess.run(None, {"obs": np.concatenate([obs["policy"], obs["extero"]], axis=1), "h_in": h})
        a_torch = loaded.policy(TensorDict({k: torch.from_numpy(v) for k, v in obs.items()}, batch_size=[1]))
        worst = max(worst, float(np.abs(a_onnx - a_torch.numpy()).max()))
        moved = max(moved, float(np.abs(h).max()))
    assert worst < 1e-5 and moved > 1e-3


def test_eval_puts_the_student_beside_its_teacher_under_every_scan_condition(distilled, tmp_path):
    from stridelab.eval.report import evaluate_run
    from stridelab.eval.student import SCAN_CONDITIONS

    report = evaluate_run(distilled, envs_per_command=1, duration_s=0.4, out=tmp_path, terrain_trials=1)
    student = report["student"]
    assert list(student["conditions"]) == list(SCAN_CONDITIONS)
    for rows in student["conditions"].values():
        assert set(rows) == {"student", "teacher"}
        for table in rows.values():
            assert set(table["survival_by_type"]) == set(table["success_rate_by_type"])
            assert all(0.0 <= v <= 1.0 for v in table["survival_by_type"].values())
    assert json.loads((tmp_path / "eval.json").read_text())["student"]["teacher"] == student["teacher"]


def test_the_student_runs_in_the_deploy_sim_on_a_terrain_tile_with_the_noise_model(distilled, tmp_path, capsys):
    from stridelab.deploy.export import export_policy

    out = export_policy(distilled, tmp_path / "export")
    assert json.loads((out / "policy.json").read_text())["terrain"]["num_rows"] >= 1  # the training terrain
    args = ["deploy", str(out / "policy.onnx"), "--terrain", "stairs_down", "--terrain-level", "0.5",
            "--scan-noise", "1", "--duration", "0.4"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[printed.index("{"):])
    assert summary["terrain"]["type"] == "stairs_down" and summary["terrain"]["scan_noise"] == 1.0
    assert summary["ticks"] == 20 and summary["terrain"]["distance_m"] >= 0.0
    assert main([*args[:2], "--terrain", "lava"]) == 2
    assert "not a terrain type the policy was trained on" in capsys.readouterr().err
