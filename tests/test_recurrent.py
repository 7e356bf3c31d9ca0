"""Recurrent policies: LSTM and GRU actors train (with the sequence mirror loss), resume exactly, and export with
torch/onnxruntime parity over a sequence with carried state; the --policy option; MLP defaults unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tensordict import TensorDict

from stridelab.config import override
from stridelab.learn.config import TrainConfig
from stridelab.learn.trainer import Trainer
from stridelab.tasks import make_env_cfg

SIZES = {"lstm": {"rnn_hidden_dim": 16, "rnn_num_layers": 2}, "gru": {"rnn_hidden_dim": 12, "rnn_num_layers": 1}}


def _trainer(run_dir, rnn_type: str, iters: int) -> Trainer:
    env_cfg = make_env_cfg("quadruped-flat", num_envs=16, num_threads=1, seed=7)
    cfg = TrainConfig(num_steps_per_env=8, max_iterations=iters, save_interval=100, rnn_type=rnn_type, torch_threads=1,
                      actor_hidden_dims=(32, 32), critic_hidden_dims=(32, 32), **SIZES[rnn_type])
    trainer = Trainer(env_cfg, cfg, run_dir, seed=7)
    trainer.losses = []
    real = trainer.runner.alg.update
    trainer.runner.alg.update = lambda: trainer.losses.append(real()) or trainer.losses[-1]
    return trainer


@pytest.fixture(scope="module", params=["lstm", "gru"])
def two_iterations(request, tmp_path_factory):
    """(rnn type, a trainer after 2 iterations with its checkpoint)."""
    trainer = _trainer(tmp_path_factory.mktemp(request.param) / "run", request.param, 2)
    result = trainer.train(show_progress=False)
    assert result.iterations == 2 and result.checkpoint.name == "model_000002.pt"
    return request.param, trainer


def test_recurrent_policy_trains_with_the_mirror_loss_and_resumes_exactly(two_iterations, tmp_path):
    rnn_type, first = two_iterations
    alg = first.runner.alg
    assert type(alg).__name__ == "StridelabPPO" and first.symmetry == "loss"  # symmetry auto, recurrent actor
    assert alg.actor.rnn.rnn.num_layers == SIZES[rnn_type]["rnn_num_layers"]
    assert isinstance(alg.actor.rnn.rnn, torch.nn.LSTM if rnn_type == "lstm" else torch.nn.GRU)
    assert all(loss["symmetry"] > 0 for loss in first.losses)
    straight = _trainer(tmp_path / "straight", rnn_type, 3)
    straight.train(show_progress=False)
    resumed = _trainer(tmp_path / "resumed", rnn_type, 3)
    resumed.load(first._last_path)
    resumed.train(fresh=False, show_progress=False)
    # the third iteration's losses and the weights after it are those of the uninterrupted run
    assert len(straight.losses) == 3 and len(resumed.losses) == 1
    assert resumed.losses[0] == straight.losses[2]
    for model in ("actor", "critic"):
        a = getattr(straight.runner.alg, model).state_dict()
        b = getattr(resumed.runner.alg, model).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), model
    assert resumed.iteration == straight.iteration == 3 and resumed.env_steps == straight.env_steps
    # and the comparison can fail: the third iteration changed the weights
    c = first.runner.alg.actor.state_dict()
    assert any(not torch.equal(c[k], straight.runner.alg.actor.state_dict()[k]) for k in c)


def test_recurrent_export_parity_over_a_sequence_with_carried_state(two_iterations, tmp_path):
    import onnxruntime as ort

    from stridelab.deploy.export import check_parity, export_policy
    from stridelab.learn.policy import load_policy

    rnn_type, trainer = two_iterations
    out = export_policy(trainer._last_path, tmp_path / "export")
    meta = json.loads((out / "policy.json").read_text())
    states = ["h", "c"] if rnn_type == "lstm" else ["h"]
    assert meta["inputs"] == ["obs", *(f"{s}_in" for s in states)]
    assert meta["outputs"] == ["actions", *(f"{s}_out" for s in states)]
    layers, hidden = SIZES[rnn_type]["rnn_num_layers"], SIZES[rnn_type]["rnn_hidden_dim"]
    assert meta["recurrent"]["type"] == rnn_type and meta["recurrent"]["state_shape"] == [layers, 1, hidden]
    loaded = load_policy(trainer._last_path)
    loaded.policy.reset()
    sess = ort.InferenceSession(str(out / "policy.onnx"), providers=["CPUExecutionProvider"])
    state = [np.zeros((layers, 1, hidden), np.float32) for _ in states]
    gen = torch.Generator().manual_seed(3)
    worst, first_actions = 0.0, None
    obs0 = torch.randn(1, loaded.obs_groups["policy"], generator=gen)
    for step in range(12):
        obs = obs0 if step % 2 == 0 else torch.randn(1, loaded.obs_groups["policy"], generator=gen)
        expected = loaded.policy(TensorDict({"policy": obs}, batch_size=[1])).numpy()  # carries its own state
        actions, *state = sess.run(None, {"obs": obs.numpy(), **dict(zip(meta["inputs"][1:], state))})
        worst = max(worst, float(np.abs(actions - expected).max()))
        if step == 0:
            first_actions = actions
        elif step == 2:  # the same observation again: the carried state changed the action
            assert np.abs(actions - first_actions).max() > 1e-4
    assert worst < 1e-5 and all(np.abs(s).max() > 0 for s in state)
    assert check_parity(out) < 1e-5  # TorchScript against onnxruntime


def test_policy_option_sets_the_recurrent_actor(capsys):
    from stridelab.app.cli import main, parse

    parsed = parse(["train", "biped-flat", "--policy", "gru", "--train.rnn-hidden-dim", "32",
                    "--train.rnn-num-layers", "2"])
    train_cfg = parsed.options.train
    assert (train_cfg.rnn_type, train_cfg.rnn_hidden_dim, train_cfg.rnn_num_layers) == ("gru", 32, 2)
    actor = train_cfg.rsl_rl_dict("loss")["actor"]
    assert actor["class_name"] == "RNNModel" and (actor["rnn_type"], actor["rnn_hidden_dim"]) == ("gru", 32)
    assert parse(["train", "--policy", "mlp"]).options.train.rnn_type == "none"
    assert main(["train", "--policy", "lstm", "--train.rnn-type", "gru", "--max-iterations", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--policy lstm and --train.rnn-type gru disagree" in err[0]


def test_mlp_defaults_keep_rsl_rl_ppo_with_augmentation():
    from stridelab.tasks import get_task

    train = get_task("quadruped-flat").train_cfg()
    d = train.rsl_rl_dict("augment")
    assert d["algorithm"]["class_name"] == "PPO" and "max_kl" not in d["algorithm"]
    assert d["algorithm"]["symmetry_cfg"]["use_data_augmentation"] and d["actor"]["class_name"] == "MLPModel"
    # a KL limit alone switches to stridelab's PPO subclass
    limited = override(train, algorithm={"max_kl": 0.02}).rsl_rl_dict("augment")["algorithm"]
    assert limited["class_name"] == "stridelab.learn.ppo:StridelabPPO" and limited["max_kl"] == 0.02
