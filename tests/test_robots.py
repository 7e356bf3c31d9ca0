"""Robot loading: built-in PD conversion, errors with fixes, user MJCF/URDF, missing meshes, Go2."""

from __future__ import annotations

import logging
from dataclasses import replace

import mujoco
import numpy as np
import pytest
import torch

from stridelab.envs.locomotion_env import LocomotionEnv
from stridelab.errors import RobotSpecError
from stridelab.robots import RobotSpec, get_robot, load_robot, loader
from stridelab.robots.builtin import QUADRUPED
from stridelab.tasks import make_env_cfg

LEGS = ("FL", "FR", "RL", "RR")
QUAD_JOINTS = tuple(f"{leg}_{part}_joint" for leg in LEGS for part in ("hip", "thigh", "calf"))
POSE = (0.1, 0.8, -1.5, -0.1, 0.8, -1.5, 0.1, 1.0, -1.5, -0.1, 1.0, -1.5)


def assert_pd(model: mujoco.MjModel, kp, kd, limits) -> None:
    """Every actuator is ``kp (ctrl - q) - kd qdot`` clamped to +-limit."""
    kp, kd, limits = (np.broadcast_to(np.asarray(v, dtype=float), (model.nu,)) for v in (kp, kd, limits))
    np.testing.assert_array_equal(model.actuator_gaintype, int(mujoco.mjtGain.mjGAIN_FIXED))
    np.testing.assert_array_equal(model.actuator_biastype, int(mujoco.mjtBias.mjBIAS_AFFINE))
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], kp)
    np.testing.assert_allclose(model.actuator_biasprm[:, 0], 0.0)
    np.testing.assert_allclose(model.actuator_biasprm[:, 1], -kp)
    np.testing.assert_allclose(model.actuator_biasprm[:, 2], -kd)
    np.testing.assert_allclose(model.actuator_forcerange, np.stack([-limits, limits], axis=1))
    np.testing.assert_array_equal(model.actuator_forcelimited, 1)
    np.testing.assert_array_equal(model.actuator_ctrllimited, 0)


def test_builtin_quadruped_has_12_pd_actuators_in_joint_order():
    robot = load_robot(get_robot("quadruped"))
    m = robot.model
    assert m.nu == 12
    assert_pd(m, kp=35.0, kd=0.5, limits=33.5)
    joint_of_actuator = [m.joint(int(m.actuator_trnid[i, 0])).name for i in range(m.nu)]
    assert joint_of_actuator == list(QUAD_JOINTS)
    np.testing.assert_allclose(robot.torque_limits, 33.5)
    assert len(robot.foot_geom_ids) == 4
    assert int(m.jnt_type[m.body_jntadr[robot.base_body_id]]) == int(mujoco.mjtJoint.mjJNT_FREE)


def test_pd_actuator_torque_is_kp_error_minus_kd_velocity():
    robot = load_robot(get_robot("quadruped"))
    m, d = robot.model, mujoco.MjData(robot.model)
    q, qd = robot.qpos_adr[0], robot.dof_adr[0]
    d.qpos[q], d.qvel[qd] = 0.1, 2.0
    d.ctrl[:] = d.qpos[robot.qpos_adr]
    d.ctrl[0] = 0.3
    mujoco.mj_forward(m, d)
    assert d.actuator_force[0] == pytest.approx(35.0 * (0.3 - 0.1) - 0.5 * 2.0)  # 6.0 N m
    d.ctrl[0] = 5.0  # saturates at the torque limit
    mujoco.mj_forward(m, d)
    assert d.actuator_force[0] == pytest.approx(33.5)


def test_bad_joint_name_suggests_and_lists_valid_names():
    joints = list(QUAD_JOINTS)
    joints[4] = "FR_thigh_jnt"
    with pytest.raises(RobotSpecError) as info:
        load_robot(replace(QUADRUPED, joint_names=tuple(joints)))
    msg = str(info.value)
    assert "'FR_thigh_jnt'" in msg
    assert "did you mean 'FR_thigh_joint'" in msg
    assert "valid names are" in msg and "RR_calf_joint" in msg and "FL_hip_joint" in msg


def test_bad_foot_name_suggests():
    with pytest.raises(RobotSpecError, match=r"did you mean 'RR_foot'"):
        load_robot(replace(QUADRUPED, feet=("FL_foot", "FR_foot", "RL_foot", "RR_fot")))


def test_missing_robot_file(tmp_path):
    with pytest.raises(RobotSpecError, match="does not exist"):
        load_robot(replace(QUADRUPED, source=str(tmp_path / "nope.xml")))


def test_malformed_mjcf_names_the_file(tmp_path):
    path = tmp_path / "broken_robot.xml"
    path.write_text("<mujoco><worldbody><body name='a'></worldbody></mujoco>")
    with pytest.raises(RobotSpecError) as info:
        load_robot(replace(QUADRUPED, source=str(path)))
    assert "broken_robot.xml" in str(info.value)
    assert "could not read robot file" in str(info.value)


# A two-legged toy in MJCF: free base, two hinge joints driven by torque motors (gear 2, ctrl +-5).
TOY_MJCF = """
<mujoco model="toy">
  <compiler angle="radian"/>
  <asset>{asset}</asset>
  <worldbody>
    <geom name="ground" type="plane" size="0 0 0.05"/>
    <body name="base" pos="0 0 0.3">
      <freejoint/>
      <geom name="torso" type="box" size="0.1 0.05 0.03" mass="2"/>
      {extra_geom}
      <body name="left" pos="0 0.06 0">
        <joint name="left_knee" axis="0 1 0" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.01" mass="0.2"/>
        <geom name="left_foot" type="sphere" pos="0 0 -0.2" size="0.02" mass="0.05"/>
      </body>
      <body name="right" pos="0 -0.06 0">
        <joint name="right_knee" axis="0 1 0" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.01" mass="0.2"/>
        <geom name="right_foot" type="sphere" pos="0 0 -0.2" size="0.02" mass="0.05"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="m_right" joint="right_knee" gear="2" ctrlrange="-5 5"/>
    <motor name="m_left" joint="left_knee" gear="2" ctrlrange="-5 5"/>
  </actuator>
</mujoco>
"""


def toy_spec(path, **kw) -> RobotSpec:
    fields = dict(name="toy", source=str(path), joint_names=("left_knee", "right_knee"), default_pose=(0.0, 0.0),
                  kp=(10.0, 12.0), kd=(0.3, 0.4), base_body="base", feet=("left_foot", "right_foot"),
                  terminate_contacts=("base",))
    fields.update(kw)
    return RobotSpec(**fields)


def test_user_mjcf_motors_become_pd_in_joint_order(tmp_path):
    path = tmp_path / "toy.xml"
    path.write_text(TOY_MJCF.format(asset="", extra_geom=""))
    robot = load_robot(toy_spec(path))
    m = robot.model
    assert m.nu == 2
    # the file lists the right motor first; actuators follow joint_names, limit = ctrlrange x gear
    assert [m.actuator(i).name for i in range(2)] == ["left_knee_pd", "right_knee_pd"]
    assert [m.joint(int(m.actuator_trnid[i, 0])).name for i in range(2)] == ["left_knee", "right_knee"]
    assert_pd(m, kp=(10.0, 12.0), kd=(0.3, 0.4), limits=10.0)
    np.testing.assert_allclose(robot.joint_range, [[-1.0, 1.0], [-1.0, 1.0]])
    np.testing.assert_allclose(m.actuator_gear[:, 0], 1.0)
    # explicit torque limits win over the motors
    robot = load_robot(toy_spec(path, torque_limits=(3.0, 4.0)))
    np.testing.assert_allclose(robot.model.actuator_forcerange, [[-3.0, 3.0], [-4.0, 4.0]])


def test_missing_visual_mesh_is_dropped_with_a_warning(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(loader, "_WARNED", set())
    path = tmp_path / "toy_visual.xml"
    path.write_text(TOY_MJCF.format(asset='<mesh name="shell" file="meshes/shell.stl"/>',
                                    extra_geom='<geom type="mesh" mesh="shell" contype="0" conaffinity="0" group="2"/>'))
    with caplog.at_level(logging.WARNING, logger="stridelab.robots.loader"):
        robot = load_robot(toy_spec(path))
    assert robot.model.nmesh == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("shell" in w and "missing" in w for w in warnings), warnings


def test_missing_collision_mesh_is_an_error(tmp_path):
    path = tmp_path / "toy_collision.xml"
    path.write_text(TOY_MJCF.format(asset='<mesh name="hull" file="meshes/hull.stl"/>',
                                    extra_geom='<geom type="mesh" mesh="hull"/>'))
    with pytest.raises(RobotSpecError) as info:
        load_robot(toy_spec(path))
    assert "collision mesh 'hull'" in str(info.value) and "toy_collision.xml" in str(info.value)


TOY_URDF = """<?xml version="1.0"?>
<robot name="hopper">
  <link name="base">
    <inertial><mass value="2.0"/><inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial>
    <collision name="base_box"><geometry><box size="0.2 0.1 0.1"/></geometry></collision>
  </link>
  <link name="leg">
    <inertial><origin xyz="0 0 -0.1"/><mass value="0.5"/>
      <inertia ixx="0.001" ixy="0" ixz="0" iyy="0.001" iyz="0" izz="0.001"/></inertial>
    <collision name="foot"><origin xyz="0 0 -0.2"/><geometry><sphere radius="0.02"/></geometry></collision>
  </link>
  <joint name="knee" type="revolute">
    <parent link="base"/><child link="leg"/><origin xyz="0 0 -0.05"/><axis xyz="0 1 0"/>
    <limit lower="-1.5" upper="1.5" effort="{effort}" velocity="10"/>
  </joint>
</robot>
"""


def urdf_spec(path, **kw) -> RobotSpec:
    return RobotSpec(name="hopper", source=str(path), joint_names=("knee",), default_pose=(0.0,), kp=(10.0,),
                     kd=(0.2,), base_body="base", feet=("foot",), **kw)


def test_urdf_loads_with_free_joint_and_effort_limit(tmp_path):
    path = tmp_path / "hopper.urdf"
    path.write_text(TOY_URDF.format(effort=12.5))
    robot = load_robot(urdf_spec(path))
    m = robot.model
    assert m.njnt == 2 and int(m.jnt_type[m.body_jntadr[robot.base_body_id]]) == int(mujoco.mjtJoint.mjJNT_FREE)
    assert m.nq == 7 + 1 and robot.base_qpos_adr == 0
    assert_pd(m, kp=10.0, kd=0.2, limits=12.5)
    np.testing.assert_allclose(robot.joint_range, [[-1.5, 1.5]])
    # a floor was added since the URDF has no world geoms
    assert any(m.geom(i).name == "floor" for i in range(m.ngeom))
    # torque_limits in the spec override the effort limit
    robot = load_robot(urdf_spec(path, torque_limits=(7.0,)))
    np.testing.assert_allclose(robot.model.actuator_forcerange, [[-7.0, 7.0]])


def test_urdf_without_any_torque_limit_asks_for_one(tmp_path):
    path = tmp_path / "hopper0.urdf"
    path.write_text(TOY_URDF.format(effort=0))
    with pytest.raises(RobotSpecError, match="torque_limits"):
        load_robot(urdf_spec(path))


GO2_SPEC = dict(name="go2_local", joint_names=QUAD_JOINTS, default_pose=POSE, kp=(20.0,) * 12, kd=(0.5,) * 12,
                base_body="base_link", feet=LEGS)
GO2_LIMITS = (23.7, 23.7, 45.43) * 4


def test_go2_scene_by_path(shared_robots):
    robot = load_robot(RobotSpec(source=str(shared_robots / "unitree_go2" / "scene.xml"), **GO2_SPEC))
    m = robot.model
    assert m.nu == 12
    assert [m.joint(int(m.actuator_trnid[i, 0])).name for i in range(12)] == list(QUAD_JOINTS)
    assert_pd(m, kp=20.0, kd=0.5, limits=GO2_LIMITS)
    assert [m.geom(int(g)).name for g in robot.foot_geom_ids] == list(LEGS)


def test_go2_from_menagerie_root_stands(shared_robots, monkeypatch):
    monkeypatch.setenv("MENAGERIE_ROOT", str(shared_robots))
    robot = load_robot(get_robot("go2"))
    assert robot.spec.source == "menagerie:unitree_go2/go2"
    assert_pd(robot.model, kp=20.0, kd=0.5, limits=GO2_LIMITS)
    env = LocomotionEnv(make_env_cfg("go2-flat", num_envs=2, num_threads=1), robot=robot)
    assert env.get_observations()["policy"].shape == (2, 53)
    zero = torch.zeros(2, 12)
    for _ in range(25):  # 0.5 s on its PD controllers
        _, rew, dones, _ = env.step(zero)
        assert not dones.any() and torch.isfinite(rew).all()
    assert np.all(env.state.base_pos[:, 2] > 0.2)


def test_go2_flat_world_holds_only_the_floor(shared_robots, monkeypatch, caplog):
    """The built-in Go2 loads the robot file, not unitree_mujoco's scene.xml, whose bars and staircase stand
    1.2-3.4 m ahead of the spawn point: a flat task must have nothing in the world but the ground."""
    monkeypatch.setenv("MENAGERIE_ROOT", str(shared_robots))
    with caplog.at_level("WARNING", logger="stridelab.robots.loader"):
        m = load_robot(get_robot("go2")).model
    world = [m.geom(i).name for i in range(m.ngeom) if m.geom_bodyid[i] == 0]
    assert world == ["floor"]
    assert "besides the ground" not in caplog.text


def test_a_scene_with_obstacles_is_named_in_a_warning_once(shared_robots, caplog, monkeypatch):
    """The warning names the file and the count, and is given at the first load only (a run reloads the robot
    for every walk check)."""
    monkeypatch.setattr(loader, "_WARNED", set())
    spec = replace(get_robot("go2"), name="go2_scene", source=str(shared_robots / "unitree_go2" / "scene.xml"))
    with caplog.at_level("WARNING", logger="stridelab.robots.loader"):
        load_robot(spec)
        load_robot(spec)
    assert "8 solid geoms besides the ground" in caplog.text and "scene.xml" in caplog.text
    assert caplog.text.count("solid geoms besides the ground") == 1


# ---- robot specs from YAML (how a user brings a robot to the CLI) -----------------------------------

def test_robot_spec_from_yaml_drives_a_task(shared_robots, tmp_path):
    import stridelab

    spec = tmp_path / "go2.yaml"
    spec.write_text(
        f"name: my_go2\nsource: {shared_robots / 'unitree_go2' / 'scene.xml'}\n"
        "joint_names: [FL_hip_joint, FL_thigh_joint, FL_calf_joint, FR_hip_joint, FR_thigh_joint, FR_calf_joint,\n"
        "              RL_hip_joint, RL_thigh_joint, RL_calf_joint, RR_hip_joint, RR_thigh_joint, RR_calf_joint]\n"
        "default_pose: [0.1, 0.8, -1.5, -0.1, 0.8, -1.5, 0.1, 1.0, -1.5, -0.1, 1.0, -1.5]\n"
        "kp: [20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20]\n"
        "kd: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]\n"
        "base_body: base_link\nfeet: [FL, FR, RL, RR]\nterminate_contacts: [base_link]\n")
    env = stridelab.make("quadruped-flat", robot=str(spec), num_envs=2, num_threads=1)
    assert env.robot.spec.name == "my_go2" and env.robot.model.nu == 12
    env.step(torch.zeros(2, 12))


def test_malformed_robot_file_through_the_cli_is_one_sentence(tmp_path, capsys):
    from stridelab.app.cli import main

    (tmp_path / "broken.xml").write_text("<mujoco><worldbody><body><geom size='oops'/></body></worldbody>")
    (tmp_path / "bot.yaml").write_text("name: bot\nsource: broken.xml\njoint_names: [j]\ndefault_pose: [0]\n"
                                       "kp: [1]\nkd: [0.1]\nbase_body: b\nfeet: [f]\n")
    code = main(["train", "quadruped-flat", "--env.robot", str(tmp_path / "bot.yaml"), "--max-iterations", "1",
                 "--log-dir", str(tmp_path / "runs")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: could not read robot file") and "broken.xml" in err[0]
    # nothing was written for the failed run
    assert not (tmp_path / "runs").exists()


def test_robot_yaml_with_an_unknown_field(tmp_path):
    from stridelab.errors import RobotSpecError
    from stridelab.robots import get_robot

    (tmp_path / "bot.yaml").write_text("name: bot\nsourse: x.xml\n")
    with pytest.raises(RobotSpecError, match="did you mean 'source'"):
        get_robot(str(tmp_path / "bot.yaml"))


# ---- the reference robots fixture ------------------------------------------------------------------

def test_missing_reference_robots_skip_locally_and_fail_under_ci(tmp_path, monkeypatch):
    from conftest import require_shared_robots

    missing = tmp_path / "shared" / "robots"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as info:
        require_shared_robots(missing)
    assert str(missing) in str(info.value) and "unitree_go2/scene.xml" in str(info.value)
    for value in ("true", "1"):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.fail.Exception) as info:
            require_shared_robots(missing)
        msg = str(info.value)
        assert str(missing) in msg and "../shared/robots" in msg and "CI is set" in msg
        assert "\n" not in msg
    monkeypatch.setenv("CI", "false")  # an explicit "not CI" skips like a developer machine
    with pytest.raises(pytest.skip.Exception):
        require_shared_robots(missing)
    (missing / "unitree_go2").mkdir(parents=True)
    (missing / "unitree_go2" / "scene.xml").write_text("<mujoco/>")
    monkeypatch.setenv("CI", "true")
    assert require_shared_robots(missing) == missing


def test_foot_velocity_is_the_contact_point_of_a_rolling_sphere():
    """A sphere foot rolling without sliding has a zero contact-point velocity, though its centre moves;
    a sliding one reports its sliding speed. Checked in MuJoCo: the sensors' world frame, signs and radius."""
    robot = load_robot(QUADRUPED)
    m = robot.model
    assert np.all(robot.foot_radius > 0.01)  # the built-in feet are spheres
    d = mujoco.MjData(m)
    mujoco.mj_resetData(m, d)
    r = robot.foot_radius[0]
    # spin the whole robot about the world y axis through the FL foot's lowest point: that point is still
    mujoco.mj_forward(m, d)
    fid = robot.foot_geom_ids[0]  # the first foot's first collision geom, whose velocity the sensors read
    pivot = d.geom_xpos[fid] - np.array([0.0, 0.0, r])
    w = np.array([0.0, 2.0, 0.0])
    base = d.xpos[robot.base_body_id]
    d.qvel[robot.base_dof_adr:robot.base_dof_adr + 3] = np.cross(w, base - pivot)  # world linear velocity
    d.qvel[robot.base_dof_adr + 3:robot.base_dof_adr + 6] = w  # level base: body frame = world frame
    mujoco.mj_forward(m, d)
    vel = robot.foot_velocity(d.sensordata[None])[0]
    centre = d.sensordata[robot.sensors.foot_vel[0]:robot.sensors.foot_vel[0] + 3]
    assert np.linalg.norm(centre[:2]) == pytest.approx(2.0 * r, rel=1e-6)  # the centre moves at omega x r
    np.testing.assert_allclose(vel[0], 0.0, atol=1e-9)
    # pure sliding: the whole robot translates at 0.3 m/s
    d.qvel[:] = 0.0
    d.qvel[robot.base_dof_adr] = 0.3
    mujoco.mj_forward(m, d)
    np.testing.assert_allclose(robot.foot_velocity(d.sensordata[None])[0][:, 0], 0.3, atol=1e-9)


def test_spec_timestep_replaces_the_files_and_is_checked():
    assert load_robot(QUADRUPED).model.opt.timestep == pytest.approx(0.005)
    assert load_robot(replace(QUADRUPED, timestep=0.002)).model.opt.timestep == pytest.approx(0.002)
    with pytest.raises(RobotSpecError, match="timestep = 0.05 s is out of range"):
        replace(QUADRUPED, timestep=0.05)
