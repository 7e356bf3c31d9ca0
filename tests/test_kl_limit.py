"""KL-limited updates: the step-halving line search (by hand on a toy module, and in PPO on a batch where the
unconstrained update exceeds the limit, MLP and GRU actors) and the adaptive learning-rate settings."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stridelab.errors import ConfigError
from stridelab.learn.config import PPOConfig, TrainConfig
from stridelab.learn.ppo import StridelabPPO, line_search
from stridelab.learn.trainer import Trainer
from stridelab.tasks import make_env_cfg


class _Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor([1.0, -2.0]))
        self.register_buffer("count", torch.tensor(7))


def test_line_search_halves_the_step_until_the_limit_holds():
    toy = _Toy()
    old = {"p": torch.tensor([0.0, 0.0]), "count": torch.tensor(3)}

    def kl() -> float:  # KL grows with the squared step: 5 at the full step
        return float((toy.p.detach() ** 2).sum())

    alpha, value = line_search(toy, old, kl, max_kl=0.1, steps=10)
    # 5 / 4**k <= 0.1 first at k = 3 (0.078): alpha = 1/8, p = (1/8, -2/8)
    assert alpha == 0.125 and value == pytest.approx(5 / 64)
    assert torch.equal(toy.p.data, torch.tensor([0.125, -0.25]))
    assert toy.count.item() == 7  # integer buffers (counters) keep the new value
    toy.p.data = torch.tensor([1.0, -2.0])
    alpha, value = line_search(toy, old, kl, max_kl=0.1, steps=2)  # 1/4 is not enough: back to the old values
    assert alpha == 0.0 and value == 0.0 and torch.equal(toy.p.data, torch.zeros(2))
    toy.p.data = torch.tensor([0.1, 0.1])
    assert line_search(toy, old, kl, max_kl=0.1, steps=10) == (1.0, pytest.approx(0.02))  # within: untouched


def _trainer(tmp_path, name: str, max_kl: float, rnn_type: str = "none") -> Trainer:
    env_cfg = make_env_cfg("quadruped-flat", num_envs=16, num_threads=1, seed=11)
    algorithm = PPOConfig(learning_rate=0.05, schedule="fixed", max_kl=max_kl, num_learning_epochs=4)
    cfg = TrainConfig(num_steps_per_env=8, max_iterations=1, save_interval=100, rnn_type=rnn_type, rnn_hidden_dim=16,
                      torch_threads=1,
                      actor_hidden_dims=(32, 32), critic_hidden_dims=(32, 32), algorithm=algorithm)
    trainer = Trainer(env_cfg, cfg, tmp_path / name, seed=11)
    trainer.losses = []
    real = trainer.runner.alg.update
    trainer.runner.alg.update = lambda: trainer.losses.append(real()) or trainer.losses[-1]
    return trainer


@pytest.mark.parametrize("rnn_type", ["none", "gru"])
def test_kl_limit_holds_where_the_unconstrained_update_exceeds_it(tmp_path, rnn_type):
    limit = 0.01
    free = _trainer(tmp_path, "free", max_kl=1e9, rnn_type=rnn_type)  # measured, never limited
    free.train(show_progress=False)
    limited = _trainer(tmp_path, "limited", max_kl=limit, rnn_type=rnn_type)
    assert isinstance(limited.runner.alg, StridelabPPO)
    limited.train(show_progress=False)
    (f,), (g,) = free.losses, limited.losses
    # same rollout and the same gradient steps: the unconstrained update exceeds the limit on this batch ...
    assert f["kl_step"] == 1.0 and f["kl"] == f["kl_unconstrained"] > 2 * limit
    assert g["kl_unconstrained"] == pytest.approx(f["kl_unconstrained"], rel=1e-6)
    # ... and the line search shrank the step until it holds
    assert 0.0 < g["kl_step"] < 1.0 and g["kl"] <= limit
    alg = limited.runner.alg  # measured again from the weights, on the batch still in the storage
    assert alg.batch_kl(alg.kl_batch()) == pytest.approx(g["kl"], rel=1e-5)
    # the actor moved by kl_step of the free update's step (the critic took its full step)
    before = _trainer(tmp_path, "before", max_kl=limit, rnn_type=rnn_type).runner.alg.actor.state_dict()
    after, free_after = alg.actor.state_dict(), free.runner.alg.actor.state_dict()
    key = next(k for k in after if k.startswith("mlp.0.weight"))
    expected = before[key] + g["kl_step"] * (free_after[key] - before[key])
    assert torch.allclose(after[key], expected, atol=1e-6) and not torch.allclose(after[key], free_after[key])


def test_kl_settings_are_checked():
    with pytest.raises(ConfigError, match="max_kl"):
        PPOConfig(max_kl=-0.1)
    with pytest.raises(ConfigError, match="desired_kl"):
        PPOConfig(desired_kl=0.0)
    with pytest.raises(ConfigError, match="schedule"):
        PPOConfig(schedule="linear")
    d = TrainConfig(algorithm=PPOConfig(schedule="fixed", desired_kl=0.02)).rsl_rl_dict("augment")["algorithm"]
    assert (d["schedule"], d["desired_kl"], d["class_name"]) == ("fixed", 0.02, "PPO")


def test_fine_tuning_starts_from_a_trained_policy_within_the_kl_limit(tmp_path, capsys):
    from stridelab.app.cli import main
    from stridelab.errors import CheckpointError
    from stridelab.learn.checkpoint import latest_checkpoint, load_checkpoint

    source = _trainer(tmp_path, "source", max_kl=0.0)
    source.train(show_progress=False)
    trained = source.runner.alg.actor.state_dict()
    tuned = _trainer(tmp_path, "tuned", max_kl=0.005)
    tuned.init_from(tmp_path / "source")
    start = tuned.runner.alg.actor.state_dict()
    assert all(torch.equal(start[k], trained[k]) for k in trained)  # weights, std and normalizer
    assert tuned.runner.alg.actor.obs_normalizer.count.item() > 0
    tuned.train(show_progress=False)
    (g,) = tuned.losses
    assert g["kl"] <= 0.005 and tuned.iteration == 1
    with pytest.raises(CheckpointError, match="its actor does not fit"):
        _trainer(tmp_path, "gru", max_kl=0.0, rnn_type="gru").init_from(tmp_path / "source")
    # the CLI: a new run from the trained policy, KL-limited
    args = ["train", "quadruped-flat", "--init-from", str(tmp_path / "source"), "--max-iterations", "1", "--no-eval",
            "--log-dir", str(tmp_path / "cli"), "--num-envs", "16", "--train.num-steps-per-env", "8",
            "--env.num-threads", "1", "--train.actor-hidden-dims", "32", "32", "--train.critic-hidden-dims", "32", "32",
            "--train.algorithm.max-kl", "0.005", "--train.algorithm.schedule", "fixed"]
    assert main(args) == 0
    (run,) = (tmp_path / "cli" / "quadruped-flat").iterdir()
    data = load_checkpoint(latest_checkpoint(run))
    assert data["algorithm"] == "StridelabPPO" and data["iteration"] == 1
    assert main([*args[:3], str(tmp_path / "missing"), *args[4:]]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert list((tmp_path / "cli" / "quadruped-flat").iterdir()) == [run]  # the failed run left no directory
