"""Robot spec fields for published files: joints held fixed (a humanoid's upper body), removed from the model
with their bodies where the held angle puts them; MuJoCo option overrides; and the Unitree H1 set up for the
biped task with a YAML spec alone."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest

from stridelab.errors import RobotSpecError
from test_robot_files import toy_spec, write_mjcf

ARM = ('<body name="arm" pos="0.1 0 0.05"><joint name="shoulder" axis="0 1 0" pos="0 0 0.02" range="-2 2"/>'
       '<geom type="capsule" fromto="0 0 0 0.15 0 0" size="0.01" mass="0.2"/>'
       '<body name="hand" pos="0.15 0 0"><joint name="wrist" type="slide" axis="1 0 0" range="-0.1 0.1"/>'
       '<geom type="sphere" size="0.02" mass="0.1"/></body></body>')


def toy_with_arm(folder: Path) -> Path:
    path = write_mjcf(folder)
    text = path.read_text().replace('mass="4"/>', f'mass="4"/>{ARM}', 1)
    text = text.replace("</mujoco>", '<sensor><jointpos joint="shoulder"/></sensor><keyframe><key name="home" '
                                      'qpos="0 0 0.3 1 0 0 0 0 0 0 0 0.3 0.05"/></keyframe></mujoco>')
    path.write_text(text)
    return path


def test_fixed_joints_put_their_bodies_where_the_held_angles_would(tmp_path):
    from stridelab.robots import load_robot

    source = toy_with_arm(tmp_path)
    robot = load_robot(toy_spec(source, fixed_joints={"shoulder": 0.7, "wrist": 0.05}))
    m = robot.model
    assert m.njnt == 5 and m.nq == 7 + 4 and m.nu == 4  # the free joint and the 4 hips remain
    assert m.key("home").qpos.shape == (m.nq,)  # the keyframe lost the removed joints' entries
    # reference: the original model with the joints at those values
    ref = mujoco.MjModel.from_xml_path(str(source))
    d_ref, d = mujoco.MjData(ref), mujoco.MjData(m)
    d_ref.qpos[ref.joint("shoulder").qposadr[0]] = 0.7
    d_ref.qpos[ref.joint("wrist").qposadr[0]] = 0.05
    mujoco.mj_kinematics(ref, d_ref)
    mujoco.mj_kinematics(m, d)
    for body in ("arm", "hand"):
        np.testing.assert_allclose(d.xpos[m.body(body).id], d_ref.xpos[ref.body(body).id], atol=1e-9)
        np.testing.assert_allclose(d.xquat[m.body(body).id], d_ref.xquat[ref.body(body).id], atol=1e-9)


@pytest.mark.parametrize("fixed, words", [
    (["elbow"], "unknown fixed joint pattern 'elbow'"),
    (["FL_hip"], "both actuated"),
    ({"shoulder": "up"}, "not a list of joint patterns"),
])
def test_bad_fixed_joints_are_one_sentence(tmp_path, fixed, words):
    from stridelab.robots import load_robot

    with pytest.raises(RobotSpecError, match=words):
        load_robot(toy_spec(toy_with_arm(tmp_path), fixed_joints=fixed))


def test_h1_biped_task_builds_from_its_yaml_spec(shared_robots, tmp_path):
    import stridelab
    from stridelab.robots.registry import robot_from_yaml

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "unitree_h1.yaml"
    text = example.read_text().replace("../../../shared/robots", str(shared_robots))
    spec_file = tmp_path / "h1.yaml"
    spec_file.write_text(text)
    spec = robot_from_yaml(str(spec_file))
    env = stridelab.make("biped-flat", robot=str(spec_file), num_envs=2, num_threads=1, seed=0)
    try:
        m = env.robot.model
        assert env.num_actions == 10 and m.nu == 10 and m.nv == 6 + 10  # upper body removed, legs actuated
        assert env.get_observations()["policy"].shape == (2, 9 + 3 * 10 + 2 * 2 + 1)
        for _ in range(10):
            env.step(np.zeros((2, 10)))
        assert np.isfinite(env.state.foot_force).all()
        assert spec.mirror_perm == (5, 6, 7, 8, 9, 0, 1, 2, 3, 4)
    finally:
        env.close()


def test_option_overrides_reach_the_model_and_bad_ones_are_one_sentence(tmp_path):
    from stridelab.robots import load_robot

    source = toy_with_arm(tmp_path)
    m = load_robot(toy_spec(source, option={"cone": "elliptic", "impratio": 10, "iterations": 7})).model
    assert m.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC and m.opt.impratio == 10 and m.opt.iterations == 7
    for option, words in (({"cone": "round"}, "cone = 'round' is unknown"), ({"gravity": 1}, "not supported"),
                          ({"impratio": -1}, "must be a number")):
        with pytest.raises(RobotSpecError, match=words):
            toy_spec(source, option=option)
