"""The biped's gait cycle: foot contact forces from the simulator, apex/HasRL's force/speed reward, and the
stepping frequency as a command (training env, observation, deploy builder)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import stridelab
from stridelab.errors import ConfigError
from stridelab.mdp import observations as O
from stridelab.mdp import rewards as R
from stridelab.mdp.commands import gait_clock
from test_gait_clock import clock_env
from test_rewards import make_state


@pytest.mark.parametrize("task", ["quadruped-flat", "biped-flat"])
def test_foot_forces_carry_the_robots_weight_when_standing(task):
    env = stridelab.make(task, num_envs=2, num_threads=1, seed=0,
                         events={"reset_robot": {"params": {"joint_noise": 0.0}}})
    zero = np.zeros((2, env.num_actions))
    for _ in range(75):  # 1.5 s: settle under PD on the default pose
        env.step(zero)
    s = env.state
    added = env.events.privileged()["added_mass"][:, 0]  # the task randomizes the base mass
    weight = (env.robot.model.body_subtreemass[env.robot.base_body_id] + added) * 9.81
    np.testing.assert_allclose(s.foot_force[:, :, 2].sum(axis=1), weight, rtol=0.01)
    assert np.all(s.foot_force[:, :, 2] > 0.05 * weight[:, None])  # every foot carries load, pushing up (+z)
    # the horizontal forces of a still robot cancel out
    assert np.all(np.abs(s.foot_force[:, :, :2].sum(axis=1)) < 0.05 * weight[:, None])


def _force_speed_term(weight_n=100.0, **params):
    g = 9.81
    robot = SimpleNamespace(model=SimpleNamespace(opt=SimpleNamespace(gravity=np.array([0.0, 0.0, -g])),
                                                  body_subtreemass=np.array([0.0, weight_n / g])), base_body_id=1,
                            weight=weight_n)  # LoadedRobot.weight: the subtree mass x g
    return R.gait_force_speed(SimpleNamespace(robot=robot), **params)


def test_force_speed_reward_matches_hand_computed_values():
    term = _force_speed_term(weight_n=100.0, duty=0.5, kappa=1e-3, force_scale=0.25, speed_scale=0.3)
    # env 0: foot 0 in mid-stance carrying 25 N (one force scale), still; foot 1 in mid-swing moving at
    # 0.3 m/s (one speed scale), unloaded. env 1: the opposite: loaded swing foot, moving stance foot.
    force = np.zeros((2, 2, 3))
    vel = np.zeros((2, 2, 3))
    force[0, 0, 2], vel[0, 1, 0] = 25.0, 0.3
    force[1, 1, 2], vel[1, 0, 0] = 25.0, 0.3
    s = make_state(gait_phase=[[0.25, 0.75], [0.25, 0.75]], commands=[[1.0, 0, 0], [1.0, 0, 0]],
                   foot_force=force, foot_vel=vel)
    one = 1.0 - np.exp(-1.0)  # each loaded / moving term at one scale
    np.testing.assert_allclose(term(s), [one, -one], atol=1e-6)
    # at zero command both feet are meant to stand: env 0's moving foot 1 now costs, its loaded foot 0 pays
    s.commands[:] = 0.0
    np.testing.assert_allclose(term(s)[0], (one - one) / 2, atol=1e-6)


def test_force_speed_reward_needs_a_clock_and_positive_scales():
    with pytest.raises(ConfigError, match="force_scale = 0"):
        _force_speed_term(force_scale=0.0)
    with pytest.raises(ConfigError, match="needs a gait clock"):
        _force_speed_term()(make_state(foot_force=np.zeros((2, 2, 3))))


def test_stepping_frequency_is_a_command_sampled_in_its_range_and_settable():
    env = clock_env(num_envs=256)
    clock = gait_clock(env, frequency=1.5, offsets=(0.0, 0.5), frequency_range=(1.25, 2.0))
    clock.resample(np.arange(256))
    assert clock.frequencies.min() >= 1.25 and clock.frequencies.max() <= 2.0 and np.std(clock.frequencies) > 0.15
    phase0 = clock.phase.copy()
    clock.step(0.1)
    np.testing.assert_allclose(np.mod(clock.phase - phase0, 1.0), 0.1 * clock.frequencies, atol=1e-12)
    clock.set_frequency(5.0)  # clipped to the trained range
    np.testing.assert_array_equal(clock.frequencies, 2.0)
    clock.resample(np.arange(10))
    np.testing.assert_array_equal(clock.frequencies, 2.0)
    other = gait_clock(clock_env(num_envs=256), frequency=1.5, offsets=(0.0, 0.5), frequency_range=(1.25, 2.0))
    other.load_state_dict(clock.state_dict())
    np.testing.assert_array_equal(other.frequencies, clock.frequencies)
    with pytest.raises(ConfigError, match="frequency_range"):
        gait_clock(clock_env(), offsets=(0.0, 0.5), frequency_range=(2.0, 1.0))


def test_biped_observes_its_frequency_command_and_the_deploy_builder_runs_it():
    env = stridelab.make("biped-flat", num_envs=16, num_threads=1, seed=0)
    f = env.commands.gait.frequencies
    assert f.min() >= 1.25 and f.max() <= 2.0 and np.ptp(f) > 0.1
    np.testing.assert_allclose(O.gait_frequency(env.state, nominal=1.5)[:, 0], f - 1.5)
    desc = env.commands.gait.describe()
    assert desc["frequency_range"] == [1.25, 2.0]
    robot_clock = gait_clock.from_description(desc)
    robot_clock.set_frequency(1.8)
    robot_clock.resample(np.array([0]))
    robot_clock.step(0.5)
    np.testing.assert_allclose(robot_clock.command[0], np.mod([0.9, 1.4], 1.0), atol=1e-12)


def test_max_step_length_raises_the_frequency_with_the_commanded_speed():
    """f = min(max(drawn f, v / (2 L)), top of the range): 1 m/s with L = 0.25 m steps at 2 Hz, standing keeps f."""
    clock = gait_clock(clock_env(num_envs=3), frequency=1.5, offsets=(0.0, 0.5), frequency_range=(1.25, 2.0),
                       max_step_length=0.3)
    clock.set_frequency(1.25)
    clock.resample(np.arange(3))
    velocity = np.array([[0.0, 0.0, 0.5], [0.6, -0.8, 0.0], [2.0, 0.0, 0.0]])  # 0, 1 and 2 m/s planar
    phase0 = clock.phase.copy()
    clock.step(0.1, velocity)
    expected = np.array([1.25, 1.0 / 0.6, 2.0])  # drawn, 1 / (2 x 0.3), capped at the range's top
    np.testing.assert_allclose(clock.frequencies, expected, atol=1e-12)
    np.testing.assert_allclose(np.mod(clock.phase - phase0, 1.0), 0.1 * expected, atol=1e-12)
    np.testing.assert_array_equal(clock.base_frequencies, 1.25)
    other = gait_clock.from_description(clock.describe())  # the robot runs the same coupling
    assert other.max_step_length == 0.3
    other.set_frequency(1.25)
    other.step(0.1, velocity[1:2])
    np.testing.assert_allclose(other.frequencies, [1.0 / 0.6], atol=1e-12)
    with pytest.raises(ConfigError, match="max_step_length = -1"):
        gait_clock(clock_env(), offsets=(0.0, 0.5), max_step_length=-1.0)


def test_the_env_couples_its_clock_to_the_velocity_command_from_config():
    env = stridelab.make("biped-flat", num_envs=8, num_threads=1, seed=0,
                         commands={"gait": {"params": {"max_step_length": 0.25}}})
    clock = env.commands.gait
    env.set_commands(np.array([1.0, 0.0, 0.0]))
    env.step(np.zeros((8, env.num_actions)))
    np.testing.assert_allclose(clock.frequencies, 2.0)  # 1 m/s / (2 x 0.25 m), within the 1.25-2 Hz range
    np.testing.assert_allclose(O.gait_frequency(env.state, nominal=1.5)[:, 0], 0.5)  # the policy sees it
    # the task's default: the longest step is 0.3 leg lengths (0.256 m for the built-in biped), so 1 m/s needs
    # 1 / (2 x 0.256) = 1.95 Hz, above every drawn frequency below it
    default = stridelab.make("biped-flat", num_envs=8, num_threads=1, seed=0)
    default.set_commands(np.array([1.0, 0.0, 0.0]))
    default.step(np.zeros((8, default.num_actions)))
    needed = 1.0 / (2.0 * default.commands.gait.max_step_length)
    assert 1.9 < needed < 2.0
    np.testing.assert_allclose(default.commands.gait.frequencies,
                               np.maximum(default.commands.gait.base_frequencies, needed))
    uncoupled = stridelab.make("biped-flat", num_envs=8, num_threads=1, seed=0,
                               commands={"gait": {"params": {"max_step_per_leg": None}}})
    uncoupled.set_commands(np.array([1.0, 0.0, 0.0]))
    uncoupled.step(np.zeros((8, uncoupled.num_actions)))
    np.testing.assert_array_equal(uncoupled.commands.gait.frequencies, uncoupled.commands.gait.base_frequencies)
    assert np.ptp(uncoupled.commands.gait.frequencies) > 0.1
