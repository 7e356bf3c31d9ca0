"""Robot registry: the built-in robots and ready-made specs for reference models."""

from __future__ import annotations

from dataclasses import replace

from stridelab.errors import ConfigError, unknown_name
from stridelab.robots.spec import RobotSpec

_LEGS = ("FL", "FR", "RL", "RR")
_QUAD_JOINTS = tuple(f"{leg}_{part}_joint" for leg in _LEGS for part in ("hip", "thigh", "calf"))
# Left/right mirror of a FL, FR, RL, RR quadruped: swap the sides, negate abduction.
_QUAD_MIRROR_PERM = (3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8)
_QUAD_MIRROR_SIGN = (-1.0, 1.0, 1.0) * 4
_QUAD_FEET_MIRROR = (1, 0, 3, 2)

# Standing pose from legged_gym's a1_config.py (hip +-0.1, thigh 0.8 front / 1.0 rear, calf -1.5 rad;
# action scale 0.25 rad). PD gains kp 35 N m/rad, kd 0.5 N m s/rad from MuJoCo Playground's Go1
# joystick task: legged_gym's kp 20 lets this model sag 7 cm and splay its hips 0.2 rad at rest.
_A1_POSE = (0.1, 0.8, -1.5, -0.1, 0.8, -1.5, 0.1, 1.0, -1.5, -0.1, 1.0, -1.5)

QUADRUPED = RobotSpec(
    name="quadruped",
    source="builtin:quadruped",
    joint_names=_QUAD_JOINTS,
    default_pose=_A1_POSE,
    kp=(35.0,) * 12,
    kd=(0.5,) * 12,
    base_body="trunk",
    feet=tuple(f"{leg}_foot" for leg in _LEGS),
    terminate_contacts=("trunk",),
    penalize_contacts=tuple(f"{leg}_thigh" for leg in _LEGS),
    mirror_perm=_QUAD_MIRROR_PERM,
    mirror_sign=_QUAD_MIRROR_SIGN,
    feet_mirror_perm=_QUAD_FEET_MIRROR,
    init_height=0.30,
    base_height_target=0.28,  # rests at 0.27 m on its PD controllers in the default pose
    action_scale=0.25,
)

# Unitree Go2 from MuJoCo Menagerie (or MENAGERIE_ROOT). Gains kp 20 / kd 0.5 and the standing pose
# follow unitree_rl_gym's go2_config.py; the trunk rests at about 0.27 m in that pose.
GO2 = RobotSpec(
    name="go2",
    source="menagerie:unitree_go2",
    joint_names=_QUAD_JOINTS,
    default_pose=_A1_POSE,
    kp=(20.0,) * 12,
    kd=(0.5,) * 12,
    base_body="base_link",
    feet=_LEGS,
    terminate_contacts=("base_link",),
    penalize_contacts=tuple(f"{leg}_thigh" for leg in _LEGS),
    mirror_perm=_QUAD_MIRROR_PERM,
    mirror_sign=_QUAD_MIRROR_SIGN,
    feet_mirror_perm=_QUAD_FEET_MIRROR,
    init_height=0.33,
    base_height_target=0.27,
    limit_collisions=True,
)

ROBOTS: dict[str, RobotSpec] = {"quadruped": QUADRUPED, "go2": GO2}


def get_robot(name: str, **overrides) -> RobotSpec:
    """Return a registered robot spec, or one read from a YAML file, with fields replaced (e.g. ``source=...``).

    A YAML file holds RobotSpec fields (``name``, ``source``, ``joint_names``, ``default_pose``, ``kp``,
    ``kd``, ``base_body``, ``feet``, ...); a relative ``source`` is relative to the YAML file.
    """
    if name.endswith((".yaml", ".yml")):
        return replace(robot_from_yaml(name), **overrides) if overrides else robot_from_yaml(name)
    if name not in ROBOTS:
        raise ConfigError(unknown_name("robot", name, sorted(ROBOTS), "the robot registry"))
    return replace(ROBOTS[name], **overrides) if overrides else ROBOTS[name]


def robot_from_yaml(path: str) -> RobotSpec:
    """Read a RobotSpec from YAML; a missing file, bad YAML or unknown field is a :class:`RobotSpecError`."""
    from dataclasses import fields
    from pathlib import Path

    import yaml

    from stridelab.errors import RobotSpecError, did_you_mean

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
    data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return RobotSpec(**data)
    except TypeError as exc:
        raise RobotSpecError(f"robot spec {path!r} is incomplete ({exc}); give at least name, source, joint_names, "
                             f"default_pose, kp, kd, base_body and feet.") from None
