"""Ensembles: the mean of several policies' actions in torch and in the exported ONNX (recurrent members carrying
their own state), policy.json's members, the check that members read the same observations, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tensordict import TensorDict

from stridelab.app.cli import main
from stridelab.errors import ConfigError
from stridelab.learn.config import TrainConfig
from stridelab.learn.ensemble import load_ensemble
from stridelab.learn.policy import load_policy
from stridelab.learn.trainer import Trainer
from stridelab.tasks import make_env_cfg

MEMBERS = {"mlp": ("none", 1), "lstm": ("lstm", 2), "gru": ("gru", 3)}  # name: (rnn type, seed)


def _run(root, name: str, rnn_type: str, seed: int, iters: int = 1, **env) -> str:
    env_cfg = make_env_cfg("quadruped-flat", num_envs=8, num_threads=1, seed=seed, **env)
    cfg = TrainConfig(num_steps_per_env=4, max_iterations=iters, rnn_type=rnn_type, rnn_hidden_dim=8, torch_threads=1,
                      actor_hidden_dims=(16,), critic_hidden_dims=(16,))
    Trainer(env_cfg, cfg, root / name, seed=seed).train(show_progress=False)
    return str(root / name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ensemble")
    return {name: _run(root, name, rnn, seed) for name, (rnn, seed) in MEMBERS.items()}


def _observations(n_steps: int, n_envs: int, size: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    return [torch.randn(n_envs, size, generator=gen) for _ in range(n_steps)]


def test_ensemble_is_the_mean_of_its_members_in_torch(runs):
    targets = list(runs.values())
    ensemble = load_ensemble(targets)
    members = [load_policy(t).policy for t in targets]  # loaded separately: each carries its own state
    assert ensemble.policy.is_recurrent and len(ensemble.members) == 3
    size = ensemble.obs_groups["policy"]
    worst, spread = 0.0, 0.0
    for obs in _observations(6, 3, size):
        td = TensorDict({"policy": obs}, batch_size=[3])
        actions = torch.stack([m(td) for m in members])
        got = ensemble.policy(td)
        worst = max(worst, float((got - actions.mean(dim=0)).abs().max()))
        spread = max(spread, float((actions - actions.mean(dim=0)).abs().max()))
    assert worst < 1e-6 and spread > 1e-3  # the members differ, so the mean is not any one of them
    ensemble.policy.reset()
    for m in members:
        m.reset()
    td = TensorDict({"policy": _observations(1, 3, size)[0]}, batch_size=[3])
    assert torch.allclose(ensemble.policy(td), torch.stack([m(td) for m in members]).mean(dim=0), atol=1e-6)


def test_exported_ensemble_is_the_mean_of_its_members_in_onnxruntime(runs, tmp_path):
    import onnxruntime as ort

    from stridelab.deploy.export import check_parity, export_policy
    from stridelab.deploy.runtime import OnnxPolicy

    targets = [runs["mlp"], runs["lstm"], runs["gru"]]
    out = export_policy(targets, tmp_path / "export")
    meta = json.loads((out / "policy.json").read_text())
    assert meta["inputs"] == ["obs", "h_in_1", "c_in_1", "h_in_2"]
    assert meta["outputs"] == ["actions", "h_out_1", "c_out_1", "h_out_2"]
    assert meta["recurrent"]["state_shapes"] == [[1, 1, 8]] * 3
    members = meta["ensemble"]["members"]
    assert [m["policy"] for m in members] == ["mlp", "lstm", "gru"] and members[0]["recurrent"] is None
    assert [m["checkpoint"] for m in members] == [str(load_policy(t).checkpoint) for t in targets]
    torch_members = [load_policy(t).policy for t in targets]
    sess = ort.InferenceSession(str(out / "policy.onnx"), providers=["CPUExecutionProvider"])
    runtime = OnnxPolicy(out)
    state = [np.zeros((1, 1, 8), np.float32) for _ in range(3)]
    worst = 0.0
    for obs in _observations(8, 1, meta["observation"]["size"]):
        expected = torch.stack([m(TensorDict({"policy": obs}, batch_size=[1])) for m in torch_members]).mean(0)
        actions, *state = sess.run(None, {"obs": obs.numpy(), **dict(zip(meta["inputs"][1:], state))})
        worst = max(worst, float(np.abs(actions - expected.numpy()).max()),
                    float(np.abs(runtime(obs.numpy()) - expected.numpy()[0]).max()))
    assert worst < 1e-5 and all(np.abs(s).max() > 0 for s in state)  # the members' states were carried
    assert check_parity(out) < 1e-5


def test_members_must_read_the_same_observations(runs, tmp_path):
    other = _run(tmp_path, "scaled", "none", 4, iters=0,
                 observations={"policy": {"terms": {"base_ang_vel": {"scale": 0.5}}}})
    with pytest.raises(ConfigError, match=r"differ in observation\.policy\.terms\[0\]\.scale\[0\] \(0\.25 vs 0\.5\)"):
        load_ensemble([runs["mlp"], other])
    noise_free = _run(tmp_path, "noise_free", "none", 5, iters=0, observations={"policy": {"noise": 0.0}})
    assert len(load_ensemble([runs["mlp"], noise_free]).members) == 2  # training noise is not what the policy reads
    biped = tmp_path / "biped"
    env_cfg = make_env_cfg("biped-flat", num_envs=4, num_threads=1)
    Trainer(env_cfg, TrainConfig(num_steps_per_env=4, max_iterations=0, actor_hidden_dims=(16,), torch_threads=1,
                                 critic_hidden_dims=(16,)), biped, seed=0).train(show_progress=False)
    with pytest.raises(ConfigError, match="ensemble members differ"):
        load_ensemble([runs["mlp"], str(biped)])


def test_cli_plays_and_exports_an_ensemble(runs, tmp_path, capsys):
    first, second = runs["mlp"], runs["lstm"]
    assert main(["export", first, second, "--out", str(tmp_path / "exp")]) == 0
    assert "an ensemble of 2 policies" in capsys.readouterr().out
    assert len(json.loads((tmp_path / "exp" / "policy.json").read_text())["ensemble"]["members"]) == 2
    assert main(["play", first, second, "--no-video", "--duration", "0.5"]) == 0
    assert "ensemble of 2 policies" in capsys.readouterr().out
    assert (Path(first) / "ensemble" / "plots" / "base_velocity.png").is_file()
    assert main(["play", first, second, "--viewer"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--viewer plays one policy" in err[0]
