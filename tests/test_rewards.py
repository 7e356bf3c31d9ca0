"""Reward and termination terms and the rotation helpers against hand-computed numbers."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from stridelab.config import RewardConfig
from stridelab.mdp import rewards as R
from stridelab.mdp import terminations as T
from stridelab.mdp.state import RobotState
from stridelab.sim.math import quat_from_yaw, quat_rotate, quat_rotate_inverse, yaw_of

S2 = math.sqrt(0.5)


def make_state(**fields) -> RobotState:
    """A 2-env state with 2 joints, 2 feet, 1 terminate body and 3 penalize bodies; all zero/level by default."""
    n, j, f = 2, 2, 2
    base = dict(
        base_pos=np.zeros((n, 3)),
        base_quat=np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)),
        base_lin_vel=np.zeros((n, 3)),
        base_ang_vel=np.zeros((n, 3)),
        projected_gravity=np.tile([0.0, 0.0, -1.0], (n, 1)),
        joint_pos=np.zeros((n, j)),
        joint_vel=np.zeros((n, j)),
        joint_acc=np.zeros((n, j)),
        torques=np.zeros((n, j)),
        foot_contact=np.zeros((n, f), dtype=bool),
        foot_pos=np.zeros((n, f, 3)),
        foot_vel=np.zeros((n, f, 3)),
        terminate_contact=np.zeros((n, 1), dtype=bool),
        penalize_contact=np.zeros((n, 3), dtype=bool),
        actions=np.zeros((n, j)),
        last_actions=np.zeros((n, j)),
        commands=np.zeros((n, 3)),
    )
    base.update({k: np.asarray(v) for k, v in fields.items()})
    return RobotState(**base)


# ---- rewards -------------------------------------------------------------------------------------

def test_track_lin_vel_xy_exp():
    s = make_state(commands=[[1.0, 0.0, 0.0], [0.5, 0.5, 1.0]],
                   base_lin_vel=[[1.0, 0.0, 9.0], [0.0, 0.5, 0.2]])  # z is ignored
    # err^2: 0 and 0.25; std 0.5 -> exp(0), exp(-0.25 / 0.25)
    np.testing.assert_allclose(R.track_lin_vel_xy_exp(s, 0.5), [1.0, math.exp(-1.0)], rtol=1e-12)
    # std 1: exp(-0.25)
    np.testing.assert_allclose(R.track_lin_vel_xy_exp(s, 1.0), [1.0, math.exp(-0.25)], rtol=1e-12)


def test_track_ang_vel_z_exp():
    s = make_state(commands=[[3.0, 3.0, 0.0], [0.0, 0.0, 1.0]],
                   base_ang_vel=[[7.0, 7.0, 0.5], [0.0, 0.0, 1.0]])  # only z counts
    np.testing.assert_allclose(R.track_ang_vel_z_exp(s, 0.5), [math.exp(-1.0), 1.0], rtol=1e-12)


def test_velocity_and_orientation_penalties():
    s = make_state(base_lin_vel=[[5.0, 5.0, 0.3], [0.0, 0.0, -2.0]],
                   base_ang_vel=[[1.0, 2.0, 9.0], [0.0, -0.5, 0.0]],
                   projected_gravity=[[0.0, 0.0, -1.0], [0.6, 0.0, -0.8]])
    np.testing.assert_allclose(R.lin_vel_z_l2(s), [0.09, 4.0], rtol=1e-12)
    np.testing.assert_allclose(R.ang_vel_xy_l2(s), [5.0, 0.25], rtol=1e-12)
    np.testing.assert_allclose(R.flat_orientation_l2(s), [0.0, 0.36], rtol=1e-12)


def test_base_height_l2():
    s = make_state(base_pos=[[3.0, 4.0, 0.28], [0.0, 0.0, 0.18]])
    np.testing.assert_allclose(R.base_height_l2(s, 0.28), [0.0, 0.01], atol=1e-15)


def test_joint_penalties():
    s = make_state(torques=[[1.0, 2.0], [3.0, 0.0]],
                   joint_acc=[[10.0, 0.0], [0.0, -20.0]],
                   actions=[[1.0, 1.0], [0.0, 0.0]],
                   last_actions=[[0.0, 1.0], [0.5, -0.5]])
    np.testing.assert_allclose(R.torques_l2(s), [5.0, 9.0])
    np.testing.assert_allclose(R.joint_acc_l2(s), [100.0, 400.0])
    np.testing.assert_allclose(R.action_rate_l2(s), [1.0, 0.5])


def test_undesired_contacts_counts_bodies():
    s = make_state(penalize_contact=[[True, True, False], [False, False, False]])
    out = R.undesired_contacts(s)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [2.0, 0.0])


def test_joint_pos_limits():
    s = make_state(joint_pos=[[-1.5, 0.5], [1.2, 2.0]])
    lower, upper = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    # env 0: 0.5 below joint 0; env 1: 0.2 + 1.0 above
    np.testing.assert_allclose(R.joint_pos_limits(s, lower, upper), [0.5, 1.2], rtol=1e-12)
    inside = make_state(joint_pos=[[0.9, -0.9], [0.0, 1.0]])
    np.testing.assert_array_equal(R.joint_pos_limits(inside, lower, upper), [0.0, 0.0])


def test_feet_air_time_pays_at_touchdown_only_with_a_command():
    term = R.FeetAirTime(num_envs=2, num_feet=2, dt=0.1, threshold=0.25)
    # env 0 walks (command 1 m/s), env 1 stands (zero command); both see the same contacts
    cmd = [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    # foot 0: down, lift-off, air, air, touchdown; foot 1 stays down
    pattern = [True, False, False, False, True]
    got = []
    for c in pattern:
        s = make_state(commands=cmd, foot_contact=[[c, True], [c, True]])
        got.append(term(s))
    # the two-step contact filter keeps foot 0 "down" on the lift-off step, so its air time counts
    # 0.1 (step 3) + 0.1 (step 4) + 0.1 (touchdown step) = 0.3 s -> reward 0.3 - 0.25 = 0.05
    np.testing.assert_allclose(np.array(got)[:, 0], [0, 0, 0, 0, 0.05], atol=1e-12)
    np.testing.assert_array_equal(np.array(got)[:, 1], 0.0)  # no command: never paid
    np.testing.assert_array_equal(term.air_time, 0.0)  # every foot is down now


def test_feet_air_time_long_flight_is_negative_below_threshold_and_reset_clears():
    term = R.FeetAirTime(num_envs=2, num_feet=2, dt=0.1, threshold=0.25)
    cmd = [[0.0, 0.5, 0.0], [0.0, 0.5, 0.0]]  # |v_xy| = 0.5 > 0.1
    up = make_state(commands=cmd, foot_contact=[[False, False], [False, False]])
    down = make_state(commands=cmd, foot_contact=[[True, True], [True, True]])
    term(up)  # air 0.1 for every foot
    np.testing.assert_allclose(term.air_time, 0.1)
    term.reset(np.array([1]))  # env 1 restarts: no air time, no contact memory
    np.testing.assert_array_equal(term.air_time[1], 0.0)
    np.testing.assert_array_equal(term.last_contact[1], False)
    r = term(down)
    # env 0: two feet touch down after 0.2 s each -> 2 * (0.2 - 0.25) = -0.1; env 1 was reset -> 0
    np.testing.assert_allclose(r, [-0.1, 0.0], atol=1e-12)


def test_reward_weights_skip_parameters_and_zero_weights():
    w = RewardConfig().weights()
    assert "tracking_std" not in w and "air_time_threshold" not in w and "soft_joint_limit" not in w
    assert "only_positive_rewards" not in w
    assert w["track_lin_vel_xy_exp"] == 1.5 and w["base_height_l2"] == -10.0 and w["termination"] == -20.0
    assert "termination" not in RewardConfig(termination=0.0).weights()  # weight 0 disables the term


# ---- terminations --------------------------------------------------------------------------------

def test_base_contact():
    s = make_state(terminate_contact=[[False], [True]])
    np.testing.assert_array_equal(T.base_contact(s), [False, True])


@pytest.mark.parametrize("tilt, expected", [(0.0, False), (0.9, False), (1.1, True), (math.pi, True)])
def test_bad_orientation_threshold(tilt, expected):
    g = [math.sin(tilt), 0.0, -math.cos(tilt)]  # gravity in a base pitched by `tilt`
    s = make_state(projected_gravity=[[0.0, 0.0, -1.0], g])
    np.testing.assert_array_equal(T.bad_orientation(s, max_tilt=1.0), [False, expected])


# ---- rotations -----------------------------------------------------------------------------------

def test_quat_rotate_90_deg_yaw():
    q = np.array([[S2, 0.0, 0.0, S2]])  # +90 deg about z
    np.testing.assert_allclose(quat_rotate(q, np.array([1.0, 0.0, 0.0])), [[0.0, 1.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(quat_rotate(q, np.array([0.0, 1.0, 0.0])), [[-1.0, 0.0, 0.0]], atol=1e-12)
    # inverse: a world x-axis seen from the yawed base points to its -y
    np.testing.assert_allclose(quat_rotate_inverse(q, np.array([1.0, 0.0, 0.0])), [[0.0, -1.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(quat_rotate_inverse(q, np.array([0.0, 0.0, -1.0])), [[0.0, 0.0, -1.0]], atol=1e-12)


def test_quat_rotate_90_deg_roll_and_projected_gravity():
    q = np.array([[S2, S2, 0.0, 0.0]])  # +90 deg about x
    np.testing.assert_allclose(quat_rotate(q, np.array([0.0, 1.0, 0.0])), [[0.0, 0.0, 1.0]], atol=1e-12)
    # base rolled 90 deg: its y axis points up, so gravity (world -z) is -y in the base frame
    np.testing.assert_allclose(quat_rotate_inverse(q, np.array([0.0, 0.0, -1.0])), [[0.0, -1.0, 0.0]], atol=1e-12)


def test_quat_rotate_matches_mujoco_and_inverts():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    v = rng.normal(size=(5, 3))
    expected = np.zeros((5, 3))
    for i in range(5):
        mujoco.mju_rotVecQuat(expected[i], v[i], q[i])
    np.testing.assert_allclose(quat_rotate(q, v), expected, atol=1e-12)
    np.testing.assert_allclose(quat_rotate_inverse(q, quat_rotate(q, v)), v, atol=1e-12)


def test_yaw_round_trip():
    yaw = np.array([-3.0, -math.pi / 2, 0.0, 0.5, 3.0])
    q = quat_from_yaw(yaw)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0)
    np.testing.assert_allclose(q[1], [S2, 0.0, 0.0, -S2], atol=1e-12)
    np.testing.assert_allclose(yaw_of(q), yaw, atol=1e-12)
    # yaw of a yawed-then-pitched quaternion is still the yaw
    pitch = np.array([math.cos(0.2), 0.0, math.sin(0.2), 0.0])  # 0.4 rad about y
    qp = np.array([np.zeros(4)])
    mujoco.mju_mulQuat(qp[0], q[3], pitch)
    np.testing.assert_allclose(yaw_of(qp), [0.5], atol=1e-12)
