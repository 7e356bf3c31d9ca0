"""Reward and termination terms and the rotation helpers against hand-computed numbers."""

from __future__ import annotations

import math
from types import SimpleNamespace

import mujoco
import numpy as np
import pytest

from stridelab.errors import ConfigError
from stridelab.mdp import rewards as R
from stridelab.mdp import terminations as T
from stridelab.mdp.state import RobotState
from stridelab.sim.math import quat_from_yaw, quat_rotate, quat_rotate_inverse, yaw_of

S2 = math.sqrt(0.5)


def fake_env(num_envs: int = 2, num_feet: int = 2, dt: float = 0.1, joint_range=((-1.0, 1.0), (-1.0, 1.0)),
             base_height_target: float = 0.3, episode_length=(0, 0), max_episode_length: int = 5):
    """The few env attributes the class terms read when they are built."""
    robot = SimpleNamespace(num_feet=num_feet, joint_range=np.asarray(joint_range, dtype=float),
                            spec=SimpleNamespace(base_height_target=base_height_target))
    return SimpleNamespace(num_envs=num_envs, dt=dt, robot=robot, episode_length=np.asarray(episode_length),
                           max_episode_length=max_episode_length)


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
        default_joint_pos=np.zeros(j),
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
    np.testing.assert_allclose(R.base_height_l2(fake_env(), target=0.28)(s), [0.0, 0.01], atol=1e-15)
    # the target defaults to the robot's base_height_target
    np.testing.assert_allclose(R.base_height_l2(fake_env(base_height_target=0.18))(s), [0.01, 0.0], atol=1e-15)


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
    hard = R.joint_pos_limits(fake_env(joint_range=[[-1.0, 1.0], [-1.0, 1.0]]), soft_ratio=1.0)
    # env 0: 0.5 below joint 0; env 1: 0.2 + 1.0 above
    np.testing.assert_allclose(hard(s), [0.5, 1.2], rtol=1e-12)
    inside = make_state(joint_pos=[[0.9, -0.9], [0.0, 1.0]])
    np.testing.assert_array_equal(hard(inside), [0.0, 0.0])
    # soft limits: the middle 80 % of [0, 2] and [-1, 1] are [0.2, 1.8] and [-0.8, 0.8]
    soft = R.joint_pos_limits(fake_env(joint_range=[[0.0, 2.0], [-1.0, 1.0]]), soft_ratio=0.8)
    np.testing.assert_allclose(soft.lower, [0.2, -0.8])
    np.testing.assert_allclose(soft.upper, [1.8, 0.8])
    s = make_state(joint_pos=[[0.1, 0.9], [1.0, 0.0]])
    np.testing.assert_allclose(soft(s), [0.1 + 0.1, 0.0], atol=1e-12)


@pytest.mark.parametrize("ratio", [0.0, 1.5])
def test_joint_pos_limits_rejects_a_bad_soft_ratio(ratio):
    with pytest.raises(ConfigError, match="soft_ratio"):
        R.joint_pos_limits(fake_env(), soft_ratio=ratio)


def test_is_terminated_pays_only_in_the_failing_step():
    s = make_state()
    s.terminated = np.array([False, True])
    out = R.is_terminated(s)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.0, 1.0])


def test_feet_air_time_pays_at_touchdown_only_with_a_command():
    term = R.feet_air_time(fake_env(dt=0.1), threshold=0.25)
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
    term = R.feet_air_time(fake_env(dt=0.1), threshold=0.25)
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


def test_feet_air_time_state_round_trip():
    term = R.feet_air_time(fake_env(dt=0.1), threshold=0.25)
    term(make_state(commands=[[1.0, 0.0, 0.0]] * 2, foot_contact=[[False, True], [False, False]]))
    other = R.feet_air_time(fake_env(dt=0.1), threshold=0.25)
    other.load_state_dict(term.state_dict())
    np.testing.assert_array_equal(other.air_time, term.air_time)
    np.testing.assert_array_equal(other.last_contact, term.last_contact)


def test_default_reward_table_weights_and_parameters(make_env):
    from stridelab.tasks import make_env_cfg

    rewards = make_env_cfg("quadruped-flat").rewards
    assert rewards["track_lin_vel_xy_exp"].weight == 1.5 and rewards["track_lin_vel_xy_exp"].params == {"std": 0.5}
    assert rewards["base_height_l2"].weight == -10.0 and rewards["feet_air_time"].params == {"threshold": 0.5}
    assert rewards["joint_pos_limits"].params == {"soft_ratio": 0.9}
    # the gait clock's recipe: contact schedule instead of air time, slide and stand-still penalties
    assert rewards["gait_contact_schedule"].weight == 2.0 and rewards["feet_air_time"].weight == 0.0
    assert rewards["feet_slide"].weight == -0.5 and rewards["stand_still"].weight == -1.0
    term = rewards["termination"]
    assert term.func == "is_terminated" and term.weight == -20.0 and term.after_clip
    assert [name for name, r in rewards.items() if r.after_clip] == ["termination"]
    env = make_env()
    on = {name: r for name, r in rewards.items() if r.weight != 0.0}
    assert set(rewards) - set(on) == {"feet_air_time", "spot_air_time", "air_time_variance"}
    assert env.rewards.names == list(on)  # every non-zero default term is on, in table order
    np.testing.assert_array_equal(env.rewards.weights, [r.weight for r in on.values()])
    # weight 0 disables a term: it is not built, computed or logged
    off = make_env(rewards={"termination": {"weight": 0.0}, "feet_slide": {"weight": 0.0}})
    assert "termination" not in off.rewards.names and "feet_slide" not in off.rewards.names
    assert "Episode_Reward/termination" not in off.rewards.episode_log(np.arange(4), 1.0)


def test_class_terms_read_the_robot(make_env):
    env = make_env(num_envs=1)
    spec = env.robot.spec
    assert R.base_height_l2(env).target == spec.base_height_target
    limits = R.joint_pos_limits(env, soft_ratio=0.9)
    lo, hi = env.robot.joint_range[:, 0], env.robot.joint_range[:, 1]
    np.testing.assert_allclose(limits.upper - limits.lower, 0.9 * (hi - lo))
    np.testing.assert_allclose(limits.upper + limits.lower, hi + lo)
    assert R.feet_air_time(env).air_time.shape == (1, 4)


# ---- terminations --------------------------------------------------------------------------------

def test_base_contact():
    s = make_state(terminate_contact=[[False], [True]])
    np.testing.assert_array_equal(T.base_contact(s), [False, True])


@pytest.mark.parametrize("tilt, expected", [(0.0, False), (0.9, False), (1.1, True), (math.pi, True)])
def test_bad_orientation_threshold(tilt, expected):
    g = [math.sin(tilt), 0.0, -math.cos(tilt)]  # gravity in a base pitched by `tilt`
    s = make_state(projected_gravity=[[0.0, 0.0, -1.0], g])
    np.testing.assert_array_equal(T.bad_orientation(s, max_tilt=1.0), [False, expected])


def test_time_out_at_the_env_limit():
    env = fake_env(episode_length=[4, 5], max_episode_length=5)
    term = T.time_out(env)
    np.testing.assert_array_equal(term(make_state()), [False, True])
    env.episode_length = np.array([5, 0])
    np.testing.assert_array_equal(term(make_state()), [True, False])


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


def test_gait_terms_by_hand():
    from types import SimpleNamespace

    from stridelab.mdp import rewards as R

    s = SimpleNamespace(
        foot_vel=np.array([[[0.3, 0.4, 0.0], [1.0, 0.0, 0.0]]]), foot_contact=np.array([[True, False]]),
        commands=np.array([[0.0, 0.0, 0.0]]), joint_pos=np.array([[0.1, -0.2]]), default_joint_pos=np.array([0.0, 0.0]))
    assert R.feet_slide(s)[0] == pytest.approx(0.5)  # only the foot in contact: |(0.3, 0.4)|
    assert R.stand_still(s)[0] == pytest.approx(0.3)
    s.commands = np.array([[0.5, 0.0, 0.0]])
    assert R.stand_still(s)[0] == 0.0


def test_air_time_variance_is_zero_for_alike_feet_and_positive_for_a_tapping_foot():
    from types import SimpleNamespace

    from stridelab.mdp.rewards import air_time_variance

    env = SimpleNamespace(dt=0.02, num_envs=1, robot=SimpleNamespace(num_feet=2))
    term = air_time_variance(env, max_time=0.5)
    cmd = np.array([[1.0, 0.0, 0.0]])
    out = []
    for t in range(60):  # foot 0: 10 steps down, 10 up; foot 1 the same, half a period later
        contact = np.array([[(t % 20) < 10, ((t + 10) % 20) < 10]])
        out.append(term(SimpleNamespace(foot_contact=contact, commands=cmd))[0])
    assert out[-1] == pytest.approx(0.0, abs=1e-12)
    term.reset(np.array([0]))
    for t in range(60):  # foot 1 only taps: 2 steps down, 18 up
        contact = np.array([[(t % 20) < 10, (t % 20) < 2]])
        last = term(SimpleNamespace(foot_contact=contact, commands=cmd))[0]
    assert last > 0.005


def test_spot_air_time_by_hand():
    from types import SimpleNamespace

    from stridelab.mdp.rewards import spot_air_time

    env = SimpleNamespace(dt=0.02, num_envs=1, robot=SimpleNamespace(num_feet=2))
    term = spot_air_time(env, mode_time=0.1)
    walk = np.array([[1.0, 0.0, 0.0]])
    # foot 0 in contact for 3 steps: its contact time grows 0.02, 0.04, 0.06; foot 1 in the air likewise
    values = [term(SimpleNamespace(foot_contact=np.array([[True, False]]), commands=walk))[0] for _ in range(3)]
    np.testing.assert_allclose(values, [0.04, 0.08, 0.12])
    for _ in range(2):  # phases reach 0.08, 0.10: at 0.10 (= mode_time) a phase earns nothing
        last = term(SimpleNamespace(foot_contact=np.array([[True, False]]), commands=walk))[0]
    assert last == 0.0
    term.reset(np.array([0]))
    stand = np.zeros((1, 3))
    values = [term(SimpleNamespace(foot_contact=np.array([[True, False]]), commands=stand))[0] for _ in range(8)]
    # zero command: contact minus air time, clipped at +-0.1: foot 0 earns +t, foot 1 -t
    np.testing.assert_allclose(values, 0.0, atol=1e-12)
    both_down = term(SimpleNamespace(foot_contact=np.array([[True, True]]), commands=stand))[0]
    assert both_down == pytest.approx(0.1 + 0.02)  # foot 0 clipped at 0.1, foot 1 just landed
