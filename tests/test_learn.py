"""The learner: rsl-rl-lib's own loop, the checkpoint format, and loading a policy without env or runner."""

from __future__ import annotations

import logging
import shutil

import pytest
import torch
from rsl_rl.runners import OnPolicyRunner

from stridelab.errors import CheckpointError, ConfigError
from stridelab.learn.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from stridelab.learn.config import TrainConfig
from stridelab.learn.policy import load_policy
from stridelab.learn.runners import StridelabRunner, resolve_runner
from stridelab.learn.trainer import Trainer
from stridelab.tasks import make_env_cfg


def _trainer(run_dir, iters: int = 2, walk_check=None, **train) -> Trainer:
    env_cfg = make_env_cfg("quadruped-flat", num_envs=16, num_threads=1, seed=5)
    cfg = TrainConfig(num_steps_per_env=8, max_iterations=iters, save_interval=1, **train)
    return Trainer(env_cfg, cfg, run_dir, seed=5, walk_check=walk_check)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trainer:
    """A trainer after 2 iterations, with a checkpoint after each."""
    trainer = _trainer(tmp_path_factory.mktemp("learn") / "run")
    trainer.train(show_progress=False)
    return trainer


def _plain(value) -> bool:
    """Only tensors and plain Python data (what weights_only loading allows without any class)."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (torch.Tensor, str, int, float, bool))


# ---- rsl-rl-lib's loop ---------------------------------------------------------------------------
def test_training_runs_rsl_rl_learn_with_its_nan_check(tmp_path, monkeypatch, capsys):
    import rsl_rl.runners.on_policy_runner as opr

    learn_calls, nan_checks = [], []
    real_learn, real_check = OnPolicyRunner.learn, opr.check_nan

    def learn(self, num_learning_iterations, init_at_random_ep_len=False):
        learn_calls.append((num_learning_iterations, init_at_random_ep_len))
        return real_learn(self, num_learning_iterations, init_at_random_ep_len)

    def check_nan(obs, rewards, dones):
        nan_checks.append(1)
        return real_check(obs, rewards, dones)

    monkeypatch.setattr(OnPolicyRunner, "learn", learn)
    monkeypatch.setattr(opr, "check_nan", check_nan)
    trainer = _trainer(tmp_path / "run", iters=3)
    assert trainer.runner.cfg["check_for_nan"] is True and isinstance(trainer.runner, StridelabRunner)
    result = trainer.train(show_progress=False)
    assert learn_calls == [(3, True)]
    assert len(nan_checks) == 3 * 8  # every env step of every iteration
    assert result.iterations == 3 and result.env_steps == 3 * 8 * 16
    assert capsys.readouterr().out == ""  # rsl-rl's per-iteration block does not reach stdout
    # stridelab's checkpoints only: rsl-rl's own torch.save files (model_<it>.pt in the run dir) are never written
    assert sorted(p.name for p in (tmp_path / "run").glob("**/*.pt")) == [
        "model_000001.pt", "model_000002.pt", "model_000003.pt"]


def test_nan_reward_stops_training_with_a_clear_error(tmp_path, monkeypatch):
    trainer = _trainer(tmp_path / "run", iters=3)
    real_step, calls = trainer.env.step, {"n": 0}

    def step(actions):
        obs, rewards, dones, extras = real_step(actions)
        calls["n"] += 1
        if calls["n"] == 5:
            rewards = rewards.clone()
            rewards[3] = float("nan")
        return obs, rewards, dones, extras

    monkeypatch.setattr(trainer.env, "step", step)
    with pytest.raises(ValueError, match="rewards returned by the environment contain NaN"):
        trainer.train(show_progress=False)
    assert trainer.iteration == 0


def test_progress_lines_without_a_tty(tmp_path, caplog):
    trainer = _trainer(tmp_path / "run", iters=10)
    with caplog.at_level(logging.INFO, logger="stridelab.learn.trainer"):
        trainer.train(show_progress=False)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("it ")]
    assert len(lines) == 1 and lines[0].startswith("it 10/10") and "steps/s" in lines[0]


def test_walk_check_stops_training_and_is_logged(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    seen = []

    def walk_check(policy):
        obs = trainer.env.get_observations()
        seen.append(policy(obs).shape)
        return {"walks": True, "lin_vel_error": 0.1, "yaw_rate_error": 0.1, "fall_rate": 0.0}

    trainer = _trainer(tmp_path / "run", iters=5, walk_check=walk_check, check_every_s=0.0, max_minutes=0.0,
                       check_below_lin_vel_error=float("inf"))
    before = {k: v.clone() for k, v in trainer.runner.alg.actor.state_dict().items()}
    result = trainer.train(show_progress=False)
    assert result.stopped_because == "walks" and result.iterations == 1 and seen == [torch.Size([16, 12])]
    assert result.walk_checks[0]["iteration"] == 1 and result.walk_checks[0]["walks"] is True
    assert load_checkpoint(result.checkpoint)["iteration"] == 1
    assert trainer.runner.alg.actor.training  # the check ran on a copy: the learner stays in train mode
    assert any(not torch.equal(before[k], v) for k, v in trainer.runner.alg.actor.state_dict().items())
    acc = EventAccumulator(str(tmp_path / "run"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"Eval/lin_vel_error", "Eval/yaw_rate_error", "Eval/fall_rate", "Perf/unstable_total"} <= tags
    assert "Loss/learning_rate" in tags  # rsl-rl's own logging


def test_time_budget_stops_training(tmp_path):
    result = _trainer(tmp_path / "run", iters=5, max_minutes=1e-6).train(show_progress=False)
    assert result.stopped_because == "max_minutes" and result.iterations == 1


def test_runner_is_selected_by_name(tmp_path):
    assert resolve_runner("StridelabRunner") is StridelabRunner
    assert resolve_runner("stridelab.learn.runners:StridelabRunner") is StridelabRunner
    for bad in ("OnPolicyRunner", "rsl_rl.runners:OnPolicyRunner", "nope.module:Runner", "Nope"):
        with pytest.raises(ConfigError, match="runner_class"):
            resolve_runner(bad)
    with pytest.raises(ConfigError, match="runner_class"):
        _trainer(tmp_path / "run", runner_class="NoSuchRunner")
    assert TrainConfig().rsl_rl_dict()["algorithm"]["class_name"] == "PPO"
    assert TrainConfig().rsl_rl_dict()["save_interval"] == 1  # rsl-rl's save() is the per-iteration hook


# ---- the checkpoint format -----------------------------------------------------------------------
def test_checkpoint_holds_plain_data_and_describes_its_policy(trained):
    path = latest_checkpoint(trained.run_dir)
    data = torch.load(path, map_location="cpu", weights_only=True)
    assert _plain(data)
    assert data["format_version"] == 2 and data["algorithm"] == "PPO" and data["policy_model"] == "actor"
    assert data["policy_obs_groups"] == {"policy": 53} and data["num_actions"] == 12
    assert data["policy_cfg"]["class_name"] == "MLPModel" and data["policy_cfg"]["obs_normalization"] is True
    assert data["iteration"] == 2 and data["env_steps"] == 2 * 8 * 16
    assert data["learning_rate"] == pytest.approx(trained.runner.alg.learning_rate)
    assert set(data["algorithm_state"]) == {"actor_state_dict", "critic_state_dict", "optimizer_state_dict"}
    assert data["config"]["train"]["runner_class"] == "StridelabRunner"


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "model_000001.pt"
    torch.save({"format_version": 2, "evil": logging.getLogger("x")}, path)
    with pytest.raises(CheckpointError, match="corrupt or not a stridelab checkpoint"):
        load_checkpoint(path)


def test_foreign_and_old_checkpoints_name_the_problem(tmp_path):
    rsl_rl_file = tmp_path / "rsl.pt"
    torch.save({"actor_state_dict": {"w": torch.ones(2)}, "iter": 3, "infos": None}, rsl_rl_file)
    with pytest.raises(CheckpointError, match="not a stridelab checkpoint.*written by stridelab train"):
        load_checkpoint(rsl_rl_file)
    old = tmp_path / "old.pt"
    torch.save({"format_version": 1, "actor_state_dict": {}}, old)
    with pytest.raises(CheckpointError, match="format version 1 .* retrain"):
        load_checkpoint(old)
    half = tmp_path / "half.pt"
    save_checkpoint({"format_version": 2, "algorithm": "PPO"}, half)
    with pytest.raises(CheckpointError, match="incomplete .*policy_model"):
        load_checkpoint(half)


def test_latest_checkpoint_skips_a_truncated_newest_one(trained, tmp_path, caplog):
    run = tmp_path / "run"
    shutil.copytree(trained.run_dir / "checkpoints", run / "checkpoints")
    newest = run / "checkpoints" / "model_000002.pt"
    assert latest_checkpoint(run) == newest
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a crash mid-write (no atomic rename)
    with caplog.at_level(logging.WARNING, logger="stridelab.learn.checkpoint"):
        assert latest_checkpoint(run) == run / "checkpoints" / "model_000001.pt"
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "model_000002.pt" in warning and "corrupt" in warning
    assert latest_checkpoint(run, valid_only=False) == newest
    assert load_policy(run).checkpoint.name == "model_000001.pt"


# ---- loading a policy ----------------------------------------------------------------------------
def test_load_policy_builds_no_runner_and_no_env(trained, monkeypatch):
    import stridelab.envs.factory
    from stridelab.envs.locomotion_env import LocomotionEnv

    def forbidden(*args, **kwargs):
        raise AssertionError("load_policy must not build this")

    monkeypatch.setattr(OnPolicyRunner, "__init__", forbidden)
    monkeypatch.setattr(LocomotionEnv, "__init__", forbidden)
    monkeypatch.setattr(stridelab.envs.factory, "make_env", forbidden)
    loaded = load_policy(trained.run_dir)
    assert loaded.checkpoint.name == "model_000002.pt" and loaded.env_cfg.num_envs == 16
    assert loaded.train_cfg.num_steps_per_env == 8 and loaded.data["iteration"] == 2
    assert not hasattr(loaded, "env") and not hasattr(loaded, "runner")
    assert not loaded.actor.training and loaded.actor.obs_normalizer.count.item() > 0
    # the same deterministic actions as the trained actor
    obs = trained.env.get_observations()
    actor = trained.runner.alg.actor
    with torch.no_grad():
        expected = actor(obs)
    actions = loaded.policy(obs)
    assert actions.shape == (16, 12) and torch.equal(actions, expected)
    assert torch.equal(loaded.policy(obs), actions)  # deterministic


def test_loaded_recurrent_policy_carries_and_resets_its_state(tmp_path):
    trainer = _trainer(tmp_path / "run", iters=1, rnn_type="lstm", rnn_hidden_dim=16)
    trainer.train(show_progress=False)
    loaded = load_policy(tmp_path / "run")
    assert loaded.data["policy_cfg"]["class_name"] == "RNNModel" and loaded.policy.is_recurrent
    obs = trainer.env.get_observations()
    first = loaded.policy(obs)
    second = loaded.policy(obs)
    assert not torch.equal(first, second)  # the hidden state carried over
    loaded.policy.reset(torch.tensor([True] + [False] * 15))
    third = loaded.policy(obs)
    assert torch.equal(third[0], first[0]) and not torch.equal(third[1:], first[1:])  # the others kept theirs ...
    loaded.policy.reset()
    assert torch.equal(loaded.policy(obs), first)  # ... and a full reset starts over


def test_walk_check_waits_until_the_training_policy_tracks(tmp_path):
    """No check runs while the training policy's tracking error is above the gate."""
    calls = []
    trainer = _trainer(tmp_path / "gated", iters=3, walk_check=lambda p: calls.append(1) or {"walks": True},
                       check_every_s=0.0, max_minutes=0.0, check_below_lin_vel_error=0.0)
    result = trainer.train(show_progress=False)
    assert calls == [] and result.iterations == 3 and result.stopped_because == "max_iterations"
