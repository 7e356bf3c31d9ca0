"""RobotSpec: everything the tasks need to know about a robot, independent of its file format."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stridelab.errors import RobotSpecError


@dataclass(frozen=True)
class RobotSpec:
    """Description of a legged robot for stridelab.

    All per-joint tuples follow ``joint_names`` (the policy's action order).

    Attributes:
        name: short name, used in run directories.
        source: where the model comes from: ``builtin:NAME``, ``menagerie:NAME[/ENTRY]``, or a path
            to an MJCF (``.xml``) or URDF (``.urdf``) file.
        joint_names: actuated joints in action order. Shape: (num_joints,).
            ``default_pose``, ``kp``, ``kd`` and ``torque_limits`` may also be given as one number for
            every joint, or as a mapping from joint-name pattern to value (``{"hip": 20, "calf": 25}``,
            ``{".*_hip_joint": 0.1}``); they are stored as one value per joint.
        default_pose: joint angles of the standing pose [rad]; actions are offsets from it.
        kp: PD stiffness per joint [N m/rad].
        kd: PD damping per joint [N m s/rad].
        torque_limits: per joint [N m]; ``None`` takes them from the motors' control ranges.
        base_body: the floating base body (the one with the free joint).
        feet: the feet, each a body (link) name (its collision geoms) or a geom name; their ground
            contacts drive gait terms.
        terminate_contacts: bodies or geoms whose contact ends an episode.
        penalize_contacts: bodies or geoms whose contact is penalized (collision reward).
        mirror_perm: left/right mirror map: joint ``i`` of the mirrored robot is joint
            ``mirror_perm[i]`` of this one, times ``mirror_sign[i]``.
        mirror_sign: +1/-1 per joint, see ``mirror_perm``.
        feet_mirror_perm: the feet's left/right permutation.
        init_height: base height at reset [m].
        base_height_target: nominal base height while walking [m].
        action_scale: joint target offset per unit action [rad].
        mesh_dir: folder that ``package://`` mesh paths of a URDF are resolved against (besides the
            file's own folder and its parents).
        limit_collisions: if True, only feet, terminate and penalize bodies collide with the world
            and the robot never collides with itself (fast contacts).
        timestep: physics time step [s] replacing the model file's (``None``: the file's). Many published
            files use MuJoCo's default 0.002 s; with the task's 4 substeps that is a 125 Hz policy, not
            the 50 Hz (0.005 s x 4) the tasks are tuned for.
        option: MuJoCo ``<option>`` settings replacing the model file's, by name (``{"cone": "pyramidal",
            "impratio": 1, "iterations": 10}``); enums by their MJCF names. For speed: many published files
            use elliptic friction cones with a high impratio, about twice as costly per step as pyramidal.
        fixed_joints: joints held rigidly at an angle [rad] (or position [m]), e.g. a humanoid's upper body
            while its legs walk: joint-name patterns (as for ``kp``), each with its angle, or a list of
            patterns held at 0 (the model's reference pose). They are removed from the model, so they cost
            nothing; a fixed joint cannot also be in ``joint_names``.
        reward_weights: reward term name -> weight, for the few weights a robot must have that differ from the
            task's (the tasks' defaults are normalized by the robot's torque limits, weight and leg length, so
            that most robots need none). They replace the task's weight unless the command line sets that term
            (:func:`stridelab.tasks.registry.with_robot_weights`). Sorted (name, weight) pairs once read.
    """

    name: str
    source: str
    joint_names: tuple[str, ...]
    default_pose: tuple[float, ...]
    kp: tuple[float, ...]
    kd: tuple[float, ...]
    base_body: str
    feet: tuple[str, ...]
    terminate_contacts: tuple[str, ...] = ()
    penalize_contacts: tuple[str, ...] = ()
    torque_limits: tuple[float, ...] | None = None
    mirror_perm: tuple[int, ...] | None = None
    mirror_sign: tuple[float, ...] | None = None
    feet_mirror_perm: tuple[int, ...] | None = None
    init_height: float = 0.35
    base_height_target: float = 0.3
    action_scale: float = 0.25
    limit_collisions: bool = False
    mesh_dir: str | None = None
    timestep: float | None = None
    fixed_joints: tuple[tuple[str, float], ...] = ()
    option: tuple[tuple[str, object], ...] = ()
    reward_weights: tuple[tuple[str, float], ...] = ()
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if n == 0:
            raise RobotSpecError(f"robot {self.name!r} names no joints; list its actuated joints in joint_names.")
        for attr in PER_JOINT:
            value = getattr(self, attr)
            if value is not None:
                object.__setattr__(self, attr, per_joint_values(value, self.joint_names, attr, self.name))
        for attr in ("default_pose", "kp", "kd", "torque_limits", "mirror_perm", "mirror_sign"):
            value = getattr(self, attr)
            if value is not None and len(value) != n:
                raise RobotSpecError(
                    f"robot {self.name!r}: {attr} has {len(value)} entries but there are {n} joints; "
                    f"give one value per joint in joint_names."
                )
        if len(set(self.joint_names)) != n:
            raise RobotSpecError(f"robot {self.name!r}: joint_names lists a joint twice; name each joint once.")
        if not self.feet:
            raise RobotSpecError(f"robot {self.name!r} names no feet; list the foot bodies (links) or geoms in feet.")
        if self.mirror_perm is not None:
            if sorted(self.mirror_perm) != list(range(n)):
                raise RobotSpecError(
                    f"robot {self.name!r}: mirror_perm must be a permutation of 0..{n - 1}; fix the mirror map."
                )
        if self.timestep is not None and not 0.0 < self.timestep <= 0.02:
            raise RobotSpecError(f"robot {self.name!r}: timestep = {self.timestep} s is out of range; use a physics "
                                 f"step in (0, 0.02] s, e.g. 0.005.")
        object.__setattr__(self, "fixed_joints", _fixed_joint_pairs(self.fixed_joints, self.name))
        object.__setattr__(self, "option", _option_pairs(self.option, self.name))
        object.__setattr__(self, "reward_weights", _weight_pairs(self.reward_weights, self.name))
        if any(k < 0 for k in self.kp) or any(k < 0 for k in self.kd):
            raise RobotSpecError(f"robot {self.name!r}: kp and kd must be non-negative; fix the gains.")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)


PER_JOINT = ("default_pose", "kp", "kd", "torque_limits")


def per_joint_values(value, joint_names: tuple[str, ...], field_name: str, robot: str) -> tuple[float, ...]:
    """One value per joint from a scalar, a sequence, or a mapping of joint-name patterns to values.

    A pattern matches a joint if it is a regular expression that matches the whole name
    (``".*_hip_joint"``), or a plain word contained in it (``hip``), as in Isaac Lab and legged_gym
    configs. Each joint must match exactly one pattern.
    """
    if isinstance(value, bool):
        raise RobotSpecError(f"robot {robot!r}: {field_name} = {value!r} is not a number; give a number per joint.")
    if isinstance(value, (int, float)):
        return (float(value),) * len(joint_names)
    if isinstance(value, dict):
        out = []
        for joint in joint_names:
            hits = [k for k in value if _matches(str(k), joint)]
            if len(hits) != 1:
                problem = "matches none of" if not hits else f"matches several ({', '.join(map(repr, hits))}) of"
                raise RobotSpecError(f"robot {robot!r}: joint {joint!r} {problem} the {field_name} patterns "
                                     f"{', '.join(map(repr, value))}; give exactly one pattern per joint.")
            out.append(float(value[hits[0]]))
        return tuple(out)
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise RobotSpecError(f"robot {robot!r}: {field_name} = {value!r} is not a number, a list of numbers or a "
                             f"mapping of joint patterns to numbers.") from None


def _fixed_joint_pairs(value, robot: str) -> tuple[tuple[str, float], ...]:
    """``fixed_joints`` as (pattern, value) pairs from a mapping, a list of patterns (held at 0) or pairs."""
    items = value.items() if isinstance(value, dict) else [(v, 0.0) if isinstance(v, str) else v for v in value]
    try:
        return tuple((str(k), float(v)) for k, v in items)
    except (TypeError, ValueError):
        raise RobotSpecError(f"robot {robot!r}: fixed_joints = {value!r} is not a list of joint patterns or a "
                             f"mapping of joint patterns to angles; fix it.") from None


_OPTION_ENUMS = {"cone": ("pyramidal", "elliptic"), "integrator": ("Euler", "RK4", "implicit", "implicitfast"),
                 "solver": ("PGS", "CG", "Newton"), "jacobian": ("dense", "sparse", "auto")}
_OPTION_NUMBERS = ("impratio", "iterations", "ls_iterations", "tolerance", "ls_tolerance", "noslip_iterations",
                   "noslip_tolerance", "ccd_iterations", "ccd_tolerance")


def _weight_pairs(value, robot: str) -> tuple[tuple[str, float], ...]:
    """``reward_weights`` as sorted (term name, weight) pairs; a weight that is not a number is an error."""
    items = value.items() if isinstance(value, dict) else value
    out = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise RobotSpecError(f"robot {robot!r}: reward_weights must map reward term names to numbers, e.g. "
                                 f"{{torques_normalized_l2: -2.0}}.")
        name, weight = item
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise RobotSpecError(f"robot {robot!r}: reward_weights {name} = {weight!r} is not a number; give the "
                                 f"term's weight as a number.")
        out.append((str(name), float(weight)))
    return tuple(sorted(out))


def _option_pairs(value, robot: str) -> tuple[tuple[str, object], ...]:
    """``option`` as sorted (name, value) pairs, enums as their index; unknown names or values are errors."""
    items = value.items() if isinstance(value, dict) else value
    out = []
    for name, v in items:
        if name in _OPTION_ENUMS:
            names = _OPTION_ENUMS[name]
            if isinstance(v, str) and v in names:
                v = names.index(v)
            elif not (isinstance(v, int) and 0 <= v < len(names)):
                raise RobotSpecError(f"robot {robot!r}: option {name} = {v!r} is unknown; use one of "
                                     f"{', '.join(names)}.")
        elif name in _OPTION_NUMBERS:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise RobotSpecError(f"robot {robot!r}: option {name} = {v!r} must be a number >= 0.")
        else:
            raise RobotSpecError(f"robot {robot!r}: option {name!r} is not supported; use one of "
                                 f"{', '.join(sorted((*_OPTION_ENUMS, *_OPTION_NUMBERS)))} (the timestep has "
                                 f"its own field).")
        out.append((str(name), v))
    return tuple(sorted(out))


def joint_matches(pattern: str, joint: str) -> bool:
    """Whether a per-joint ``pattern`` (a plain word contained in the name, or a regular expression that
    matches the whole name) selects ``joint``."""
    return _matches(pattern, joint)


def _matches(pattern: str, joint: str) -> bool:
    if re.fullmatch(r"\w+", pattern):
        return pattern in joint
    try:
        return re.fullmatch(pattern, joint) is not None
    except re.error:
        return False
