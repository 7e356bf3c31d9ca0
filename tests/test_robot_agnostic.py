"""Defaults that carry across robots: torque, power and foot-force terms normalized by the robot's own limits and
weight, the step length scaled by its leg length (read from the model), and per-robot weights in the spec."""

from __future__ import annotations

import numpy as np
import pytest

import stridelab
from stridelab.errors import ConfigError, RobotSpecError
from stridelab.mdp.state import RobotState

from test_robot_files import toy_spec, write_mjcf, write_urdf


def test_leg_length_is_hip_to_foot_in_the_standing_pose(tmp_path):
    from stridelab.robots import load_robot
    from stridelab.robots.geometry import leg_length

    # the toy's hip joint is 0.2 m above its foot sphere, whatever the hip angle
    for source in (write_mjcf(tmp_path), write_urdf(tmp_path)):
        assert leg_length(load_robot(toy_spec(source))) == pytest.approx(0.2, abs=1e-9)
        assert leg_length(load_robot(toy_spec(source, default_pose=0.6))) == pytest.approx(0.2, abs=1e-9)


def _state(env, torques, joint_vel, foot_force) -> RobotState:
    n, j, f = 1, env.num_actions, env.robot.num_feet
    zeros = np.zeros((n, j))
    return RobotState(base_quat=np.array([[1.0, 0, 0, 0]]), base_ang_vel=np.zeros((n, 3)),
                      projected_gravity=np.array([[0, 0, -1.0]]), joint_pos=zeros, joint_vel=joint_vel,
                      default_joint_pos=np.zeros(j), actions=zeros, commands=np.zeros((n, 3)), torques=torques,
                      foot_force=foot_force.reshape(n, f, 3))


def test_normalized_torque_power_and_foot_force_terms_use_the_robots_limits_and_weight():
    from stridelab.mdp.rewards import feet_force_excess, power_normalized, torques_normalized_l2

    env = stridelab.make("biped-flat", num_envs=1, num_threads=1)
    try:
        limits = env.robot.torque_limits
        j = len(limits)
        weight = float(env.robot.model.body_subtreemass[env.robot.base_body_id]) * 9.81
        torques = (0.5 * limits)[None]  # half of every limit
        vel = np.full((1, j), 2.0)
        force = np.zeros((2, 3))
        force[0, 2] = 1.5 * weight  # a stomp of 1.5 body weights on the left foot
        s = _state(env, torques, vel, force)
        assert torques_normalized_l2(env)(s)[0] == pytest.approx(0.25)
        assert power_normalized(env)(s)[0] == pytest.approx(1.0)  # 0.5 of the limit x 2 rad/s
        assert feet_force_excess(env, threshold=1.2)(s)[0] == pytest.approx(0.3, rel=1e-3)
        force[0, 2] = 1.1 * weight
        assert feet_force_excess(env, threshold=1.2)(_state(env, torques, vel, force))[0] == 0.0
        with pytest.raises(ConfigError, match="threshold"):
            feet_force_excess(env, threshold=0.0)
        # the task's defaults use them in place of the size-dependent torques_l2
        rewards = env.cfg.rewards
        assert rewards["torques_l2"].weight == 0.0 and rewards["torques_normalized_l2"].weight < 0
        assert rewards["feet_force_excess"].weight < 0
    finally:
        env.close()


def test_the_clock_step_length_is_a_share_of_the_leg_length():
    from stridelab.mdp.commands import gait_clock
    from stridelab.robots.geometry import leg_length
    from stridelab.tasks.biped import STEP_PER_LEG

    env = stridelab.make("biped-flat", num_envs=2, num_threads=1)
    try:
        clock = env.commands.terms["gait"]
        assert clock.max_step_length == pytest.approx(STEP_PER_LEG * leg_length(env.robot))
        assert 0.8 < leg_length(env.robot) < 0.9  # the built-in biped: 0.45 m thigh + 0.4 m shin class
        assert gait_clock(env, max_step_length=0.25, max_step_per_leg=0.3).max_step_length == 0.25  # metres win
        with pytest.raises(ConfigError, match="max_step_per_leg = 3 must be within"):
            gait_clock(env, max_step_per_leg=3)
    finally:
        env.close()


def test_robot_spec_reward_weights_replace_the_tasks_unless_the_command_line_sets_them(tmp_path):
    from stridelab.app.cli import parse
    from stridelab.tasks import make_env_cfg

    spec = tmp_path / "heavy.yaml"
    spec.write_text("name: heavy\nsource: builtin:biped\njoint_names: [l_hip_roll]\ndefault_pose: 0\nkp: 1\nkd: 1\n"
                    "base_body: pelvis\nfeet: [l_foot]\nreward_weights: {torques_normalized_l2: -7.5}\n")
    from stridelab.robots.registry import get_robot, robot_from_yaml

    assert robot_from_yaml(str(spec)).reward_weights == (("torques_normalized_l2", -7.5),)
    yaml_spec = tmp_path / "biped.yaml"
    fields = get_robot("biped")
    lines = ["name: mybiped", "source: builtin:biped", f"joint_names: {list(fields.joint_names)}",
             f"default_pose: {list(fields.default_pose)}", f"kp: {list(fields.kp)}", f"kd: {list(fields.kd)}",
             f"base_body: {fields.base_body}", f"feet: {list(fields.feet)}",
             "reward_weights: {torques_normalized_l2: -7.5}"]
    yaml_spec.write_text("\n".join(lines) + "\n")
    assert make_env_cfg("biped-flat", robot=str(yaml_spec)).rewards["torques_normalized_l2"].weight == -7.5
    assert make_env_cfg("biped-flat").rewards["torques_normalized_l2"].weight == -4.0
    given = parse(["train", "biped-flat", "--env.robot", str(yaml_spec)]).options.env
    assert given.rewards["torques_normalized_l2"].weight == -7.5
    given = parse(["train", "biped-flat", "--env.robot", str(yaml_spec),
                   "--env.rewards.torques-normalized-l2.weight", "-1"]).options.env
    assert given.rewards["torques_normalized_l2"].weight == -1.0  # the command line wins
    removed = make_env_cfg("biped-flat", robot=str(yaml_spec), rewards={"torques_normalized_l2": None})
    assert "torques_normalized_l2" not in removed.rewards  # switched off: the spec's weight does not bring it back
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml_spec.read_text().replace("torques_normalized_l2: -7.5", "torque_l2: -7.5"))
    with pytest.raises(ConfigError, match="reward term 'torque_l2'.*fix reward_weights in the robot spec"):
        make_env_cfg("biped-flat", robot=str(bad))
    bad.write_text(yaml_spec.read_text().replace("-7.5", "heavy"))
    with pytest.raises(RobotSpecError, match="is not a number"):
        robot_from_yaml(str(bad))
