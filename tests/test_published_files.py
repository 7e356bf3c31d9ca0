"""Published robot files load as they are: link inertias MuJoCo rejects are repaired with one warning, a trunk
welded to an empty root link is the base (body, contact name, mass randomization), any term is switched off
from the command line, `robot check` writes its PNG beside the spec, and a humanoid that needs a policy to
stand passes the check.

The robot is written by the tests in the layout of legged_gym's A1 URDF: an empty root link ``base``, the
``trunk`` (all the base's mass, a collision box) on a fixed joint below it, and four one-joint legs."""

from __future__ import annotations

import logging
from pathlib import Path

import mujoco
import numpy as np
import pytest

from stridelab.errors import ConfigError, RobotSpecError

LEGS = {"FL": (0.15, 0.08), "FR": (0.15, -0.08), "RL": (-0.15, 0.08), "RR": (-0.15, -0.08)}
GOOD = "ixx='0.002' iyy='0.002' izz='0.002' ixy='0' ixz='0' iyz='0'"
# A + B < C: 0.0005 + 0.0005 < 0.004
FLAT = "ixx='0.0005' iyy='0.0005' izz='0.004' ixy='0' ixz='0' iyz='0'"
# the xy block [[0.002, 0.003], [0.003, 0.002]] has the eigenvalues -0.001 and 0.005
NEGATIVE = "ixx='0.002' iyy='0.002' izz='0.005' ixy='0.003' ixz='0' iyz='0'"


def write_a1_like(folder: Path, thighs: dict[str, str] | None = None) -> Path:
    """a1like.urdf: empty root ``base``, ``trunk`` welded to it, legs ``<leg>_hip`` -> thigh -> fixed foot."""
    thighs = thighs or {}
    links = ["<link name='base'/>",
             "<link name='trunk'><inertial><mass value='4'/><inertia ixx='0.02' iyy='0.05' izz='0.06' ixy='0' "
             "ixz='0' iyz='0'/></inertial><collision><geometry><box size='0.4 0.2 0.08'/></geometry></collision>"
             "</link>"]
    joints = ["<joint name='floating_base' type='fixed'><parent link='base'/><child link='trunk'/></joint>"]
    for leg, (x, y) in LEGS.items():
        links.append(f"<link name='{leg}_thigh'><inertial><origin xyz='0 0 -0.1'/><mass value='0.4'/>"
                     f"<inertia {thighs.get(leg, GOOD)}/></inertial><collision><origin xyz='0 0 -0.1'/><geometry>"
                     f"<cylinder radius='0.015' length='0.16'/></geometry></collision></link>")
        links.append(f"<link name='{leg}_foot'><inertial><mass value='0.05'/><inertia ixx='1e-5' iyy='1e-5' "
                     f"izz='1e-5' ixy='0' ixz='0' iyz='0'/></inertial><collision><geometry><sphere radius='0.02'/>"
                     f"</geometry></collision></link>")
        joints.append(f"<joint name='{leg}_hip' type='revolute'><parent link='trunk'/><child link='{leg}_thigh'/>"
                      f"<origin xyz='{x} {y} -0.04'/><axis xyz='0 1 0'/>"
                      f"<limit lower='-1.0' upper='1.0' effort='15' velocity='20'/></joint>")
        joints.append(f"<joint name='{leg}_ankle' type='fixed'><parent link='{leg}_thigh'/>"
                      f"<child link='{leg}_foot'/><origin xyz='0 0 -0.2'/></joint>")
    path = folder / "a1like.urdf"
    path.write_text("<robot name='a1like'>" + "".join(links + joints) + "</robot>")
    return path


def a1_spec(source: Path, **kw):
    from stridelab.robots import RobotSpec

    fields = dict(name="a1like", source=str(source), joint_names=tuple(f"{leg}_hip" for leg in LEGS),
                  default_pose=0.0, kp=30.0, kd=1.0, base_body="trunk", feet=tuple(f"{leg}_foot" for leg in LEGS),
                  terminate_contacts=("trunk",), init_height=0.27, base_height_target=0.26)
    fields.update(kw)
    return RobotSpec(**fields)


def write_spec_yaml(folder: Path, source: Path, base_body: str = "trunk") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "a1like.yaml"
    path.write_text(f"name: a1like\nsource: {source}\njoint_names: [FL_hip, FR_hip, RL_hip, RR_hip]\n"
                    f"default_pose: 0\nkp: 30\nkd: 1\nbase_body: {base_body}\n"
                    f"feet: [FL_foot, FR_foot, RL_foot, RR_foot]\nterminate_contacts: [{base_body}]\n"
                    f"init_height: 0.27\nbase_height_target: 0.26\n")
    return path


def principal(model: mujoco.MjModel, body: str) -> np.ndarray:
    return np.sort(model.body_inertia[model.body(body).id])


def valid(moments: np.ndarray) -> bool:
    a, b, c = np.sort(moments)
    return bool(a > 0 and a + b >= c)


# ---- inertias MuJoCo rejects ---------------------------------------------------------------------

def test_rejected_inertias_are_repaired_with_one_warning(tmp_path, caplog):
    from stridelab.robots import load_robot

    path = write_a1_like(tmp_path, {"FL": FLAT, "RR": NEGATIVE})
    with pytest.raises(ValueError, match="A \\+ B >= C|positive eigenvalues"):  # MuJoCo alone refuses the file
        mujoco.MjModel.from_xml_path(str(path))
    with caplog.at_level(logging.WARNING, logger="stridelab"):
        model = load_robot(a1_spec(path)).model
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert "FL_thigh" in message and "RR_thigh" in message and "FR_thigh" not in message and "RL_thigh" not in message
    assert "A + B < C" in message and "non-positive" in message and "%" in message
    # triangle: MuJoCo's balanceinertia, the mean of the three moments
    np.testing.assert_allclose(principal(model, "FL_thigh"), [0.005 / 3] * 3)
    # negative eigenvalue: raised to 1e-3 of the largest moment, the principal axes and other moments kept
    np.testing.assert_allclose(principal(model, "RR_thigh"), [5e-6, 0.005, 0.005], rtol=1e-9)
    for leg in LEGS:
        assert valid(principal(model, f"{leg}_thigh"))
    np.testing.assert_array_equal(principal(model, "FR_thigh"), [0.002] * 3)  # valid links untouched


def test_valid_inertias_are_left_exactly_as_they_were(tmp_path, caplog):
    from stridelab.robots.loader import build_mjspec, load_robot

    path = write_a1_like(tmp_path)
    with caplog.at_level(logging.WARNING, logger="stridelab"):
        model = load_robot(a1_spec(path)).model
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not build_mjspec(a1_spec(path))[0].compiler.balanceinertia  # the switch stays off
    plain = mujoco.MjSpec.from_file(str(path))
    plain.compiler.fusestatic = False
    np.testing.assert_array_equal(model.body_inertia[1:plain.compile().nbody], plain.compile().body_inertia[1:])


def test_mjcf_full_inertia_and_a_moving_point_mass_are_repaired(tmp_path, caplog):
    from stridelab.robots import load_robot
    from stridelab.robots.repair import repair_inertias

    xml = tmp_path / "arm.xml"
    xml.write_text("<mujoco><worldbody><body name='base' pos='0 0 0.3'><freejoint/>"
                   "<geom type='box' size='0.2 0.1 0.04' mass='4'/>"
                   "<body name='upper'><joint name='j1' axis='0 1 0' range='-1 1'/>"
                   "<inertial pos='0 0 -0.1' mass='0.5' fullinertia='0.001 0.001 0.001 0.002 0 0'/>"
                   "<body name='lower' pos='0 0 -0.2'><joint name='j2' axis='0 1 0' range='-1 1'/>"
                   "<inertial pos='0 0 0' mass='0.2' diaginertia='0 0 0'/><geom name='toe' size='0.02' "
                   "contype='1' conaffinity='1' mass='0'/></body></body></body></worldbody></mujoco>")
    spec = mujoco.MjSpec.from_file(str(xml))
    repairs = repair_inertias(spec)
    assert [r.body for r in repairs] == ["upper", "lower"]
    assert "zero principal moment" in repairs[1].problem
    from stridelab.robots import RobotSpec

    robot_spec = RobotSpec(name="arm", source=str(xml), joint_names=("j1", "j2"), default_pose=0.0, kp=10.0,
                           kd=0.5, base_body="base", feet=("toe",), torque_limits=5.0)
    with caplog.at_level(logging.WARNING, logger="stridelab"):
        model = load_robot(robot_spec).model
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    assert valid(principal(model, "upper")) and valid(principal(model, "lower"))
    # a point mass becomes a solid sphere of water of its mass: 2/5 m r^2
    radius = (3 * 0.2 / (4 * np.pi * 1000)) ** (1 / 3)
    np.testing.assert_allclose(principal(model, "lower"), [0.4 * 0.2 * radius ** 2] * 3)


def test_a_massless_link_between_two_joints_gets_a_small_mass_with_the_warning(tmp_path, caplog):
    """Each leg as URDFs often model a two-axis hip: a roll joint into an empty link (no inertial, no collision), then
    the pitch joint. MuJoCo alone refuses the moving massless link; the loader gives it 10 g and says so once."""
    from stridelab.robots import load_robot
    from stridelab.robots.repair import MASSLESS_LINK_MASS

    path = write_a1_like(tmp_path)
    text = path.read_text()
    for leg in LEGS:  # trunk -> <leg>_roll (empty) -> <leg>_thigh
        text = text.replace(f"<parent link='trunk'/><child link='{leg}_thigh'/>",
                            f"<parent link='{leg}_roll'/><child link='{leg}_thigh'/>")
        text = text.replace("</robot>", f"<link name='{leg}_roll'/><joint name='{leg}_hip_roll' type='revolute'>"
                                        f"<parent link='trunk'/><child link='{leg}_roll'/><axis xyz='1 0 0'/>"
                                        f"<limit lower='-0.5' upper='0.5' effort='15' velocity='20'/></joint></robot>")
    path.write_text(text)
    with pytest.raises(ValueError, match="mass and inertia of moving bodies"):  # MuJoCo alone refuses the file
        mujoco.MjModel.from_xml_path(str(path))
    joints = tuple(j for leg in LEGS for j in (f"{leg}_hip_roll", f"{leg}_hip"))
    with caplog.at_level(logging.WARNING, logger="stridelab"):
        robot = load_robot(a1_spec(path, joint_names=joints))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and all(f"{leg}_roll" in warnings[0] for leg in LEGS), warnings
    assert "without mass" in warnings[0] and "FL_thigh" not in warnings[0]
    model = robot.model
    for leg in LEGS:
        assert model.body_mass[model.body(f"{leg}_roll").id] == pytest.approx(MASSLESS_LINK_MASS)
        assert model.body_mass[model.body(f"{leg}_thigh").id] == pytest.approx(0.4)  # the file's links untouched
    data = mujoco.MjData(model)
    mujoco.mj_step(model, data, nstep=200)  # it simulates: no NaN, the base stays near its height
    assert np.all(np.isfinite(data.qpos))


# ---- a trunk welded to an empty root link --------------------------------------------------------

def test_welded_trunk_is_the_base_and_a_contact_name(tmp_path):
    from stridelab.robots import load_robot

    path = write_a1_like(tmp_path)
    for base_body, contact in (("trunk", "trunk"), ("base", "base")):
        robot = load_robot(a1_spec(path, base_body=base_body, terminate_contacts=(contact,)))
        model = robot.model
        trunk = model.body("trunk").id
        assert model.body(robot.base_body_id).name == "base"  # the root link carries the free joint
        assert int(model.jnt_type[model.body_jntadr[robot.base_body_id]]) == int(mujoco.mjtJoint.mjJNT_FREE)
        assert list(robot.base_group) == [robot.base_body_id, trunk] and robot.base_mass_body == trunk
        # the terminating contact sensor is the trunk's (an empty 'base' stands for the link welded to it)
        sensor = model.sensor("sl_terminate_0")
        assert int(sensor.objid[0]) == trunk
        data = mujoco.MjData(model)
        data.qpos[robot.base_qpos_adr:robot.base_qpos_adr + 7] = [0, 0, 0.03, 1, 0, 0, 0]  # trunk on the floor
        mujoco.mj_forward(model, data)
        s = robot.sensors
        assert data.sensordata[s.terminate_contact[0]:s.terminate_contact[1]].max() > 0


def test_a_base_below_a_joint_is_refused_in_one_sentence(tmp_path):
    from stridelab.robots import load_robot

    with pytest.raises(RobotSpecError, match="moves on joint 'FL_hip'.*name the root link"):
        load_robot(a1_spec(write_a1_like(tmp_path), base_body="FL_foot"))


@pytest.mark.parametrize("base_body", ["trunk", "base"])
def test_base_mass_randomization_changes_the_welded_group_mass(tmp_path, base_body):
    import stridelab

    spec_file = write_spec_yaml(tmp_path / base_body, write_a1_like(tmp_path), base_body)
    # the task's own range, (-1, 1) kg, which a 0 kg base could not take
    env = stridelab.make("quadruped-flat", robot=str(spec_file), num_envs=4, num_threads=1, seed=0)
    try:
        assert env.cfg.events["base_mass"].params["added_mass"] == (-1.0, 1.0)
        group, trunk = env.robot.base_group, env.robot.model.body("trunk").id
        nominal = env.robot.model.body_mass[group].sum()
        masses = env.sim.batch.expanded("body_mass")
        added = masses[:, group].sum(axis=1) - nominal  # the simulated total mass of the base group
        assert np.all(np.abs(added) <= 1.0) and np.ptp(added) > 0
        np.testing.assert_allclose(added, env.events.privileged()["added_mass"][:, 0])
        np.testing.assert_allclose(masses[:, trunk], 4.0 + added)  # carried by the trunk, the root stays empty
        assert np.all(masses[:, env.robot.base_body_id] == 0.0)
        for _ in range(3):
            env.step(np.zeros((4, 4)))
        assert np.isfinite(env.state.base_lin_vel).all()
    finally:
        env.close()


# ---- switching terms off on the command line -----------------------------------------------------

def test_a_term_set_to_none_on_the_command_line_is_gone(tmp_path):
    import stridelab
    from stridelab.app.cli import parse
    from stridelab.config import override

    options = parse(["train", "quadruped-flat", "--env.events.base-mass", "None", "--env.rewards.feet-air-time=None",
                     "--env.observations.privileged.terms.foot-contact", "None",
                     "--env.terminations.bad-orientation", "None", "--env.num-envs", "2"]).options
    env_cfg = options.env
    assert "base_mass" not in env_cfg.events and "feet_air_time" not in env_cfg.rewards
    assert "foot_contact" not in env_cfg.observations["privileged"].terms
    assert "bad_orientation" not in env_cfg.terminations and "push" in env_cfg.events
    env = stridelab.make_env(override(env_cfg, num_threads=1))
    try:
        assert "base_mass" not in env.events.terms and "feet_air_time" not in env.rewards.names
        assert "added_mass" not in env.events.privileged()
        env.step(np.zeros((2, env.num_actions)))
    finally:
        env.close()


def test_the_python_api_switches_a_term_off_with_none():
    from stridelab.tasks import make_env_cfg

    assert "push" not in make_env_cfg("quadruped-flat", events={"push": None}).events
    with pytest.raises(ConfigError, match="no term 'pushh' \\(did you mean 'push'\\?\\)"):
        make_env_cfg("quadruped-flat", events={"pushh": None})


def test_an_unknown_term_set_to_none_is_one_sentence(capsys, tmp_path):
    from stridelab.app.cli import main

    assert main(["train", "quadruped-flat", "--env.events.base-mas", "None", "--log-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --env.events.base-mas None")
    assert "did you mean 'base-mass'" in err[0] and "friction" in err[0] and err[0].endswith(".")
    assert list(tmp_path.iterdir()) == []


def test_a_term_parameter_set_to_none_on_the_command_line(capsys, tmp_path):
    from stridelab.app.cli import main, parse

    for args in (["--env.commands.gait.params.max-step-per-leg", "None"],
                 ["--env.commands.gait.params.max-step-per-leg=None"]):
        params = parse(["train", "biped-flat", *args, "--num-envs", "4"]).options.env.commands["gait"].params
        assert "max_step_per_leg" in params and params["max_step_per_leg"] is None
    assert parse(["train", "biped-flat"]).options.env.commands["gait"].params["max_step_per_leg"] == 0.3
    assert main(["train", "biped-flat", "--env.commands.gait.params.max-step-per-lge", "None",
                 "--log-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no 'max-step-per-lge' (did you mean 'max-step-per-leg'?)" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_run_refuses_a_term_switched_off():
    from stridelab.app.cli import parse
    from stridelab.app.train import _refusals, task_defaults

    options = parse(["train", "quadruped-flat", "--env.events.push", "None"]).options
    assert _refusals(options, task_defaults("quadruped-flat"), "task") == ["--env.events.push None (stored: a term)"]


# ---- robot check: where the PNG goes, and the humanoid verdict -----------------------------------

def test_robot_check_writes_its_png_beside_the_spec(tmp_path, monkeypatch, capsys):
    from stridelab.app.cli import main

    spec_file = write_spec_yaml(tmp_path / "robot", write_a1_like(tmp_path))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["robot", "check", str(spec_file), "--seconds", "1"]) == 0
    assert (spec_file.parent / "a1like_check.png").stat().st_size > 1000
    assert main(["robot", "check", str(spec_file), "--seconds", "1", "--out", str(tmp_path / "pngs")]) == 0
    assert (tmp_path / "pngs" / "a1like_check.png").is_file()
    assert main(["robot", "check", "quadruped", "--seconds", "0.2"]) in (0, 1)
    assert "give --out PNG" in capsys.readouterr().out
    assert list(cwd.iterdir()) == []


def h1_spec_file(folder: Path, shared: Path, **replace: str) -> Path:
    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "unitree_h1.yaml"
    text = example.read_text().replace("../../../shared/robots", str(shared))
    for old, new in replace.items():
        text = text.replace(old, new)
    path = folder / "h1.yaml"
    path.write_text(text)
    return path


def test_h1_needs_a_policy_to_stand_and_passes(shared_robots, tmp_path, capsys):
    from stridelab.app.cli import main

    spec_file = h1_spec_file(tmp_path, shared_robots)
    assert main(["robot", "check", str(spec_file), "--seconds", "2", "--out", str(tmp_path / "h1.png")]) == 0
    out = capsys.readouterr().out
    assert "DOES NOT STAND on its PD controllers alone" in out and "needs a policy to stand" in out
    # with its knees and hips too soft to carry it, even the balance assist does not help: a failure
    weak = h1_spec_file(tmp_path, shared_robots, **{"knee: 200": "knee: 5", "hip_pitch: 150": "hip_pitch: 5"})
    assert main(["robot", "check", str(weak), "--seconds", "2", "--out", str(tmp_path / "weak.png")]) == 1
    out = capsys.readouterr().out
    assert "DOES NOT STAND even with its balance assisted" in out and "needs a policy" not in out



def test_a_check_that_goes_unstable_says_so_in_one_sentence(capfd):
    """A model that diverges (here: gravity of 1e12 m/s^2) fails the check with our sentence, the problem and the
    fix, instead of MuJoCo's raw warning on the terminal."""
    from stridelab.robots import get_robot, load_robot
    from stridelab.robots.check import check_robot

    robot = load_robot(get_robot("quadruped"))
    robot.model.opt.gravity[:] = (0.0, 0.0, -1e12)
    report = check_robot(robot, seconds=0.5)
    out, err = capfd.readouterr()
    assert report.unstable_after is not None and report.unstable_after < 0.5 and not report.passes
    assert any(line.startswith("UNSTABLE: the simulation diverged after") and "set a smaller 'timestep' in the "
               "robot spec (e.g. 0.0025)" in line for line in report.lines)
    assert "huge value" not in out + err
    stable = check_robot(load_robot(get_robot("quadruped")), seconds=0.5)
    assert stable.unstable_after is None and stable.passes
