"""``robot.xml`` for an export: the robot exactly as trained, loadable by plain MuJoCo.

The loader's edits (PD actuators with the trained gains and torque limits, the free joint, the floor,
dropped visual meshes, collision filtering, sensors) are applied again to the robot file and the
result is written as MJCF, with its mesh and texture files copied beside it (``assets/``), so that
``mujoco.MjModel.from_xml_path("robot.xml")`` needs nothing from stridelab.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from stridelab.robots.loader import build_mjspec
from stridelab.robots.spec import RobotSpec
from stridelab.files import write_atomic


def _source_file(folder: Path, subdir: str, file: str) -> Path:
    path = Path(file)
    if path.is_absolute():
        return path
    for candidate in (folder / subdir / path, folder / path):
        if candidate.is_file():
            return candidate
    return folder / subdir / path


def write_robot_xml(spec: RobotSpec, out_dir: Path, foot_friction: float | None = None) -> Path:
    """Write ``out_dir/robot.xml`` (and ``out_dir/assets/``). Returns the XML path.

    ``foot_friction``: the sliding friction coefficient the feet's collision geoms get (the middle of the range the
    policy was trained with, ``policy.json["foot_friction"]``); None keeps the robot file's. A maker's value outside
    the trained range (the Go2's 0.4 against 0.5-1.25) made a client of robot.xml track 1.7x worse than training.
    """
    mjspec, path, parts = build_mjspec(spec)
    if foot_friction is not None:
        for foot in parts["feet"]:
            for name in foot.geoms:
                geom = mjspec.geom(name)
                geom.friction = [float(foot_friction), *list(geom.friction)[1:]]
    out_dir = Path(out_dir)
    assets = out_dir / "assets"
    used: set[str] = set()

    def copy(src: Path) -> str:
        name = src.name
        stem, i = src.stem, 1
        while name in used:  # two files of one name from different folders
            name, i = f"{stem}_{i}{src.suffix}", i + 1
        used.add(name)
        assets.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, assets / name)
        return name

    for mesh in mjspec.meshes:
        if mesh.file:
            mesh.file = copy(_source_file(path.parent, mjspec.meshdir, mesh.file))
    for texture in mjspec.textures:
        if texture.file:
            texture.file = copy(_source_file(path.parent, mjspec.texturedir, texture.file))
    mjspec.meshdir = mjspec.texturedir = "assets"
    mjspec.compile()  # to_xml needs a compiled spec; also proves that the copied files load
    return write_atomic(out_dir / "robot.xml", lambda f: f.write(mjspec.to_xml()), binary=False)
