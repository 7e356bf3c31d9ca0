"""The gait clock: a command that ticks, an observation of it, a contact-schedule reward, and the same
clock on the robot side (deploy builder and the plain loop)."""

from __future__ import annotations

import numpy as np
import pytest

from stridelab.errors import ConfigError
from stridelab.mdp import rewards as R
from stridelab.mdp.commands import gait_clock
from test_rewards import fake_env, make_state

TROT = {"commands": {"gait": {"func": "gait_clock", "params": {"frequency": 2.0, "offsets": [0, 0.5, 0.5, 0]}}},
        "observations": {"policy": {"terms": {"gait_clock": {"func": "gait_clock"}}}},
        "rewards": {"gait_contact_schedule": {"func": "gait_contact_schedule", "weight": 1.0}}}


def clock_env(num_envs=3, num_feet=2, dt=0.02):
    env = fake_env(num_envs=num_envs, num_feet=num_feet, dt=dt)
    env.rng = np.random.default_rng(0)
    return env


def test_clock_ticks_at_its_frequency_with_per_foot_offsets():
    clock = gait_clock(clock_env(), frequency=2.0, offsets=(0.0, 0.5), random_start=False)
    clock.resample(np.arange(3))
    for _ in range(10):  # 10 x 0.02 s at 2 Hz = 0.4 cycles
        clock.step(0.02)
    np.testing.assert_allclose(clock.command, [[0.4, 0.9]] * 3, atol=1e-12)
    clock.step(0.3)  # wraps: 0.4 + 0.6 = 1.0 -> 0
    np.testing.assert_allclose(clock.command[0], [0.0, 0.5], atol=1e-12)
    state = clock.state_dict()
    other = gait_clock(clock_env(), frequency=2.0, offsets=(0.0, 0.5))
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.command, clock.command)


def test_random_start_spreads_the_phases():
    clock = gait_clock(clock_env(num_envs=64), offsets=(0.0, 0.5))
    clock.resample(np.arange(64))
    assert np.std(clock.phase) > 0.2 and np.all((clock.phase >= 0) & (clock.phase < 1))


@pytest.mark.parametrize("params, words", [
    ({"offsets": (0.0, 0.5, 0.5)}, "3 offsets but the robot has 2 feet"),
    ({"offsets": (0.0, 0.5), "frequency": 0.0}, "frequency = 0.0 Hz"),
    ({"offsets": (0.0, 0.5), "duty": 1.0}, "duty = 1.0"),
    ({}, "needs offsets"),
])
def test_bad_clock_parameters_name_the_problem(params, words):
    with pytest.raises(ConfigError, match=words):
        gait_clock(clock_env(), **params)


def test_desired_stance_follows_the_duty_factor():
    phase = np.array([[0.25, 0.75, 0.5, 0.0, 0.999]])
    c = R.desired_stance(phase, duty=0.5, kappa=0.07)
    assert c[0, 0] > 0.97 and c[0, 1] < 0.03  # mid-stance, mid-swing
    np.testing.assert_allclose(c[0, 2:], 0.5, atol=0.02)  # both edges of the stance are half-way
    wide = R.desired_stance(np.array([[0.6]]), duty=0.75)
    assert wide[0, 0] > 0.9


def test_contact_schedule_rewards_feet_that_follow_the_clock():
    phase = np.array([[0.25, 0.75], [0.25, 0.75]])
    follow = make_state(commands=[[1.0, 0.0, 0.0]] * 2, foot_contact=[[True, False], [False, True]], gait_phase=phase)
    r = R.gait_contact_schedule(follow)
    assert r[0] > 0.97 and r[1] < 0.03  # env 1 does the opposite of the schedule
    idle = make_state(commands=[[0.0, 0.0, 0.0]] * 2, foot_contact=[[True, True], [True, False]], gait_phase=phase)
    np.testing.assert_allclose(R.gait_contact_schedule(idle), [1.0, 0.5])  # at zero command: stand on all feet
    with pytest.raises(ConfigError, match="needs a gait clock"):
        R.gait_contact_schedule(make_state(commands=[[1.0, 0.0, 0.0]] * 2))


def test_env_observes_the_clock_and_mirrors_it_by_feet(make_env):
    env = make_env(**TROT)
    env.set_commands(np.array([[0.5, 0.0, 0.0], [0.0, 0.0, 0.5], [0.0, 0.3, 0.0], [0.0, 0.0, 0.0]]))
    for _ in range(3):
        obs, *_ = env.step(np.zeros((4, 12)))
    group = env.observations.groups["policy"]
    clock = obs["policy"].numpy()[:, -8:]
    phase = env.state.gait_phase
    expected = np.concatenate([np.sin(2 * np.pi * phase), np.cos(2 * np.pi * phase)], 1)
    np.testing.assert_allclose(clock[:3], expected[:3], atol=1e-6)
    np.testing.assert_array_equal(clock[3], 0.0)  # zero command: the clock reads zero (stand)
    np.testing.assert_allclose(phase[:, 0], phase[:, 3])  # trot: diagonal feet together
    np.testing.assert_allclose(np.mod(phase[:, 1] - phase[:, 0], 1.0), 0.5)
    perm, sign = env.observations.mirror_maps(env.robot.spec)["policy"]
    start = group.frame_size - 8
    feet = np.asarray(env.robot.spec.feet_mirror_perm)
    np.testing.assert_array_equal(perm[start:start + 4], start + feet)
    np.testing.assert_array_equal(perm[start + 4:start + 8], start + 4 + feet)
    assert "Episode_Reward/gait_contact_schedule" in env.rewards.episode_log(np.arange(4), 1.0)


def test_policy_without_a_clock_command_is_a_clear_error():
    from dataclasses import replace

    import stridelab
    from stridelab.tasks import make_env_cfg

    cfg = make_env_cfg("quadruped-flat", num_envs=2, num_threads=1)
    cfg = replace(cfg, commands={"velocity": cfg.commands["velocity"]})  # the clock command removed
    with pytest.raises(ConfigError, match="add a 'gait_clock' command"):
        stridelab.make_env(cfg)


def test_deploy_builder_runs_the_same_clock(make_env):
    """policy.json's gait block lets the robot side run the clock: it starts at phase 0 and ticks once per
    control step, and the builder observes it as the env does."""
    from stridelab.deploy.backend import RobotSignals as Sample
    from stridelab.deploy.observation import ObservationBuilder

    quiet = {**TROT, "observations": {"policy": {"noise": 0.0, **TROT["observations"]["policy"]}}}
    env = make_env(num_envs=1, **quiet)
    meta = {"observation": env.observations.groups["policy"].describe(), "gait": env.commands.gait.describe(),
            "default_joint_pos": list(env.robot.spec.default_pose), "control_dt": env.dt}
    assert meta["gait"]["offsets"] == [0.0, 0.5, 0.5, 0.0] and meta["gait"]["frequency"] == 2.0
    builder = ObservationBuilder(meta)
    env.set_commands(np.array([0.6, 0.0, 0.0]))
    s = env.state
    sample = Sample(0.0, s.joint_pos[0], s.joint_vel[0], s.base_quat[0], s.base_ang_vel[0])
    for k in range(5):
        built = builder(sample, s.commands[0], s.actions[0])
        phase = 2 * np.pi * np.mod(k * env.dt * 2.0 + np.array([0, 0.5, 0.5, 0]), 1.0)
        np.testing.assert_allclose(built[0, -8:], np.concatenate([np.sin(phase), np.cos(phase)]), atol=1e-6)
    builder.reset()  # a new episode restarts the clock
    np.testing.assert_allclose(builder(sample, s.commands[0], s.actions[0])[0, -4:], [1.0, -1.0, -1.0, 1.0], atol=1e-6)
    standing = builder(sample, np.zeros(3), s.actions[0])
    np.testing.assert_array_equal(standing[0, -8:], 0.0)
    # the rest of the vector is the env's own
    env_obs = env.observations.groups["policy"].frame(s, noise=False)[0]
    np.testing.assert_allclose(built[0, :-8], env_obs[:-8], atol=1e-5)


def test_alternating_offsets_come_from_the_feet_mirror_map():
    from types import SimpleNamespace

    from stridelab.mdp.commands import alternating_offsets

    assert alternating_offsets(SimpleNamespace(feet_mirror_perm=(1, 0, 3, 2))) == (0.0, 0.5, 0.5, 0.0)  # trot
    assert alternating_offsets(SimpleNamespace(feet_mirror_perm=(1, 0))) == (0.0, 0.5)  # biped
    assert alternating_offsets(SimpleNamespace(feet_mirror_perm=None, feet=("a", "b", "c", "d"))) == (0, 0.5, 0.5, 0)
    assert alternating_offsets(SimpleNamespace(feet_mirror_perm=None, feet=("a", "b", "c"))) is None


def _drive(clock, commands, dt=0.02):
    """Step ``clock`` as the env does, once per command (n, 3); its settling mask after each step."""
    out = []
    for c in commands:
        clock.step(dt, np.tile(c, (len(clock.idle_s), 1)))
        out.append(clock.settling.copy())
    return np.array(out)


def test_a_stop_steps_on_for_the_settle_cycles_then_stands():
    walk, stop = np.array([0.5, 0.0, 0.0]), np.zeros(3)
    clock = gait_clock(clock_env(), frequency=2.0, offsets=(0.0, 0.5), settle_cycles=1.0)
    clock.resample(np.arange(3))
    settling = _drive(clock, [walk] * 10 + [stop] * 30)[:, 0]
    # moving is not settling; then one 2 Hz cycle (0.5 s = 25 steps of 0.02 s) of stepping on, then stand
    assert not settling[:10].any()
    assert settling[10:10 + 24].all() and not settling[10 + 26:].any()
    # a restart told to stand stands at once, and so does a clock without settling cycles
    clock.resample(np.arange(3))
    assert not _drive(clock, [stop] * 5).any()
    plain = gait_clock(clock_env(), frequency=2.0, offsets=(0.0, 0.5))
    plain.resample(np.arange(3))
    assert not _drive(plain, [walk] * 10 + [stop] * 10).any()
    with pytest.raises(ConfigError, match="settle_cycles = -1"):
        gait_clock(clock_env(), offsets=(0.0, 0.5), settle_cycles=-1)


def test_a_settling_robot_counts_as_moving_for_the_clock_observation_and_the_gait_rewards():
    from stridelab.mdp.observations import gait_clock as clock_obs
    from stridelab.mdp.state import commanded

    s = make_state(joint_pos=np.full((2, 2), 0.3))  # both told to stand, both off the default pose
    s.gait_phase = np.array([[0.25, 0.75], [0.25, 0.75]])
    s.gait_settling = np.array([True, False])
    np.testing.assert_array_equal(commanded(s), [True, False])
    obs = clock_obs(s)
    assert np.abs(obs[0]).max() > 0.9 and np.all(obs[1] == 0.0)
    np.testing.assert_allclose(R.stand_still(s), [0.0, 0.6])  # not asked to stand still while the stop steps on


def test_the_deploy_clock_settles_as_the_env_clock():
    """The env counts a step's command after advancing (CommandManager: reset watches with dt 0, then step);
    the deploy runtime watches before each observation and advances after it: the same phases and masks."""
    rng = np.random.default_rng(3)
    commands = [np.array([v, 0.0, 0.0]) for v in rng.choice([0.0, 0.6], size=80, p=[0.4, 0.6])]
    env_clock = gait_clock(clock_env(num_envs=1), frequency=1.5, offsets=(0.0, 0.5), settle_cycles=1.0,
                           random_start=False)
    env_clock.resample(np.arange(1))
    env_clock.watch(commands[0].reshape(1, 3), 0.0, np.arange(1))
    env_seen = [(env_clock.command.copy(), env_clock.settling.copy())]
    for c in commands[1:]:
        env_clock.step(0.02, c.reshape(1, 3))
        env_seen.append((env_clock.command.copy(), env_clock.settling.copy()))
    robot = gait_clock.from_description(env_clock.describe(min_command=0.1))
    robot.resample(np.arange(1))
    for k, c in enumerate(commands):
        robot.watch(c.reshape(1, 3), 0.02)
        np.testing.assert_allclose(robot.command, env_seen[k][0], atol=1e-12)
        assert robot.settling[0] == env_seen[k][1][0], k
        robot.advance(0.02, c.reshape(1, 3))
    assert any(s[0] for _, s in env_seen)  # the sequence has stops after moving


def test_a_stop_set_by_play_or_eval_steps_on_at_once():
    """``set_commands`` replaces the current step's command: the newest observation already shows the stop's
    clock (as the deploy runtime's, which counts the command it is given)."""
    import torch

    import stridelab
    from stridelab.mdp.observations import gait_clock as clock_obs

    env = stridelab.make("biped-flat", num_envs=2, num_threads=1, seed=0)
    env.reset_all()
    env.set_commands(np.array([0.5, 0.0, 0.0]))
    for _ in range(3):
        env.step(torch.zeros(2, 10))
    env.set_commands(np.zeros(3))
    first = clock_obs(env.state)
    for _ in range(int(1.2 / env.dt)):  # a 1.25-2 Hz clock's settling cycle is at most 0.8 s
        env.step(torch.zeros(2, 10))
    later = clock_obs(env.state)
    assert np.abs(first).max() > 0.5 and np.all(later == 0.0)
