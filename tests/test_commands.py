"""The velocity command term: resampling on its timer, ranges, standing and small-command rules, fixed
commands for evaluation, and what the policy observes of them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stridelab.errors import ConfigError
from conftest import steps_until

CLEAN = {"policy": {"noise": 0.0}}
CMD = slice(6, 9)  # velocity_commands in the policy frame
SCALE = np.array([2.0, 2.0, 0.25])


def velocity(**params) -> dict:
    return {"velocity": {"params": params}}


def command(env) -> np.ndarray:
    return env.commands.terms["velocity"].command.copy()


def test_commands_are_resampled_after_resample_s(make_env):
    env = make_env(num_envs=8, observations=CLEAN, commands=velocity(resample_s=0.1, standing_fraction=0.0))
    k = steps_until(0.1, env.dt)
    assert k in (5, 6)
    first = command(env)
    np.testing.assert_allclose(env.get_observations()["policy"][:, CMD].numpy(), (first * SCALE).astype(np.float32))
    zero = torch.zeros(8, 12)
    previous = first
    for step in range(1, 3 * k + 1):
        obs, _, dones, _ = env.step(zero)
        assert not dones.any()
        now = command(env)
        if step % k:
            np.testing.assert_array_equal(now, previous)
        else:  # every env draws a new command at once, every 0.1 s
            assert np.all(np.any(now != previous, axis=1))
            previous = now
        # the state and the observation of the same step show the current command
        np.testing.assert_array_equal(env.state.commands, now)
        np.testing.assert_allclose(obs["policy"][:, CMD].numpy(), (now * SCALE).astype(np.float32), rtol=1e-6)


def test_commands_stay_within_their_ranges(make_env):
    ranges = dict(lin_vel_x=(0.2, 0.8), lin_vel_y=(-0.3, 0.1), ang_vel_yaw=(-0.5, 0.25))
    env = make_env(num_envs=16, commands=velocity(resample_s=0.02, standing_fraction=0.0, min_lin_vel=0.0, **ranges))
    assert env.commands.terms["velocity"].ranges() == {k: list(v) for k, v in ranges.items()}
    samples = [command(env)]
    for _ in range(20):  # a new command every step
        env.step(torch.zeros(16, 12))
        samples.append(command(env))
    c = np.concatenate(samples)
    assert len(np.unique(c[:, 0])) == len(c)  # really resampled each step
    low, high = np.array([0.2, -0.3, -0.5]), np.array([0.8, 0.1, 0.25])
    assert np.all(c >= low) and np.all(c <= high)
    # and they fill the ranges (336 uniform samples)
    np.testing.assert_allclose(c.min(axis=0), low, atol=0.05)
    np.testing.assert_allclose(c.max(axis=0), high, atol=0.05)


def test_standing_fraction_one_commands_standing_still(make_env):
    env = make_env(num_envs=8, episode_length_s=0.1, commands=velocity(resample_s=0.04, standing_fraction=1.0))
    np.testing.assert_array_equal(command(env), 0.0)
    for _ in range(12):  # resamples and a reset
        obs, _, _, _ = env.step(torch.zeros(8, 12))
        np.testing.assert_array_equal(command(env), 0.0)
        np.testing.assert_array_equal(obs["policy"][:, CMD].numpy(), 0.0)


def test_min_lin_vel_zeroes_small_planar_commands(make_env):
    env = make_env(num_envs=16, commands=velocity(resample_s=0.02, standing_fraction=0.0, min_lin_vel=0.5))
    samples = [command(env)]
    for _ in range(10):
        env.step(torch.zeros(16, 12))
        samples.append(command(env))
    c = np.concatenate(samples)
    planar = np.linalg.norm(c[:, :2], axis=1)
    zeroed = planar == 0.0
    assert np.all(zeroed | (planar >= 0.5))
    # about 39 % of uniform samples in [-1, 1] x [-0.5, 0.5] are within 0.5 m/s of zero
    assert 0.2 < zeroed.mean() < 0.6
    # only the planar part is zeroed: the yaw rate stays
    assert np.all(c[zeroed, 2] != 0.0)


def test_set_commands_fixes_every_env_and_shows_immediately(make_env):
    env = make_env(num_envs=4, observations=CLEAN, episode_length_s=0.1,
                   commands=velocity(resample_s=0.04, standing_fraction=0.5))
    fixed = np.array([0.5, -0.2, 0.3])
    env.set_commands(fixed)
    np.testing.assert_array_equal(command(env), np.tile(fixed, (4, 1)))
    np.testing.assert_array_equal(env.state.commands, np.tile(fixed, (4, 1)))
    expected = np.tile((fixed * SCALE).astype(np.float32), (4, 1))  # (1.0, -0.4, 0.075)
    np.testing.assert_allclose(env.get_observations()["policy"][:, CMD].numpy(), expected, rtol=1e-6)
    for _ in range(12):  # past resample timers and a time-out reset
        obs, _, _, _ = env.step(torch.zeros(4, 12))
        np.testing.assert_array_equal(command(env), np.tile(fixed, (4, 1)))
        np.testing.assert_allclose(obs["policy"][:, CMD].numpy(), expected, rtol=1e-6)
    # one command per env
    per_env = np.array([[0.1, 0.0, 0.0], [0.2, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, -0.4]])
    env.set_commands(per_env)
    np.testing.assert_array_equal(command(env), per_env)
    np.testing.assert_allclose(env.get_observations()["policy"][:, CMD].numpy(), (per_env * SCALE).astype(np.float32),
                               rtol=1e-6)
    # None: random commands again, from the next draw on
    env.set_commands(None)
    assert env.commands.terms["velocity"].fixed is None
    drawn = [command(env)]
    for _ in range(4):
        env.step(torch.zeros(4, 12))
        drawn.append(command(env))
    assert not any(np.array_equal(d, per_env) for d in drawn)


@pytest.mark.parametrize("params, words", [
    (dict(resample_s=0.0), "resample_s"),
    (dict(lin_vel_x=(1.0, -1.0)), "lin_vel_x"),
    (dict(standing_fraction=1.5), "standing_fraction"),
    (dict(resample=1.0), "unknown parameter 'resample' (did you mean 'resample_s'?)"),
])
def test_bad_command_parameters_are_one_sentence(make_env, params, words):
    with pytest.raises(ConfigError) as info:
        make_env(commands=velocity(**params))
    msg = str(info.value)
    assert words in msg and "\n" not in msg and msg.endswith(".")


def test_unknown_command_name(make_env):
    env = make_env(num_envs=1)
    np.testing.assert_array_equal(env.commands.get("velocity"), env.commands.terms["velocity"].command)
    with pytest.raises(ConfigError, match=r"no command 'heading'; its commands are: velocity, gait\."):
        env.commands.get("heading")


def _heading(**params) -> dict:
    return {"velocity": {"func": "heading_command", "params": {"lin_vel_x": (0.5, 0.5), "lin_vel_y": (0.0, 0.0),
                                                               "min_lin_vel": 0.0, **params}}}


def test_heading_command_steers_every_step_towards_its_target_heading(make_env):
    from stridelab.sim.math import yaw_of

    env = make_env(num_envs=6, observations=CLEAN, commands=_heading(standing_fraction=0.0))
    term = env.commands.terms["velocity"]
    b = env.robot.base_qpos_adr

    def expected():
        error = np.mod(term.target - yaw_of(env.sim.qpos[:, b + 3:b + 7]) + np.pi, 2 * np.pi) - np.pi
        return np.clip(0.5 * error, -1.0, 1.0)

    assert term.steered.all() and len(np.unique(term.target)) == 6
    np.testing.assert_allclose(command(env)[:, 2], expected())
    for _ in range(5):  # random actions turn the robots: the yaw rate follows each new heading
        env.step(torch.as_tensor(np.random.default_rng(0).normal(0, 1, (6, 12)), dtype=torch.float32))
        np.testing.assert_allclose(command(env)[:, 2], expected())
    np.testing.assert_array_equal(command(env)[:, :2], [[0.5, 0.0]] * 6)
    env.set_commands(np.array([0.5, 0.0, 0.3]))  # evaluation: a fixed command is never steered
    env.step(torch.zeros(6, 12))
    np.testing.assert_array_equal(command(env)[:, 2], 0.3)


def test_heading_command_leaves_standing_and_unsteered_envs_alone(make_env):
    env = make_env(num_envs=6, commands=_heading(standing_fraction=1.0))
    assert not env.commands.terms["velocity"].steered.any() and not command(env).any()
    env = make_env(num_envs=6, commands=_heading(standing_fraction=0.0, heading_fraction=0.0,
                                                 ang_vel_yaw=(0.2, 0.2)))
    env.step(torch.zeros(6, 12))
    np.testing.assert_array_equal(command(env)[:, 2], 0.2)
    with pytest.raises(ConfigError, match="heading_fraction = 2"):
        make_env(commands=_heading(heading_fraction=2.0))
