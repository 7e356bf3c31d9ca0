"""Managers and the env's step order: term resolution and parameter errors, reward episode sums that add up to
the returned rewards, termination counts per term, and the documented order of one control step
(``envs/locomotion_env.py``)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from stridelab.config import EventTermCfg, ObsGroupCfg
from stridelab.envs.locomotion_env import LocomotionEnv
from stridelab.errors import ConfigError
from stridelab.tasks import make_env_cfg

DEFAULT_REWARDS = list(make_env_cfg("quadruped-flat").rewards)


def only_rewards(*names: str) -> dict:
    """Reward overrides that turn every default term off except ``names``."""
    return {name: {"weight": 0.0} for name in DEFAULT_REWARDS if name not in names}


def one_sentence(msg: str) -> bool:
    return "\n" not in msg and msg.endswith(".") and not re.search(r"\.\s+[A-Z]", msg)


def flip(env, i: int) -> None:
    """Turn env ``i``'s base upside down (180 deg about x): bad_orientation in the next step."""
    b = env.robot.base_qpos_adr
    env.sim.qpos[i, b + 3:b + 7] = [0.0, 1.0, 0.0, 0.0]


def sink(env, i: int) -> None:
    """Put env ``i``'s trunk on the ground, upright: base_contact in the next step."""
    env.sim.qpos[i, env.robot.base_qpos_adr + 2] = 0.0


# ---- term names and parameters -------------------------------------------------------------------

@pytest.mark.parametrize("overrides, name, suggestion, valid", [
    ({"rewards": {"mine": {"func": "torque_l2", "weight": -1.0}}}, "torque_l2", "torques_l2",
     ["action_rate_l2", "feet_air_time", "is_terminated", "torques_l2", "track_lin_vel_xy_exp"]),
    ({"observations": {"policy": {"terms": {"q": {"func": "joint_pos"}}}}}, "joint_pos", "joint_pos_rel",
     ["base_ang_vel", "joint_pos_rel", "last_action", "randomized_parameters", "velocity_commands"]),
    ({"terminations": {"tilt": {"func": "bad_orientaton"}}}, "bad_orientaton", "bad_orientation",
     ["bad_orientation", "base_contact", "time_out"]),
    ({"events": {"friction": {"func": "randomize_frictions"}}}, "randomize_frictions", "randomize_friction",
     ["push_by_setting_velocity", "randomize_actuator_gains", "randomize_base_mass", "randomize_friction",
      "reset_robot"]),
    ({"commands": {"velocity": {"func": "velocity_commands"}}}, "velocity_commands", "velocity_command",
     ["velocity_command"]),
    ({"action": {"func": "joint_pos"}}, "joint_pos", "joint_position", ["joint_position"]),
])
def test_unknown_term_name_is_one_sentence_listing_the_valid_names(make_env, overrides, name, suggestion, valid):
    with pytest.raises(ConfigError) as info:
        make_env(**overrides)
    msg = str(info.value)
    assert one_sentence(msg), msg
    assert f"term {name!r}" in msg and f"(did you mean {suggestion!r}?)" in msg
    listed = msg.split("valid names are: ")[1].rstrip(".").split(", ")
    assert set(valid) <= set(listed) and listed == sorted(listed)


def test_unknown_module_names_the_module(make_env):
    with pytest.raises(ConfigError) as info:
        make_env(rewards={"mine": {"func": "no_such_pkg.terms:bonus", "weight": 1.0}})
    msg = str(info.value)
    assert one_sentence(msg) and "cannot import module 'no_such_pkg.terms'" in msg and "package.module:name" in msg


@pytest.mark.parametrize("func", ["np", "RobotState"])
def test_a_name_imported_into_a_term_module_is_not_a_term(make_env, func):
    """``func`` must name a term: what a term module merely imports (numpy, RobotState, ...) is rejected
    like any unknown name, not called with the manager's arguments."""
    with pytest.raises(ConfigError) as info:
        make_env(rewards={"mine": {"func": func, "weight": 1.0}})
    msg = str(info.value)
    assert one_sentence(msg) and f"unknown rewards term {func!r}" in msg and "valid names are:" in msg


@pytest.mark.parametrize("overrides, words", [
    ({"rewards": {"track_lin_vel_xy_exp": {"params": {"sigma": 0.5}}}},
     "rewards term 'track_lin_vel_xy_exp': unknown parameter 'sigma'; its parameters are: std."),
    ({"rewards": {"feet_air_time": {"params": {"treshold": 0.5}}}},  # a class term
     "rewards term 'feet_air_time': unknown parameter 'treshold' (did you mean 'threshold'?); its parameters are: "
     "threshold."),
    ({"terminations": {"bad_orientation": {"params": {"max_tlt": 0.5}}}},
     "terminations term 'bad_orientation': unknown parameter 'max_tlt' (did you mean 'max_tilt'?)"),
    ({"events": {"friction": {"params": {"rnage": (0.5, 1.0)}}}},
     "events term 'friction': unknown parameter 'rnage' (did you mean 'range'?)"),
    ({"events": {"reset_robot": {"params": {"joint_nois": 0.1}}}},  # a function event term
     "events term 'reset_robot': unknown parameter 'joint_nois' (did you mean 'joint_noise'?); its parameters "
     "are: joint_noise, yaw_range."),
    ({"observations": {"privileged": {"terms": {"base_lin_vel": {"params": {"frame": "world"}}}}}},
     "observations term 'base_lin_vel': unknown parameter 'frame'; its parameters are: none."),
])
def test_unknown_term_parameter_is_one_sentence_naming_it(make_env, overrides, words):
    with pytest.raises(ConfigError) as info:
        make_env(**overrides)
    msg = str(info.value)
    assert one_sentence(msg), msg
    assert words in msg


def test_unknown_action_parameter_is_one_sentence_like_the_other_terms(make_env):
    """The action term's parameters are checked like every other term's: the unknown name, a suggestion,
    and the valid parameters (not Python's TypeError text)."""
    with pytest.raises(ConfigError) as info:
        make_env(action={"params": {"clp": 1.0}})
    msg = str(info.value)
    assert one_sentence(msg), msg
    assert "unknown parameter 'clp' (did you mean 'clip'?)" in msg and "its parameters are: scale, clip." in msg


def test_config_tables_reject_bad_shapes(make_env):
    cfg = make_env_cfg("quadruped-flat", num_envs=1, num_threads=1)
    with pytest.raises(ConfigError, match=r"no 'policy' observation group; add observations\.policy"):
        LocomotionEnv(replace(cfg, observations={"privileged": cfg.observations["privileged"]}))
    with pytest.raises(ConfigError, match=r"policy\.velocity_commands has 3 values but 2 scales"):
        make_env(observations={"policy": {"terms": {"velocity_commands": {"scale": (1.0, 2.0)}}}})
    with pytest.raises(ConfigError, match=r"did you mean 'scale'"):
        make_env(observations={"policy": {"terms": {"velocity_commands": {"scael": 1.0}}}})
    with pytest.raises(ConfigError, match="history = 51"):
        ObsGroupCfg(history=51)
    with pytest.raises(ConfigError, match="event mode 'often'"):
        EventTermCfg("push_by_setting_velocity", mode="often")
    with pytest.raises(ConfigError, match="interval_s"):
        EventTermCfg("push_by_setting_velocity", mode="interval", interval_s=(0.0, 0.0))


# ---- reward sums ---------------------------------------------------------------------------------

def test_episode_reward_sums_add_up_to_the_returned_rewards(make_env):
    """Per finished episode: sum over logged terms (only_positive_clip included) x episode_length_s equals
    the mean over the finished envs of their summed step rewards, with clipping, falls and time-outs."""
    n = 16
    env = make_env(num_envs=n, episode_length_s=0.2)  # 10 steps; only_positive_rewards on (the default)
    assert env.cfg.only_positive_rewards and env.rewards.sum_names[-1] == "only_positive_clip"
    gen = torch.Generator().manual_seed(0)
    running = np.zeros(n)
    checked = clip_seen = penalty_seen = 0
    for step in range(1, 31):
        if step in (3, 14, 25):  # falls in the middle of episodes too
            flip(env, step % n)
            sink(env, (step + 5) % n)
        _, rew, dones, extras = env.step(torch.randn(n, 12, generator=gen) * 2.0)
        running += rew.double().numpy()
        ids = np.flatnonzero(dones.numpy())
        log = extras["log"]
        terms = {k: v for k, v in log.items() if k.startswith("Episode_Reward/")}
        if len(ids) == 0:
            assert not terms
            continue
        assert set(terms) == {f"Episode_Reward/{name}" for name in env.rewards.sum_names}
        logged = sum(terms.values()) * env.cfg.episode_length_s
        assert logged == pytest.approx(running[ids].mean(), rel=1e-5, abs=1e-6)
        assert terms["Episode_Reward/only_positive_clip"] >= 0.0
        clip_seen += terms["Episode_Reward/only_positive_clip"] > 0
        penalty_seen += terms["Episode_Reward/termination"] < 0
        running[ids] = 0.0
        checked += 1
    assert checked >= 5 and clip_seen and penalty_seen  # the test exercised the clip and the penalty


def test_weight_and_dt_scale_each_term(make_env):
    """A term contributes weight x value x dt: with only lin_vel_z_l2 on, the reward is -2 * vz^2 * 0.02."""
    env = make_env(num_envs=4, rewards=only_rewards("lin_vel_z_l2"), only_positive_rewards=False)
    rng = np.random.default_rng(0)
    for _ in range(3):
        _, rew, dones, _ = env.step(torch.from_numpy(rng.normal(0.0, 1.0, size=(4, 12)).astype(np.float32)))
        assert not dones.any()
        vz = env.last_state.base_lin_vel[:, 2]
        np.testing.assert_allclose(rew.numpy(), (-2.0 * vz**2 * env.dt).astype(np.float32), rtol=1e-6)
        assert (rew < 0).all()


# ---- terminations ----------------------------------------------------------------------------------

def test_termination_counts_per_term(make_env):
    env = make_env(num_envs=6, episode_length_s=0.1)  # 5 steps
    zero = torch.zeros(6, 12)
    env.step(zero)
    flip(env, 1)
    sink(env, 4)
    _, _, dones, extras = env.step(zero)
    assert dones.tolist() == [False, True, False, False, True, False] and not extras["time_outs"].any()
    log = extras["log"]
    assert log["Episode_Termination/bad_orientation"] == 1.0 and log["Episode_Termination/base_contact"] == 1.0
    assert log["Episode_Termination/time_out"] == 0.0 and log["Episode_Termination/unstable"] == 0.0
    for _ in range(2):
        env.step(zero)
    flip(env, 0)  # fails in the step where envs 0, 2, 3, 5 reach the time limit
    _, _, dones, extras = env.step(zero)
    assert dones.tolist() == [True, False, True, True, False, True]
    assert extras["time_outs"].tolist() == [False, False, True, True, False, True]
    log = extras["log"]
    # a failure at the time limit counts as the failure only
    assert log["Episode_Termination/time_out"] == 3.0 and log["Episode_Termination/bad_orientation"] == 1.0
    assert log["Episode_Termination/base_contact"] == 0.0


def test_an_unstable_simulation_at_the_time_limit_is_not_also_a_time_out(make_env):
    """An unstable simulation is a failure (not a truncation), so like any failure at the time limit it must
    not be counted under time_out: the counts then match ``extras['time_outs']``."""
    env = make_env(num_envs=4, episode_length_s=0.1)
    zero = torch.zeros(4, 12)
    for _ in range(4):
        env.step(zero)
    env.sim.qvel[1, env.robot.base_dof_adr] = np.nan
    _, _, dones, extras = env.step(zero)
    assert dones.all() and extras["time_outs"].tolist() == [True, False, True, True] and extras["unstable"] == 1
    log = extras["log"]
    assert log["Episode_Termination/unstable"] == 1.0
    assert log["Episode_Termination/time_out"] == float(extras["time_outs"].sum()) == 3.0


# ---- the step order (envs/locomotion_env.py) -------------------------------------------------------

def test_termination_penalty_is_paid_in_the_failing_step_and_not_at_a_time_out(make_env):
    env = make_env(num_envs=4, episode_length_s=0.1, rewards=only_rewards("termination"))
    assert env.rewards.names == ["termination"]
    penalty = np.float32(-20.0 * env.dt)  # weight -20 per fall, after the clip at zero
    zero = torch.zeros(4, 12)
    _, rew, _, _ = env.step(zero)
    np.testing.assert_array_equal(rew.numpy(), 0.0)
    flip(env, 2)
    _, rew, dones, extras = env.step(zero)  # terminations before rewards: the flag is seen in this step
    assert dones.tolist() == [False, False, True, False]
    np.testing.assert_array_equal(rew.numpy(), [0.0, 0.0, penalty, 0.0])
    assert extras["log"]["Episode_Reward/termination"] == pytest.approx(penalty / 0.1)  # per second of episode
    _, rew, _, _ = env.step(zero)  # the reset env starts clean
    np.testing.assert_array_equal(rew.numpy(), 0.0)
    for _ in range(2):
        _, rew, dones, extras = env.step(zero)
    assert dones.tolist() == [True, True, False, True] and extras["time_outs"].tolist() == [True, True, False, True]
    np.testing.assert_array_equal(rew.numpy(), 0.0)  # a time-out is a truncation, not a failure
    # an unstable simulation is reset but not penalized (its state means nothing)
    env.sim.qvel[0, env.robot.base_dof_adr] = np.nan
    _, rew, dones, extras = env.step(zero)
    assert dones[0] and extras["unstable"] == 1 and rew[0] == 0.0


def test_rewards_see_the_failing_state_and_observations_the_reset_one(make_env):
    """Order: state -> terminations -> rewards -> reset -> observations. The reward of a falling env is
    computed from its last state (kept as ``env.last_state``); its observation is its new episode's first."""
    env = make_env(num_envs=3, observations={"policy": {"noise": 0.0}},
                   rewards=only_rewards("flat_orientation_l2"), only_positive_rewards=False)
    env.step(torch.zeros(3, 12))
    b = env.robot.base_qpos_adr
    env.sim.qpos[1, b + 3:b + 7] = [np.cos(0.7), np.sin(0.7), 0.0, 0.0]  # rolled 1.4 rad > max_tilt 1 rad
    obs, rew, dones, _ = env.step(torch.zeros(3, 12))
    assert dones.tolist() == [False, True, False]
    g_before = env.last_state.projected_gravity
    assert np.sum(g_before[1, :2] ** 2) > 0.9  # the failing state was tilted
    np.testing.assert_allclose(rew.numpy(), (-2.5 * np.sum(g_before[:, :2] ** 2, axis=1) * env.dt).astype(np.float32),
                               rtol=1e-6)
    # the observation and env.state are the reset env's new, level start
    np.testing.assert_allclose(env.state.projected_gravity[1], [0.0, 0.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(obs["policy"][1, 3:6].numpy(), [0.0, 0.0, -1.0], atol=1e-6)
    assert env.episode_length[1] == 0
    np.testing.assert_array_equal(env.last_state.base_pos[[0, 2]], env.state.base_pos[[0, 2]])


# ---- curriculum: run first at every reset -------------------------------------------------------------

def count_resets(env, env_ids, scale: float = 1.0):
    """A curriculum function term: the number of envs reset (times ``scale``)."""
    return float(len(env_ids)) * scale


class NarrowFriction:
    """A curriculum class term: narrows the friction randomization to one value after ``after`` resets."""

    def __init__(self, env, value: float = 0.9, after: int = 1) -> None:
        self.env, self.value, self.after, self.calls = env, value, after, 0

    def __call__(self, env_ids):
        self.calls += 1
        if self.calls > self.after:
            self.env.events.terms["friction"][1].range = (self.value, self.value)
        return {"calls": self.calls}

    def reset(self, env_ids):
        """Nothing per env."""


def test_curriculum_runs_before_the_reset_events_and_is_logged(make_env):
    env = make_env(num_envs=4, episode_length_s=0.06, curriculum={
        "resets": {"func": f"{__name__}:count_resets", "params": {"scale": 2.0}},
        "friction": {"func": f"{__name__}:NarrowFriction", "params": {"value": 0.9}}})
    assert not np.all(env.events.privileged()["friction"] == 0.9)  # the first reset (at construction) was wide
    zero = torch.zeros(4, 12)
    for _ in range(2):
        env.step(zero)
    _, _, dones, extras = env.step(zero)
    assert dones.all()
    assert extras["log"]["Curriculum/resets"] == 8.0
    assert extras["log"]["Curriculum/friction/calls"] == 2.0
    # the curriculum changed the range in this reset, before the friction event sampled it
    np.testing.assert_array_equal(env.events.privileged()["friction"], 0.9)
    np.testing.assert_array_equal(env.sim.batch.expanded("geom_friction")[:, env.robot.foot_geom_ids, 0], 0.9)


def test_unknown_curriculum_parameter(make_env):
    with pytest.raises(ConfigError, match=r"curriculum term 'resets': unknown parameter 'scal' \(did you mean 'scale'"):
        make_env(curriculum={"resets": {"func": f"{__name__}:count_resets", "params": {"scal": 2.0}}})
