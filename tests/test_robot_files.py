"""Robot files as manufacturers publish them: unnamed collision geoms, links fused by fixed joints, no
actuators, ``package://`` meshes; YAML specs with scalar and pattern values; `stridelab robot check`.

The robot files are written by the tests: a 4-legged toy with one hip-pitch joint per leg and a foot
link on a fixed joint, as URDF (no actuators, effort limits only) and as MJCF (no geom names)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from stridelab.errors import RobotSpecError

LEGS = {"FL": (0.15, 0.08), "FR": (0.15, -0.08), "RL": (-0.15, 0.08), "RR": (-0.15, -0.08)}


def write_box_stl(path: Path, size: tuple[float, float, float]) -> None:
    """A binary STL box centred at the origin (12 triangles)."""
    hx, hy, hz = (s / 2 for s in size)
    v = np.array([[x, y, z] for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)])
    faces = [(0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1), (2, 3, 7), (2, 7, 6), (0, 2, 6),
             (0, 6, 4), (1, 5, 7), (1, 7, 3)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\0" * 80 + struct.pack("<I", len(faces)))
        for a, b, c in faces:
            f.write(struct.pack("<3f", 0, 0, 0) + b"".join(struct.pack("<3f", *v[i]) for i in (a, b, c)) + b"\0\0")


def write_urdf(folder: Path) -> Path:
    """toybot/urdf/toybot.urdf with its base collision mesh at toybot/meshes/base.stl (package://toybot/...)."""
    write_box_stl(folder / "toybot" / "meshes" / "base.stl", (0.4, 0.2, 0.08))
    inertia = '<inertia ixx="{0}" iyy="{0}" izz="{0}" ixy="0" ixz="0" iyz="0"/>'
    links = [f'<link name="base"><inertial><mass value="4"/>{inertia.format(0.02)}</inertial>'
             '<visual><geometry><mesh filename="package://toybot/meshes/missing_visual.stl"/></geometry></visual>'
             '<collision><geometry><mesh filename="package://toybot/meshes/base.stl"/></geometry></collision></link>']
    joints = []
    for leg, (x, y) in LEGS.items():
        links.append(f'<link name="{leg}_thigh"><inertial><origin xyz="0 0 -0.1"/><mass value="0.4"/>'
                     f'{inertia.format(0.002)}</inertial><collision><origin xyz="0 0 -0.1"/><geometry>'
                     f'<cylinder radius="0.015" length="0.16"/></geometry></collision></link>')
        links.append(f'<link name="{leg}_foot"><inertial><mass value="0.05"/>{inertia.format(1e-5)}</inertial>'
                     f'<collision><geometry><sphere radius="0.02"/></geometry></collision></link>')
        joints.append(f'<joint name="{leg}_hip" type="revolute"><parent link="base"/><child link="{leg}_thigh"/>'
                      f'<origin xyz="{x} {y} -0.04"/><axis xyz="0 1 0"/>'
                      f'<limit lower="-1.0" upper="1.0" effort="15" velocity="20"/></joint>')
        joints.append(f'<joint name="{leg}_ankle_fixed" type="fixed"><parent link="{leg}_thigh"/>'
                      f'<child link="{leg}_foot"/><origin xyz="0 0 -0.2"/></joint>')
    path = folder / "toybot" / "urdf" / "toybot.urdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<robot name="toybot">' + "".join(links + joints) + "</robot>")
    return path


def write_mjcf(folder: Path) -> Path:
    """The same toy as MJCF with motors and not one geom name."""
    legs = "".join(
        f'<body name="{leg}_thigh" pos="{x} {y} -0.04"><joint name="{leg}_hip" axis="0 1 0" range="-1 1"/>'
        f'<geom type="capsule" fromto="0 0 0 0 0 -0.18" size="0.015" mass="0.4"/>'
        f'<body name="{leg}_foot" pos="0 0 -0.2"><geom type="sphere" size="0.02" mass="0.05"/></body></body>'
        for leg, (x, y) in LEGS.items())
    motors = "".join(f'<motor joint="{leg}_hip" ctrlrange="-15 15"/>' for leg in LEGS)
    path = folder / "toybot.xml"
    path.write_text(f'<mujoco model="toybot"><option timestep="0.005"/><worldbody>'
                    f'<body name="base" pos="0 0 0.3"><freejoint/><geom type="box" size="0.2 0.1 0.04" mass="4"/>'
                    f'{legs}</body></worldbody><actuator>{motors}</actuator></mujoco>')
    return path


def toy_spec(source: Path, **kw):
    from stridelab.robots import RobotSpec

    fields = dict(name="toybot", source=str(source), joint_names=tuple(f"{leg}_hip" for leg in LEGS),
                  default_pose=0.0, kp=30.0, kd=1.0, base_body="base", feet=tuple(f"{leg}_foot" for leg in LEGS),
                  terminate_contacts=("base",), init_height=0.27, base_height_target=0.26)
    fields.update(kw)
    return RobotSpec(**fields)


def test_urdf_with_unnamed_geoms_fused_links_no_actuators_and_package_meshes(tmp_path, caplog):
    from stridelab.robots import load_robot
    from stridelab.robots.check import check_robot

    robot = load_robot(toy_spec(write_urdf(tmp_path)))
    model = robot.model
    # the fixed-joint foot links are bodies of their own, addressable by their link names
    assert {f"{leg}_foot" for leg in LEGS} <= {model.body(i).name for i in range(model.nbody)}
    # motors came from <limit effort>, as PD actuators in joint order
    assert model.nu == 4 and np.allclose(robot.torque_limits, 15.0)
    assert np.allclose(model.actuator_gainprm[:, 0], 30.0)
    # the package:// collision mesh was found (its box is part of the model), the missing visual dropped
    assert model.nmesh == 1 and model.mesh_vertnum[0] == 8
    # each foot is its link's one collision geom
    assert len(robot.foot_geom_ids) == 4 and list(robot.foot_of_geom) == [0, 1, 2, 3]
    report = check_robot(robot, seconds=3.0, image=tmp_path / "pose.png")
    assert report.stands, "\n".join(report.lines)
    assert all(report.feet_in_contact) and (tmp_path / "pose.png").stat().st_size > 1000


def test_package_paths_resolve_against_mesh_dir(tmp_path):
    from stridelab.robots import load_robot

    urdf = write_urdf(tmp_path / "a")
    moved = tmp_path / "elsewhere" / "meshes"
    moved.parent.mkdir()
    (tmp_path / "a" / "toybot" / "meshes").rename(moved)
    with pytest.raises(RobotSpecError, match="collision mesh"):
        load_robot(toy_spec(urdf))
    assert load_robot(toy_spec(urdf, mesh_dir=str(moved.parent))).model.nmesh == 1


def test_mjcf_with_unnamed_geoms_stands_and_steps_in_a_task(tmp_path):
    import stridelab
    from stridelab.robots import load_robot
    from stridelab.robots.check import check_robot

    xml = write_mjcf(tmp_path)
    robot = load_robot(toy_spec(xml))
    assert np.allclose(robot.torque_limits, 15.0)
    assert check_robot(robot, seconds=3.0).stands
    spec_file = tmp_path / "toybot.yaml"
    spec_file.write_text(
        "name: toybot\nsource: toybot.xml\njoint_names: [FL_hip, FR_hip, RL_hip, RR_hip]\n"
        "default_pose: 0.0\nkp: {hip: 30}\nkd: {'.*_hip': 1.0}\nbase_body: base\n"
        "feet: [FL_foot, FR_foot, RL_foot, RR_foot]\nterminate_contacts: [base]\ninit_height: 0.27\n")
    env = stridelab.make("quadruped-flat", robot=str(spec_file), num_envs=4, num_threads=1)
    assert env.get_observations()["policy"].shape == (4, 9 + 3 * 4 + 2 * 4)  # + the gait clock of 4 feet
    for _ in range(20):
        _, reward, _, extras = env.step(torch.randn(4, 4) * 0.3)
        assert torch.isfinite(reward).all() and extras["unstable"] == 0
    assert env.state.foot_contact.shape == (4, 4)


def test_robot_check_cli_reports_and_writes_the_png(tmp_path, capsys):
    from stridelab.app.cli import main

    xml = write_mjcf(tmp_path)
    spec_file = tmp_path / "toy.yaml"
    spec_file.write_text(f"name: toybot\nsource: {xml}\njoint_names: [FL_hip, FR_hip, RL_hip, RR_hip]\n"
                         "default_pose: 0\nkp: 30\nkd: 1\nbase_body: base\nfeet: [FL_foot, FR_foot, RL_foot, RR_foot]\n"
                         "terminate_contacts: [base]\ninit_height: 0.27\n")
    assert main(["robot", "check", str(spec_file), "--out", str(tmp_path / "check.png"), "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    assert "STANDS" in out and "FL_hip" in out and "mass" in out
    assert (tmp_path / "check.png").is_file()


def test_unknown_foot_lists_bodies_and_geoms(tmp_path):
    from stridelab.robots import load_robot

    with pytest.raises(RobotSpecError) as err:
        load_robot(toy_spec(write_mjcf(tmp_path), feet=("FL_toe", "FR_foot", "RL_foot", "RR_foot")))
    msg = str(err.value)
    assert "'FL_toe'" in msg and "FL_foot" in msg and "bodies are" in msg and "geoms are" in msg


@pytest.mark.parametrize("kp, pattern", [
    ({"FL": 30, "FR": 30, "RL": 30}, "RR_hip' matches none"),
    ({"hip": 30, "FL": 20}, "FL_hip' matches several"),
    ("stiff", "is not a number"),
])
def test_bad_per_joint_values_are_one_sentence(tmp_path, kp, pattern):
    with pytest.raises(RobotSpecError, match=pattern):
        toy_spec(tmp_path / "x.xml", kp=kp)


def test_scalar_and_pattern_values_expand_per_joint(tmp_path):
    spec = toy_spec(tmp_path / "x.xml", kp=20, kd={"F.*": 1.0, "R.*": 2.0}, default_pose={".*_hip": 0.1})
    assert spec.kp == (20.0,) * 4 and spec.kd == (1.0, 1.0, 2.0, 2.0) and spec.default_pose == (0.1,) * 4
