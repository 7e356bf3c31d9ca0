"""The schedule curricula of the rough task: the randomization-strength ramp (draws pulled towards the nominal
robot, the same random numbers at every strength, full ranges in evaluation) and legged_gym's command
curriculum (ranges widen while tracking is good, within limits, from the episode's own reward sums)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import stridelab
from stridelab.envs.snapshot import env_state_dict, load_env_state
from stridelab.errors import ConfigError
from stridelab.eval.grid import eval_env_cfg
from stridelab.tasks import make_env_cfg

# nominal value of each privileged randomized quantity of the built-in quadruped (friction: its foot geoms' 1.0)
NOMINAL = {"added_mass": 0.0, "com_offset": 0.0, "base_inertia": 1.0, "link_mass": 1.0, "motor_strength": 1.0,
           "kp_factor": 1.0, "kd_factor": 1.0, "joint_damping": 1.0, "joint_armature": 1.0,
           "joint_frictionloss": 0.0, "gravity_offset": 0.0, "action_delay": 0.0}


def rough(n: int = 64, **curriculum):
    """quadruped-rough with the given curriculum params; without a ``randomization_strength`` the full ranges
    (the task's own ramp switched off)."""
    curriculum = {"randomization_strength": {"start_step": 0, "end_step": 0}, **curriculum}
    return stridelab.make("quadruped-rough", num_envs=n, num_threads=1, seed=3,
                          curriculum={name: {"params": p} for name, p in curriculum.items()})


def drawn(env) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in env.events.privileged().items() if k in NOMINAL or k == "friction"}


def redraw_at(env, step: int) -> dict[str, np.ndarray]:
    """Reset every env at control step ``step`` of the schedule; the values each randomizer drew."""
    env.common_step_counter = step
    env._reset(np.arange(env.num_envs))
    return drawn(env)


def test_the_ramp_pulls_the_same_draws_towards_the_nominal_robot():
    ramp = rough(randomization_strength={"start_step": 100, "end_step": 300})
    full = rough()  # no ramp: the config's ranges
    mu0 = float(np.mean(ramp.sim.physics.nominal("foot_friction")))
    start = drawn(ramp)  # built at step 0: strength 0, every value nominal
    for name, v in start.items():
        np.testing.assert_allclose(v, mu0 if name == "friction" else NOMINAL[name], atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(ramp.sim.delay_substeps, 0)
    assert ramp.sim.physics.get("kp") == pytest.approx(np.broadcast_to(ramp.sim.physics.nominal("kp"), (64, 12)))

    half, whole = redraw_at(ramp, 200), redraw_at(full, 200)  # strength 0.5; the same random numbers
    assert ramp.curriculum.terms["randomization_strength"].strength() == 0.5
    for name in NOMINAL:
        if name == "action_delay":  # whole substeps: half the delay, rounded
            steps = np.rint(whole[name] / 0.005)
            np.testing.assert_allclose(half[name] / 0.005, np.rint(0.5 * steps), atol=1e-9)
        else:
            np.testing.assert_allclose(half[name] - NOMINAL[name], 0.5 * (whole[name] - NOMINAL[name]), atol=1e-12,
                                       err_msg=name)
        assert np.ptp(whole[name]) > 0, name
    np.testing.assert_allclose(half["friction"] - mu0, 0.5 * (whole["friction"] - mu0), atol=1e-12)
    assert 0.87 <= half["kp_factor"].min() and half["kp_factor"].max() <= 1.13  # half of (0.75, 1.25) about 1
    # the physics gets the pulled values: kp = nominal * strength factor * kp factor
    kp = ramp.sim.physics.nominal("kp") * half["motor_strength"] * half["kp_factor"]
    np.testing.assert_allclose(ramp.sim.physics.get("kp"), kp, rtol=1e-12)

    again, reference = redraw_at(ramp, 300), redraw_at(full, 300)  # past end_step: the full ranges
    for name in again:
        np.testing.assert_array_equal(again[name], reference[name], err_msg=name)


def test_the_step_counter_drives_the_ramp_through_steps_and_resumes():
    env = rough(n=4, randomization_strength={"start_step": 0, "end_step": 40})
    term = env.curriculum.terms["randomization_strength"]
    for _ in range(10):
        env.step(torch.zeros(4, 12))
    assert env.common_step_counter == 10 and term.strength() == 0.25
    other = rough(n=4, randomization_strength={"start_step": 0, "end_step": 40})
    load_env_state(other, env_state_dict(env))
    assert other.common_step_counter == 10 and other.curriculum.terms["randomization_strength"].strength() == 0.25


def test_evaluation_runs_the_full_ranges_and_bad_ramps_are_one_sentence():
    cfg = make_env_cfg("quadruped-rough", curriculum={"randomization_strength": {"params": {"end_step": 500}}})
    assert "randomization_strength" in cfg.curriculum
    evaluated = eval_env_cfg(cfg, num_envs=4, duration_s=2.0, seed=0)
    assert "randomization_strength" not in evaluated.curriculum and "terrain_levels" in evaluated.curriculum
    with pytest.raises(ConfigError) as err:
        rough(n=2, randomization_strength={"start_step": 50, "end_step": 20})
    msg = str(err.value)
    assert "start_step < end_step" in msg and "\n" not in msg and msg.endswith(".")


def test_the_rough_teacher_starts_from_the_nominal_robot_with_two_frames_of_history_as_the_courses_read():
    cfg = make_env_cfg("quadruped-rough")
    assert cfg.curriculum["randomization_strength"].params == {"start_step": 2400, "end_step": 12000}
    assert cfg.rewards["feet_swing_height"].params["height"] == 0.12  # swing feet peak 12 cm above the ground
    env = stridelab.make("quadruped-rough", num_envs=4, num_threads=1, seed=0)
    assert env.get_observations()["policy"].shape == (4, 3 * 53)  # the frame and two past ones
    assert env.curriculum.terms["randomization_strength"].strength() == 0.0
    for name, v in drawn(env).items():
        if name != "friction":
            np.testing.assert_allclose(v, NOMINAL[name], atol=1e-12, err_msg=name)
    # ETG-RL's courses keep their recorded rewards and no ramp, and read the teacher's history, so that
    # --init-from a quadruped-rough run fits their actor
    course = make_env_cfg("quadruped-stairstair")
    assert course.observations["policy"].history == 2 and "randomization_strength" not in course.curriculum
    assert course.rewards["feet_swing_height"].params["height"] == 0.08


# ---- the command curriculum ---------------------------------------------------------------------------------

def test_command_ranges_widen_while_tracking_is_good_and_stop_at_their_limits():
    env = rough(n=8, command_levels={"limit_lin_vel_x": (-2.0, 2.0), "limit_lin_vel_y": (-1.0, 1.0), "step": 0.5})
    term = env.curriculum.terms["command_levels"]
    velocity = env.commands.velocity
    ids = np.arange(8)
    best = term.weight * env.cfg.episode_length_s  # the episode sum of perfect tracking

    def episode_ends(step: int, fraction_of_best: float) -> dict:
        env.common_step_counter = step
        env.rewards.episode_sums[term.index, ids] = fraction_of_best * best
        return term(ids)

    assert episode_ends(1, 0.9) == {"lin_vel_x": 1.5, "lin_vel_y": 1.0}
    np.testing.assert_allclose(velocity.low[:2], [-1.5, -1.0])
    assert episode_ends(2, 0.9)["lin_vel_x"] == 1.5  # once per episode length at most
    assert episode_ends(1 + env.max_episode_length, 0.7)["lin_vel_x"] == 1.5  # below 0.8 of the best: held
    assert episode_ends(2 + 2 * env.max_episode_length, 0.9)["lin_vel_x"] == 2.0
    assert episode_ends(3 + 3 * env.max_episode_length, 0.9)["lin_vel_x"] == 2.0  # at the limit
    velocity.resample(ids)
    assert np.all(np.abs(velocity.command[:, 0]) <= 2.0)
    state = term.state_dict()
    other = rough(n=8, command_levels={"limit_lin_vel_x": (-2.0, 2.0), "limit_lin_vel_y": (-1.0, 1.0)})
    other.curriculum.terms["command_levels"].load_state_dict(state)
    np.testing.assert_array_equal(other.commands.velocity.high, velocity.high)


def test_the_command_curriculum_reads_the_episode_sums_before_the_reset_clears_them():
    env = stridelab.make("quadruped-rough", num_envs=4, num_threads=1, seed=0, episode_length_s=0.4,
                         curriculum={"command_levels": {"params": {"limit_lin_vel_x": (-3.0, 3.0), "threshold": 0.01}}})
    for _ in range(int(np.ceil(0.4 / env.dt))):  # every episode times out at the last step
        _, _, dones, _ = env.step(torch.zeros(4, 12))
    assert dones.all()
    assert env.commands.velocity.high[0] == 1.5  # the standing robots tracked > 1 % of the best: widened once
    np.testing.assert_array_equal(env.rewards.episode_sums, 0.0)  # cleared by the reset, after the curriculum


@pytest.mark.parametrize("params, words", [
    ({"reward_term": "track_speed"}, "is not an active reward term; use one of: track_lin_vel_xy_exp"),
    ({"limit_lin_vel_x": (-0.5, 0.5)}, "must contain the command's range (-1, 1) m/s"),
    ({"threshold": 1.5}, "a threshold within (0, 1]"),
])
def test_bad_command_curriculum_settings_are_one_sentence(params, words):
    with pytest.raises(ConfigError) as err:
        rough(n=2, command_levels=params)
    msg = str(err.value)
    assert words in msg and "\n" not in msg and msg.endswith("."), msg
