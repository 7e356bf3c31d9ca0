"""The built-in Cassie-class biped: PD actuators in joint order, stands on its PD, mass, symmetry, flat task."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

import stridelab
from stridelab.robots import get_robot, load_robot
from stridelab.robots.check import check_robot

PARTS = ("hip_roll", "hip_yaw", "hip_pitch", "knee", "foot")
JOINTS = tuple(f"{side}_{part}" for side in ("left", "right") for part in PARTS)


@pytest.fixture(scope="module")
def robot():
    return load_robot(get_robot("biped"))


def test_biped_has_10_pd_actuators_in_joint_order(robot):
    m, spec = robot.model, robot.spec
    assert spec.joint_names == JOINTS and m.nu == 10
    assert [m.joint(int(m.actuator_trnid[i, 0])).name for i in range(m.nu)] == list(JOINTS)
    np.testing.assert_array_equal(m.actuator_gaintype, int(mujoco.mjtGain.mjGAIN_FIXED))
    np.testing.assert_array_equal(m.actuator_biastype, int(mujoco.mjtBias.mjBIAS_AFFINE))
    np.testing.assert_allclose(m.actuator_gainprm[:, 0], spec.kp)
    np.testing.assert_allclose(m.actuator_biasprm[:, 1], -np.asarray(spec.kp))
    np.testing.assert_allclose(m.actuator_biasprm[:, 2], -np.asarray(spec.kd))
    # Cassie's torque limits (motor torque x gear): hip roll/yaw 112.5, hip pitch/knee 195.2, toe 45 N m
    np.testing.assert_allclose(robot.torque_limits, [112.5, 112.5, 195.2, 195.2, 45.0] * 2)
    assert len(robot.foot_geom_ids) == 2
    assert [m.geom(int(g)).name for g in robot.foot_geom_ids] == ["left_foot_collision", "right_foot_collision"]
    assert int(m.jnt_type[m.body_jntadr[robot.base_body_id]]) == int(mujoco.mjtJoint.mjJNT_FREE)
    assert m.site("imu").bodyid[0] == robot.base_body_id


def test_home_keyframe_is_the_default_pose_and_within_limits(robot):
    m, spec = robot.model, robot.spec
    home = m.key("home").qpos
    np.testing.assert_allclose(home[robot.qpos_adr], spec.default_pose)
    assert home[robot.base_qpos_adr + 2] == pytest.approx(spec.init_height)
    pose = np.asarray(spec.default_pose)
    assert np.all(pose > robot.joint_range[:, 0]) and np.all(pose < robot.joint_range[:, 1])
    knee = [JOINTS.index("left_knee"), JOINTS.index("right_knee")]
    assert np.all(pose[knee] < -0.9)  # knees clearly bent (backwards, as Cassie's)


def test_only_feet_and_pelvis_touch_the_world(robot):
    m = robot.model
    colliding = {m.geom(g).name or f"geom{g}" for g in range(m.ngeom)
                 if m.geom_bodyid[g] != 0 and (m.geom_contype[g] or m.geom_conaffinity[g])}
    assert colliding == {"pelvis", "left_foot_collision", "right_foot_collision"}
    robot_geoms = m.geom_bodyid != 0
    np.testing.assert_array_equal(m.geom_contype[robot_geoms], 0)  # never collides with itself


def test_biped_stands_on_its_pd_controllers(tmp_path):
    report = check_robot(spec_name="biped", seconds=5, image=tmp_path / "biped.png")
    assert report.stands, "\n".join(report.lines)
    assert np.degrees(report.tilt) < 5.0
    assert all(report.feet_in_contact) and not report.terminate_contact
    spec = get_robot("biped")
    assert report.base_height == pytest.approx(spec.base_height_target, abs=0.03)
    assert report.base_height > 0.75  # a Cassie-sized robot, not a crouch
    assert (tmp_path / "biped.png").stat().st_size > 0


def test_total_mass_is_cassies(robot):
    # Agility Robotics: about 31 kg; Menagerie's Cassie model sums to 33.3 kg
    total = float(robot.model.body_subtreemass[robot.base_body_id])
    assert 31.0 <= total <= 34.0
    assert robot.model.body("pelvis").mass[0] == pytest.approx(10.33)


def test_mirror_map_is_an_involution_and_maps_the_pose_and_limits(robot):
    spec = robot.spec
    perm, sign = np.asarray(spec.mirror_perm), np.asarray(spec.mirror_sign)
    assert perm.tolist() == [5, 6, 7, 8, 9, 0, 1, 2, 3, 4]
    assert sign.tolist() == [-1, -1, 1, 1, 1] * 2
    x = np.random.default_rng(0).normal(size=(7, 10))
    mirror = lambda v: v[..., perm] * sign  # noqa: E731
    np.testing.assert_array_equal(mirror(mirror(x)), x)
    assert tuple(spec.feet_mirror_perm) == (1, 0)
    # the standing pose is symmetric, and each joint's range is the mirror of its partner's
    np.testing.assert_allclose(mirror(np.asarray(spec.default_pose)), spec.default_pose)
    lo, hi = robot.joint_range[:, 0], robot.joint_range[:, 1]
    mirrored_range = np.sort(np.stack([lo[perm] * sign, hi[perm] * sign], axis=1), axis=1)
    np.testing.assert_allclose(mirrored_range, robot.joint_range, atol=1e-9)


def test_model_is_left_right_symmetric(robot):
    m = robot.model
    flip = np.array([1.0, -1.0, 1.0])
    lefts = [m.body(i).name for i in range(m.nbody) if m.body(i).name.startswith("left_")]
    assert len(lefts) == 5
    for left in lefts:
        a, b = m.body(left), m.body(left.replace("left_", "right_", 1))
        np.testing.assert_allclose(b.pos, a.pos * flip, atol=1e-9, err_msg=left)
        np.testing.assert_allclose(b.ipos, a.ipos * flip, atol=1e-9, err_msg=left)
        np.testing.assert_allclose(b.mass, a.mass, atol=1e-9, err_msg=left)
        np.testing.assert_allclose(b.inertia, a.inertia, atol=1e-9, err_msg=left)
        np.testing.assert_allclose(b.quat, a.quat, atol=1e-9, err_msg=left)
        np.testing.assert_allclose(b.iquat, a.iquat, atol=1e-9, err_msg=left)
    for i in range(5):
        a, b = m.joint(JOINTS[i]), m.joint(JOINTS[i + 5])
        np.testing.assert_allclose(b.axis, a.axis, atol=1e-9)
        np.testing.assert_allclose(b.pos, a.pos * flip, atol=1e-9)
        assert b.armature[0] == a.armature[0] and b.damping[0] == a.damping[0]
    for side in ("left", "right"):
        geom = m.geom(f"{side}_foot_collision")
        np.testing.assert_allclose(geom.size, m.geom("left_foot_collision").size)
    np.testing.assert_allclose(m.geom("right_foot_collision").pos, m.geom("left_foot_collision").pos * flip)
    pelvis = m.body("pelvis")
    assert pelvis.ipos[1] == 0.0 and m.site("imu").pos[1] == 0.0


def test_flat_task_runs_on_the_biped():
    env = stridelab.make("quadruped-flat", robot="biped", num_envs=2, num_threads=1, seed=0)
    try:
        assert env.num_actions == 10
        for _ in range(20):
            _, _, dones, _ = env.step(torch.zeros(2, 10))
            assert not dones.any()
        state = env.state
        assert np.all(state.base_pos[:, 2] > 0.75)
        assert np.all(state.projected_gravity[:, 2] < -0.99)  # upright
        assert np.all(state.foot_contact)
    finally:
        env.close()


def test_biped_flat_task_alternates_its_feet_on_a_clock():
    env = stridelab.make("biped-flat", num_envs=2, num_threads=1, seed=0)
    try:
        clock = env.commands.gait
        assert clock.frequency == 1.5 and clock.duty == 0.6 and clock.offsets.tolist() == [0.0, 0.5]
        assert env.get_observations()["policy"].shape == (2, 9 + 3 * 10 + 2 * 2 + 1)  # + the frequency command
        low, high = env.commands.velocity.low, env.commands.velocity.high
        assert low[0] == 0.0 and high[0] == 1.0  # forward walking
        assert env.cfg.terminations["bad_orientation"].params == {"max_tilt": 0.8}
        env.set_commands(np.zeros(3))
        for _ in range(20):
            _, _, dones, _ = env.step(torch.zeros(2, 10))
            assert not dones.any()
    finally:
        env.close()


def test_biped_play_tour_stays_in_its_command_ranges_and_plots_forces(tmp_path):
    from stridelab.eval.rollout import DEFAULT_SCHEDULE, record
    from stridelab.tasks import make_env_cfg
    from stridelab.viz.plots import plot_trajectory

    schedule = tuple((0.2, *c) for _, *c in DEFAULT_SCHEDULE)  # the quadruped's tour, 0.2 s per command
    traj = record(lambda obs: torch.zeros(1, 10), make_env_cfg("biped-flat"), schedule=schedule)
    assert traj.commands[:, 0].min() >= 0.0 and traj.commands[:, 2].min() >= -0.5  # clipped to the task's ranges
    assert traj.foot_force.shape == (len(traj.time), 2, 3) and traj.raw_actions.shape == (len(traj.time), 10)
    assert np.all(traj.base_height > 0.3) and np.all(traj.foot_height < 0.3)
    paths = plot_trajectory(traj, tmp_path)
    assert (tmp_path / "locomotion.png") in paths and (tmp_path / "locomotion.png").stat().st_size > 20000
