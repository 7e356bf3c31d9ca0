"""The registry of named robots: the built-in ones (:data:`stridelab.robots.builtin.BUILTIN_ROBOTS`) and any
registered later. A robot is addressed by registry name or by a RobotSpec YAML file (whose ``source`` may be a
path, ``builtin:NAME`` or ``menagerie:NAME``).
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import yaml

from stridelab.errors import ConfigError, RobotSpecError, did_you_mean, unknown_name
from stridelab.robots.builtin import BUILTIN_ROBOTS
from stridelab.robots.spec import RobotSpec

ROBOTS: dict[str, RobotSpec] = {spec.name: spec for spec in BUILTIN_ROBOTS}


def register_robot(spec: RobotSpec, replace_existing: bool = False) -> RobotSpec:
    """Add a :class:`~stridelab.robots.spec.RobotSpec` under its name."""
    if spec.name in ROBOTS and not replace_existing:
        raise ValueError(f"robot {spec.name!r} is registered twice")
    ROBOTS[spec.name] = spec
    return spec


def get_robot(name: str, **overrides: Any) -> RobotSpec:
    """A registered robot spec, or one read from a YAML file, with fields replaced (e.g. ``source=...``)."""
    if name.endswith((".yaml", ".yml")):
        spec = robot_from_yaml(name)
    else:
        if name not in ROBOTS:
            raise ConfigError(unknown_name("robot", name, sorted(ROBOTS), "the robot registry").replace(
                "valid names are", "or give a RobotSpec YAML file; valid names are"))
        spec = ROBOTS[name]
    return replace(spec, **overrides) if overrides else spec


def load_robot_of(name: str, terrain: Any = None) -> Any:
    """Load (compile and index) the robot ``name`` refers to, on ``terrain`` (a TerrainConfig) if given."""
    from stridelab.robots.loader import load_robot

    return load_robot(get_robot(name), terrain=terrain) if terrain is not None else load_robot(get_robot(name))


def robot_from_yaml(path: str) -> RobotSpec:
    """Read a RobotSpec from YAML; a missing file, bad YAML or unknown field is a :class:`RobotSpecError`.

    A YAML file holds RobotSpec fields (``name``, ``source``, ``joint_names``, ``default_pose``, ``kp``,
    ``kd``, ``base_body``, ``feet``, ...); a relative ``source`` is relative to the YAML file.
    """
    file = Path(path)
    if not file.is_file():
        raise RobotSpecError(f"robot spec file {path!r} does not exist; check the path.")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise RobotSpecError(f"robot spec file {path!r} is not valid YAML ({str(exc).splitlines()[0]}); fix it.") from None
    if not isinstance(data, dict):
        raise RobotSpecError(f"robot spec file {path!r} must be a mapping of RobotSpec fields.")
    known = {f.name for f in fields(RobotSpec)}
    for key in data:
        if key not in known:
            raise RobotSpecError(f"unknown field {key!r} in robot spec {path!r}{did_you_mean(key, known)}; valid "
                                 f"fields are: {', '.join(sorted(known))}.")
    source = str(data.get("source", ""))
    if source and ":" not in source and not Path(source).is_absolute():
        data["source"] = str(file.parent / source)
    if data.get("mesh_dir") and not Path(str(data["mesh_dir"])).is_absolute():
        data["mesh_dir"] = str(file.parent / str(data["mesh_dir"]))
    data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return RobotSpec(**data)
    except TypeError as exc:
        raise RobotSpecError(f"robot spec {path!r} is incomplete ({exc}); give at least name, source, joint_names, "
                             f"default_pose, kp, kd, base_body and feet.") from None
