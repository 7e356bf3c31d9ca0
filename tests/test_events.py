"""Events: domain randomization written into the per-env physics (friction, base mass, PD gains), what the
privileged group observes of it, and pushes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stridelab.errors import ConfigError
from conftest import steps_until

N = 16
GAINS = {"actuator_gains": {"params": {"kp_factor": (0.5, 1.5)}}}
ALL_GAINS = {"actuator_gains": {"params": {"motor_strength": (0.8, 1.2), "kp_factor": (0.5, 1.5),
                                           "kd_factor": (0.5, 1.5)}}}
PUSH = {"push": {"params": {"velocity": 0.5}, "interval_s": (0.1, 0.1)}}


def random_steps(env, steps: int, seed: int = 0, std: float = 1.0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        a = torch.from_numpy(rng.normal(0.0, std, size=(env.num_envs, env.num_actions)).astype(np.float32))
        obs, _, dones, _ = env.step(a)
    return obs, dones


def flip(env, i: int) -> None:
    b = env.robot.base_qpos_adr
    env.sim.qpos[i, b + 3:b + 7] = [0.0, 1.0, 0.0, 0.0]


# ---- friction --------------------------------------------------------------------------------------

def test_friction_is_written_into_the_foot_geoms_and_observed(make_env):
    env = make_env(num_envs=N)
    robot = env.robot
    friction = env.events.privileged()["friction"]
    assert friction.shape == (N, 4)
    assert np.all((friction >= 0.5) & (friction <= 1.25)) and friction.std() > 0.05
    # one coefficient per env, shared by all its feet
    np.testing.assert_array_equal(friction, friction[:, :1].repeat(4, axis=1))
    geom_friction = env.sim.batch.expanded("geom_friction")
    assert geom_friction.shape == (N, robot.model.ngeom, 3)
    np.testing.assert_array_equal(geom_friction[:, robot.foot_geom_ids, 0], friction[:, robot.foot_of_geom])
    # the torsional and rolling coefficients and every other geom keep the model's values
    np.testing.assert_array_equal(geom_friction[:, robot.foot_geom_ids, 1:],
                                  np.broadcast_to(robot.model.geom_friction[robot.foot_geom_ids, 1:],
                                                  (N, len(robot.foot_geom_ids), 2)))
    others = np.setdiff1d(np.arange(robot.model.ngeom), robot.foot_geom_ids)
    np.testing.assert_array_equal(geom_friction[:, others], np.broadcast_to(robot.model.geom_friction[others],
                                                                            (N, len(others), 3)))
    # the privileged group shows the same numbers (columns 7:11, scale 1)
    np.testing.assert_array_equal(env.get_observations()["privileged"][:, 7:11].numpy(), friction.astype(np.float32))


def test_a_reset_resamples_friction_of_that_env_only(make_env):
    env = make_env(num_envs=4)
    before = env.events.privileged()["friction"].copy()
    env.step(torch.zeros(4, 12))
    flip(env, 2)
    obs, _, dones, _ = env.step(torch.zeros(4, 12))
    assert dones.tolist() == [False, False, True, False]
    after = env.events.privileged()["friction"]
    np.testing.assert_array_equal(after[[0, 1, 3]], before[[0, 1, 3]])
    assert not np.array_equal(after[2], before[2])
    geom_friction = env.sim.batch.expanded("geom_friction")
    np.testing.assert_array_equal(geom_friction[:, env.robot.foot_geom_ids, 0], after[:, env.robot.foot_of_geom])
    np.testing.assert_array_equal(obs["privileged"][:, 7:11].numpy(), after.astype(np.float32))


# ---- base mass -------------------------------------------------------------------------------------

def test_added_mass_is_written_into_body_mass(make_env):
    env = make_env(num_envs=N)
    robot, b = env.robot, env.robot.base_body_id
    added = env.events.privileged()["added_mass"]
    assert added.shape == (N, 1) and np.all(np.abs(added) <= 1.0) and added.std() > 0.1
    body_mass = env.sim.batch.expanded("body_mass")
    np.testing.assert_allclose(body_mass[:, b], robot.model.body_mass[b] + added[:, 0], rtol=0, atol=1e-12)
    others = np.setdiff1d(np.arange(robot.model.nbody), [b])
    np.testing.assert_array_equal(body_mass[:, others], np.broadcast_to(robot.model.body_mass[others],
                                                                        (N, len(others))))
    # set_const ran: the derived subtree mass of the base follows
    subtree = env.sim.batch.expanded("body_subtreemass")
    np.testing.assert_allclose(subtree[:, b], robot.model.body_subtreemass[b] + added[:, 0], atol=1e-9)
    np.testing.assert_array_equal(env.get_observations()["privileged"][:, 11].numpy(), added[:, 0].astype(np.float32))


def test_a_heavier_base_sags_lower_with_more_torque(make_env):
    """Same seed, so the same initial poses; only the added mass differs (-1 kg vs +3 kg)."""
    light = make_env(num_envs=4, events={"base_mass": {"params": {"added_mass": (-1.0, -1.0)}}})
    heavy = make_env(num_envs=4, events={"base_mass": {"params": {"added_mass": (3.0, 3.0)}}})
    np.testing.assert_array_equal(light.sim.qpos, heavy.sim.qpos)
    np.testing.assert_array_equal(light.events.privileged()["added_mass"], -1.0)
    np.testing.assert_array_equal(heavy.events.privileged()["added_mass"], 3.0)
    zero = torch.zeros(4, 12)
    for _ in range(50):  # 1 s of standing on the PD controllers
        _, _, d1, _ = light.step(zero)
        _, _, d2, _ = heavy.step(zero)
        assert not d1.any() and not d2.any()
    # 4 kg more on PD legs: the base sits lower and the joints hold more torque, in every env
    sag = light.state.base_pos[:, 2] - heavy.state.base_pos[:, 2]
    assert np.all(sag > 0.003), sag
    effort_light = np.abs(light.state.torques).sum(axis=1)
    effort_heavy = np.abs(heavy.state.torques).sum(axis=1)
    assert np.all(effort_heavy > 1.2 * effort_light), (effort_light, effort_heavy)


def test_com_offset_moves_the_base_inertial_frame_and_is_observed(make_env):
    env = make_env(num_envs=8, events={"base_mass": {"params": {"com_offset": (-0.02, 0.02)}}})
    b = env.robot.base_body_id
    values = env.events.privileged()
    assert list(values) == ["friction", "added_mass", "com_offset"]
    offset = values["com_offset"]
    assert offset.shape == (8, 3) and np.all(np.abs(offset) <= 0.02) and np.all(offset.std(axis=0) > 0)
    np.testing.assert_allclose(env.sim.batch.expanded("body_ipos")[:, b], env.robot.model.body_ipos[b] + offset,
                               atol=1e-12)
    priv = env.get_observations()["privileged"].numpy()
    assert priv.shape == (8, 15)
    np.testing.assert_allclose(priv[:, 12:15], offset * 10.0, rtol=1e-6)  # scaled by 10 (cm -> O(0.1))


# ---- actuator gains --------------------------------------------------------------------------------

def test_kp_factor_is_written_into_the_pd_actuators(make_env):
    env = make_env(num_envs=8, events=GAINS)
    spec = env.robot.spec
    kp, kd = np.asarray(spec.kp, dtype=float), np.asarray(spec.kd, dtype=float)
    factor = env.events.privileged()["kp_factor"]
    assert factor.shape == (8, 12) and np.all((factor >= 0.5) & (factor <= 1.5))
    gain = env.sim.batch.expanded("actuator_gainprm")
    bias = env.sim.batch.expanded("actuator_biasprm")
    np.testing.assert_allclose(gain[:, :, 0], kp * factor, rtol=1e-12)
    np.testing.assert_allclose(bias[:, :, 1], -kp * factor, rtol=1e-12)
    np.testing.assert_allclose(bias[:, :, 2], np.broadcast_to(-kd, (8, 12)), rtol=1e-12)  # kd_factor off
    np.testing.assert_array_equal(bias[:, :, 0], 0.0)
    # the physics uses them: torque = kp f (target - q) - kd qdot, below the torque limit
    rng = np.random.default_rng(1)
    env.step(torch.from_numpy(rng.normal(0.0, 0.2, size=(8, 12)).astype(np.float32)))
    env.sim.batch.forward(np.arange(8, dtype=np.int32))  # torques of the current state
    q, qd = env.sim.qpos[:, env.robot.qpos_adr], env.sim.qvel[:, env.robot.dof_adr]
    expected = np.clip(kp * factor * (env.sim.ctrl - q) - kd * qd, -env.robot.torque_limits, env.robot.torque_limits)
    np.testing.assert_allclose(env.sim.actuator_force, expected, rtol=1e-9, atol=1e-9)


def test_all_gain_factors_multiply(make_env):
    env = make_env(num_envs=8, events=ALL_GAINS)
    spec = env.robot.spec
    v = env.events.privileged()
    kp, kd = np.asarray(spec.kp, dtype=float), np.asarray(spec.kd, dtype=float)
    np.testing.assert_allclose(env.sim.batch.expanded("actuator_gainprm")[:, :, 0],
                               kp * v["motor_strength"] * v["kp_factor"], rtol=1e-12)
    np.testing.assert_allclose(env.sim.batch.expanded("actuator_biasprm")[:, :, 2],
                               -kd * v["motor_strength"] * v["kd_factor"], rtol=1e-12)


@pytest.mark.parametrize("events, extra", [(GAINS, ["kp_factor"]),
                                           (ALL_GAINS, ["motor_strength", "kp_factor", "kd_factor"])])
def test_gains_grow_the_privileged_group_by_12_per_factor(make_env, events, extra):
    env = make_env(num_envs=N, events=events)
    privileged = env.observations.groups["privileged"]
    assert privileged.sizes == [3, 4, 5 + 12 * len(extra)]
    parts = privileged.describe()["terms"][2]["parts"]
    assert [p["name"] for p in parts] == ["friction", "added_mass", *extra]
    obs, dones = random_steps(env, 3)
    priv = obs["privileged"].numpy()
    assert priv.shape == (N, 12 + 12 * len(extra))
    assert np.all(priv.std(axis=0) > 0), np.flatnonzero(priv.std(axis=0) == 0)
    values = env.events.privileged()
    np.testing.assert_array_equal(priv[:, 12:], np.concatenate([values[k] for k in extra], axis=1).astype(np.float32))


# ---- the privileged group --------------------------------------------------------------------------

def test_default_privileged_group_is_velocity_contacts_friction_mass_and_never_constant(make_env):
    env = make_env(num_envs=N)
    assert set(env.events.terms) == {"friction", "base_mass", "reset_robot"}  # gains and pushes are off
    obs, dones = random_steps(env, 4)
    priv = obs["privileged"].numpy()
    assert priv.shape == (N, 12)
    s, values = env.state, env.events.privileged()
    expected = np.concatenate([s.base_lin_vel * 2.0, s.foot_contact, values["friction"], values["added_mass"]], axis=1)
    np.testing.assert_allclose(priv, expected.astype(np.float32), rtol=1e-6, atol=1e-7)
    std = priv.std(axis=0)
    assert np.all(std > 0), f"constant privileged columns: {np.flatnonzero(std == 0)}"


def test_neutral_ranges_drop_a_randomization(make_env):
    env = make_env(num_envs=4, events={"base_mass": {"params": {"added_mass": (0.0, 0.0)}}})
    assert "base_mass" not in env.events.terms
    assert list(env.events.privileged()) == ["friction"]
    assert env.get_observations()["privileged"].shape == (4, 11)
    assert env.sim.batch.expanded("body_mass") is None  # nothing was expanded


@pytest.mark.parametrize("events, words", [
    ({"friction": {"params": {"range": (1.0, 0.5)}}}, "randomize_friction.range"),
    ({"friction": {"params": {"range": (-0.5, 0.5)}}}, "low >= 0"),
    ({"push": {"params": {"velocity": -1.0}}}, "push velocity"),
    ({"push": {"interval_s": (0.0, 0.0)}}, "interval_s"),
    ({"push": {"mode": "sometimes"}}, "event mode 'sometimes'"),
])
def test_bad_event_parameters_are_one_sentence(make_env, events, words):
    with pytest.raises(ConfigError) as info:
        make_env(events=events)
    msg = str(info.value)
    assert words in msg and "\n" not in msg and msg.endswith(".")


# ---- pushes ----------------------------------------------------------------------------------------

def test_push_changes_the_base_velocity_by_what_the_privileged_group_shows(make_env):
    env = make_env(num_envs=4, events=PUSH)
    ref = make_env(num_envs=4)  # same seed, no pushes: same poses and parameters
    d = env.robot.base_dof_adr
    k = steps_until(0.1, env.dt)
    assert k in (5, 6)
    priv = env.observations.groups["privileged"]
    assert priv.sizes == [3, 4, 7] and env.get_observations()["privileged"].shape == (4, 14)
    zero = torch.zeros(4, 12)
    for step in range(1, 2 * k + 1):
        obs, _, dones, _ = env.step(zero)
        ref.step(zero)
        assert not dones.any()
        dv = env.sim.qvel[:, d:d + 2] - ref.sim.qvel[:, d:d + 2]
        push = env.events.privileged()["push"]
        if step < k:  # before the first push: the same simulation bit for bit
            np.testing.assert_array_equal(env.sim.qvel, ref.sim.qvel)
            np.testing.assert_array_equal(push, 0.0)
        elif step == k:  # the push step: the planar base velocity jumps by the observed change
            assert np.all(np.abs(push) <= 0.5) and np.all(np.abs(push).max(axis=1) > 0.05)
            np.testing.assert_allclose(dv, push, atol=1e-12)
            np.testing.assert_array_equal(env.sim.qvel[:, d + 2:], ref.sim.qvel[:, d + 2:])  # z and rotation untouched
            np.testing.assert_array_equal(obs["privileged"][:, 12:14].numpy(), push.astype(np.float32))
            first = push.copy()
            # the state of this very step already moves with the push (interval events fire before the read)
            assert np.all(np.abs(env.state.base_lin_vel[:, :2] - ref.state.base_lin_vel[:, :2]).max(axis=1) > 0.05)
        elif step < 2 * k:  # between pushes the last push stays observed
            np.testing.assert_array_equal(push, first)
    # the second push (the interval is exactly 0.1 s) draws new values
    assert not np.array_equal(env.events.privileged()["push"], first)


def test_push_velocity_zero_drops_the_term(make_env):
    env = make_env(num_envs=4, events={"push": {"params": {"velocity": 0.0}, "interval_s": (0.1, 0.1)}})
    ref = make_env(num_envs=4)
    assert "push" not in env.events.terms and "push" not in env.events.time_left
    assert "push" not in env.events.privileged()
    assert env.get_observations()["privileged"].shape == (4, 12)
    rng = np.random.default_rng(3)
    for _ in range(12):  # past two would-be pushes: the same rollout as the default (no push) task
        a = torch.from_numpy(rng.normal(0.0, 0.3, size=(4, 12)).astype(np.float32))
        obs, rew, _, _ = env.step(a)
        ref_obs, ref_rew, _, _ = ref.step(a)
        np.testing.assert_array_equal(env.sim.qvel, ref.sim.qvel)
        assert torch.equal(obs["privileged"], ref_obs["privileged"]) and torch.equal(rew, ref_rew)


def test_push_is_cleared_when_the_episode_ends(make_env):
    """push_by_setting_velocity documents "the last push of each env, cleared at reset": a new episode
    must not observe the previous episode's push."""
    env = make_env(num_envs=4, events=PUSH, episode_length_s=0.16)  # 8 steps: one push, then a time-out
    zero = torch.zeros(4, 12)
    for _ in range(7):
        env.step(zero)
    assert np.all(np.abs(env.events.privileged()["push"]).max(axis=1) > 0)
    obs, _, dones, extras = env.step(zero)
    assert dones.all() and extras["time_outs"].all()
    np.testing.assert_array_equal(env.events.privileged()["push"], 0.0)
    np.testing.assert_array_equal(obs["privileged"][:, 12:14].numpy(), 0.0)
