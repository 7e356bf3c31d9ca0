"""``--init-from`` onto a task that observes more: the checkpoint's network, zero weight on the new inputs."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from stridelab.config import ObsTermCfg
from stridelab.envs import make_env
from stridelab.errors import CheckpointError
from stridelab.learn.config import TrainConfig
from stridelab.learn.trainer import Trainer
from stridelab.learn.widen import widen_state
from stridelab.tasks import make_env_cfg


def _trainer(tmp_path, name: str, extra: dict | None = None, drop: str | None = None) -> Trainer:
    """quadruped-flat (16 envs, 2 past frames in ``policy``); ``extra`` terms inserted after ``joint_pos`` in the
    policy group and after ``base_lin_vel`` in the critic's ``privileged``; ``drop`` removes a term."""
    env_cfg = make_env_cfg("quadruped-flat", num_envs=16, num_threads=1, seed=5)
    groups = dict(env_cfg.observations)
    for group in ("policy", "privileged"):
        terms = {}
        for key, term in groups[group].terms.items():
            if key == drop:
                continue
            terms[key] = term
            if key == ("joint_pos" if group == "policy" else "base_lin_vel"):
                terms.update(extra or {})
        groups[group] = replace(groups[group], terms=terms, history=2 if group == "policy" else groups[group].history)
    env_cfg = replace(env_cfg, observations=groups)
    cfg = TrainConfig(num_steps_per_env=8, max_iterations=1, save_interval=100, torch_threads=1,
                      actor_hidden_dims=(32, 32), critic_hidden_dims=(32, 32))
    return Trainer(env_cfg, cfg, tmp_path / name, seed=5)


def test_a_wider_task_starts_from_the_checkpoint_computing_the_same_actions(tmp_path):
    source = _trainer(tmp_path, "source")
    source.train(show_progress=False)
    # a term in the middle of a group with history: its columns are new in every frame
    extra = {"gravity_again": ObsTermCfg("projected_gravity", noise=0.0, scale=5.0)}
    wide = _trainer(tmp_path, "wide", extra=extra)
    policy = wide.env.observations.groups["policy"]
    assert policy.cfg.history > 0  # the mapping is tested across history frames
    wide.init_from(tmp_path / "source")
    old_actor, new_actor = source.runner.alg.actor, wide.runner.alg.actor
    # the same seed and a noise-free extra term: the shared terms read the same values in both envs
    old_obs, new_obs = make_env(source.env_cfg).get_observations(), make_env(wide.env_cfg).get_observations()
    assert new_obs["policy"].shape[1] == old_obs["policy"].shape[1] + 3 * (policy.cfg.history + 1)
    with torch.no_grad():
        torch.testing.assert_close(new_actor(new_obs), old_actor(old_obs), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(wide.runner.alg.critic(new_obs), source.runner.alg.critic(old_obs),
                                   rtol=1e-5, atol=1e-5)
    # the new columns read 0 after the normalizer where training starts (its mean is their value there, its
    # variance 1): gravity's z, a constant -1 x 5, after a zero mean would shift every first-layer unit by about
    # lr x 5 per input per Adam step and wreck the policy in one update (the cave's ceiling scan did)
    raw = wide.env.get_observations()["policy"]
    new_cols = new_actor.obs_normalizer._var.squeeze(0) == 1.0  # widen_state's fill: only the new columns
    assert int(new_cols.sum()) == 3 * (policy.cfg.history + 1)
    assert raw[:, new_cols].abs().max() > 4.0  # -5 in gravity's z
    with torch.no_grad():
        assert new_actor.obs_normalizer(raw)[:, new_cols].abs().max() < 1e-4
    # the new columns are not dead: they have zero weight but get a gradient
    first = new_actor.mlp[0].weight
    assert first.shape[1] == new_obs["policy"].shape[1]
    wide.train(show_progress=False)
    assert wide.iteration == 1


def test_a_task_that_drops_a_term_is_refused_in_one_sentence(tmp_path):
    source = _trainer(tmp_path, "source")
    source.train(show_progress=False)
    with pytest.raises(CheckpointError, match=r"reads policy\.gait_clock, which this task does not observe"):
        _trainer(tmp_path, "narrow", drop="gait_clock").init_from(tmp_path / "source")


def test_widen_state_fills_new_columns_and_refuses_other_shape_changes():
    old = {"n._mean": torch.tensor([[1.0, 2.0]]), "n._var": torch.tensor([[4.0, 9.0]]), "w": torch.ones(3, 2),
           "b": torch.zeros(3)}
    new = {"n._mean": torch.zeros(1, 3), "n._var": torch.zeros(1, 3), "w": torch.zeros(3, 3), "b": torch.zeros(3)}
    out, widened = widen_state(old, new, torch.tensor([0, 2]), 3)
    assert sorted(widened) == ["n._mean", "n._var", "w"]
    assert out["n._mean"].tolist() == [[1.0, 0.0, 2.0]] and out["n._var"].tolist() == [[4.0, 1.0, 9.0]]
    assert out["w"][:, 1].abs().sum() == 0 and out["w"][:, [0, 2]].eq(1).all()
    with pytest.raises(CheckpointError, match="has shape"):
        widen_state({**old, "b": torch.zeros(4)}, new, torch.tensor([0, 2]), 3)
