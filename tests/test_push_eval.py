"""Push recovery evaluation: the push reaches the physics with the size asked for, a robot holding its pose
survives no push and falls to a hard one, and bad settings are one-sentence errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stridelab.errors import ConfigError
from stridelab.eval.push import SECTORS, evaluate_pushes, push_directions
from stridelab.tasks import make_env_cfg


def _hold_pose(obs):
    """Zero actions: the PD holds the default pose (stands on flat ground)."""
    return torch.zeros(obs["policy"].shape[0], 12)


@pytest.fixture(scope="module")
def flat_cfg():
    return make_env_cfg("quadruped-flat", num_envs=8, num_threads=1)


def test_push_directions_spread_evenly_around_the_heading():
    angles = push_directions(8)
    np.testing.assert_allclose(np.diff(angles), np.pi / 4)
    assert angles[0] == 0.0 and angles[-1] < 2 * np.pi


def test_no_push_keeps_a_standing_robot_up(flat_cfg):
    result = evaluate_pushes(_hold_pose, flat_cfg, trials=8, push_velocity=0.0, speed=0.0, push_at_s=0.5,
                             recover_s=1.0)
    assert result["success_rate"] == 1.0 and result["fell_before_push"] == 0.0
    assert result["applied_dv"] == pytest.approx(0.0)
    assert set(result["by_direction"]) == set(SECTORS)


def test_the_push_has_its_size_and_a_hard_one_topples_a_robot_that_does_not_react(flat_cfg):
    soft = evaluate_pushes(_hold_pose, flat_cfg, trials=8, push_velocity=0.5, speed=0.0, push_at_s=0.5, recover_s=1.0)
    assert soft["applied_dv"] == pytest.approx(0.5, abs=1e-9)
    hard = evaluate_pushes(_hold_pose, flat_cfg, trials=8, push_velocity=4.0, speed=0.0, push_at_s=0.5, recover_s=2.0)
    assert hard["applied_dv"] == pytest.approx(4.0, abs=1e-9)
    assert hard["success_rate"] < soft["success_rate"]
    assert hard["fell_after_push"] > 0 and hard["fell_before_push"] == 0.0


def test_bad_settings_are_clear_errors(flat_cfg):
    with pytest.raises(ConfigError, match="at least one trial"):
        evaluate_pushes(_hold_pose, flat_cfg, trials=0)
