"""The gymnasium VectorEnv adapter: spaces, reset/step shapes and dtypes, terminations vs truncations."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.spaces import Box
from gymnasium.vector import AutoresetMode

from stridelab.envs.gym_adapter import GymVectorEnv
from stridelab.tasks import make_gym


@pytest.fixture
def envs():
    e = make_gym("quadruped-flat", num_envs=3, num_threads=1, seed=0, episode_length_s=0.1)  # 5 control steps
    yield e
    e.close()


def test_spaces(envs):
    assert isinstance(envs, gymnasium.vector.VectorEnv)
    assert envs.num_envs == 3
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    so, sa = envs.single_observation_space, envs.single_action_space
    assert isinstance(so, Box) and so.shape == (53,) and so.dtype == np.float32
    assert isinstance(sa, Box) and sa.shape == (12,) and sa.dtype == np.float32
    np.testing.assert_array_equal(sa.high, 10.0)  # the action term's clip
    np.testing.assert_array_equal(sa.low, -10.0)
    assert envs.observation_space.shape == (3, 53) and envs.observation_space.dtype == np.float32
    assert envs.action_space.shape == (3, 12) and envs.action_space.dtype == np.float32


def test_history_widens_the_observation_space():
    e = make_gym("quadruped-flat", num_envs=2, num_threads=1, observations={"policy": {"history": 2}})
    assert e.single_observation_space.shape == (159,) and e.observation_space.shape == (2, 159)
    obs, _ = e.reset()
    assert obs.shape == (2, 159)
    e.close()


def test_spaces_follow_the_action_and_observation_clips():
    e = make_gym("quadruped-flat", num_envs=2, num_threads=1, action={"params": {"clip": 1.5}},
                 observations={"policy": {"clip": 5.0}}, events={"push": {"params": {"velocity": 0.5}}})
    np.testing.assert_array_equal(e.single_action_space.high, 1.5)
    np.testing.assert_array_equal(e.single_observation_space.low, -5.0)
    np.testing.assert_array_equal(e.single_observation_space.high, 5.0)
    obs, info = e.reset(seed=0)
    assert e.observation_space.contains(obs)
    assert info["privileged"].shape == (2, 14)  # the default 12 + the last push (vx, vy)
    e.close()


def test_reset_and_step_shapes_and_dtypes(envs):
    obs, info = envs.reset(seed=5)
    assert obs.shape == (3, 53) and obs.dtype == np.float32
    assert info["privileged"].shape == (3, 12) and info["privileged"].dtype == np.float32
    assert envs.observation_space.contains(obs)
    envs.action_space.seed(0)
    obs, rew, term, trunc, infos = envs.step(envs.action_space.sample() * 0.05)
    assert obs.shape == (3, 53) and obs.dtype == np.float32
    assert rew.shape == (3,) and rew.dtype == np.float32 and np.isfinite(rew).all()
    assert term.shape == (3,) and term.dtype == np.bool_
    assert trunc.shape == (3,) and trunc.dtype == np.bool_
    assert infos["privileged"].shape == (3, 12) and infos["privileged"].dtype == np.float32
    assert infos["unstable"] == 0 and infos["unstable_total"] == 0
    # observations are the wrapped env's policy group, element for element
    np.testing.assert_array_equal(obs, envs.env.get_observations()["policy"].numpy())


def test_step_rejects_wrong_action_shape(envs):
    envs.reset()
    with pytest.raises(ValueError, match=r"\(3, 12\)"):
        envs.step(np.zeros((2, 12), dtype=np.float32))


def test_reset_seed_is_reproducible(envs):
    a = np.random.default_rng(0).normal(0.0, 0.5, size=(3, 12)).astype(np.float32)
    first, info1 = envs.reset(seed=123)
    step1 = envs.step(a)[0]
    second, info2 = envs.reset(seed=123)
    step2 = envs.step(a)[0]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(info1["privileged"], info2["privileged"])
    np.testing.assert_array_equal(step1, step2)
    other, _ = envs.reset(seed=124)
    assert not np.array_equal(first, other)


def test_truncation_at_the_time_limit(envs):
    envs.reset(seed=0)
    zero = np.zeros((3, 12), dtype=np.float32)
    for _ in range(4):
        _, _, term, trunc, _ = envs.step(zero)
        assert not term.any() and not trunc.any()
    obs, _, term, trunc, infos = envs.step(zero)
    assert trunc.all() and not term.any()
    assert infos["log"]["Episode_Termination/time_out"] == 3.0
    assert envs.env.episode_length_buf.tolist() == [0, 0, 0]  # same-step autoreset
    assert envs.observation_space.contains(obs)


def test_termination_is_not_a_truncation(envs):
    envs.reset(seed=0)
    env = envs.env
    b = env.robot.base_qpos_adr
    env.sim.qpos[1, b + 3:b + 7] = [0.0, 1.0, 0.0, 0.0]  # upside down
    _, _, term, trunc, _ = envs.step(np.zeros((3, 12), dtype=np.float32))
    assert term.tolist() == [False, True, False] and not trunc.any()


def test_wraps_an_existing_env(make_env):
    env = make_env(num_envs=2)
    g = GymVectorEnv(env)
    assert g.env is env and g.num_envs == 2
    obs, _ = g.reset()
    assert obs.shape == (2, 53)
