"""Observation terms: functions of a :class:`~stridelab.mdp.state.RobotState` -> ``(n, k)``.

Each term carries a whole description (:func:`~stridelab.mdp.describe.described`, or a class term's
``description()``): what each value is, its order, units and frame, and its rules with the configured
values; ``policy.json`` copies it into the term's ``description``, for clients outside stridelab. Terms of the
``policy`` group must read only the proprioceptive fields of the state (the ones a robot measures),
because the deploy runtime builds the same vector from robot signals with this same code.
Scales, noise and clipping are set per term in the task config, not here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stridelab.errors import ConfigError

from stridelab.mdp import symmetry as sym
from stridelab.mdp.describe import described
from stridelab.mdp.ceiling_scan import ceiling_scan  # noqa: F401 - a term of this module's kind
from stridelab.mdp.height_scan import height_scan  # noqa: F401 - a term of this module's kind
from stridelab.mdp.state import RobotState, commanded

#: terms defined in modules of their own, looked up here by their bare names
REEXPORTED_TERMS = ("height_scan", "ceiling_scan")


@described("3 values: the base's linear velocity (vx forward, vy left, vz up) in the base frame [m/s], i.e. the world "
           "velocity of the base body's origin rotated into the base frame (in MuJoCo the free joint's qvel[0:3] "
           "rotated by the inverse of the base orientation; on a robot a state estimator's output).")
@sym.mirrored(sym.vector(1, -1, 1))
def base_lin_vel(s: RobotState) -> np.ndarray:
    """Base linear velocity in the base frame [m/s] (simulation or a state estimator)."""
    return s.base_lin_vel


@described("3 values: the base's angular velocity (wx, wy, wz) about the base frame's x (forward), y (left) and z "
           "(up) axes [rad/s], as a gyroscope fixed to the base measures it (in MuJoCo the free joint's qvel[3:6], "
           "which is already in the base frame).")
@sym.mirrored(sym.vector(-1, 1, -1))
def base_ang_vel(s: RobotState) -> np.ndarray:
    """Base angular velocity in the base frame [rad/s] (IMU gyro)."""
    return s.base_ang_vel


@described("3 values: the direction of gravity, the world's (0, 0, -1), expressed in the base frame (x forward, y "
           "left, z up), unitless: for the base orientation quaternion (w, x, y, z) it is (2 (w y - x z), "
           "-2 (y z + w x), -(1 - 2 (x^2 + y^2))), which reads (0, 0, -1) when the base is level.")
@sym.mirrored(sym.vector(1, -1, 1))
def projected_gravity(s: RobotState) -> np.ndarray:
    """Unit gravity direction in the base frame (from the IMU orientation)."""
    return s.projected_gravity


@described("3 values: the velocity command the policy tracks, vx [m/s] forward and vy [m/s] to the left in the "
           "base's heading frame, then the yaw rate wz [rad/s], positive counter-clockwise seen from above; "
           "policy.json's commands section gives the trained ranges.")
@sym.mirrored(sym.vector(1, -1, -1))
def velocity_commands(s: RobotState) -> np.ndarray:
    """Velocity command (vx [m/s], vy [m/s], yaw rate [rad/s]) in the base frame."""
    return s.commands


@described("One value per joint, in the order of policy.json's joint_names: the joint angle minus the joint's "
           "default_joint_pos entry [rad].")
@sym.mirrored(sym.joints)
def joint_pos_rel(s: RobotState) -> np.ndarray:
    """Joint angles minus the default pose [rad], in the policy's joint order."""
    return s.joint_pos - s.default_joint_pos


@described("One value per joint, in the order of policy.json's joint_names: the joint's angular velocity [rad/s].")
@sym.mirrored(sym.joints)
def joint_vel(s: RobotState) -> np.ndarray:
    """Joint velocities [rad/s], in the policy's joint order."""
    return s.joint_vel


@described("One value per joint, in the order of policy.json's joint_names: the policy's previous output after the "
           "action term's clipping (for joint_position: clip(action, -clip, clip) with the action section's clip; "
           "for the ETG action: clip(action, -1, 1)), in the action's own units; all zero at the first step of an "
           "episode.")
@sym.mirrored(sym.joints)
def last_action(s: RobotState) -> np.ndarray:
    """The previous policy output after the action term's clipping."""
    return s.actions


@described("One value per foot, in the order of policy.json's robot.feet: 1 while the foot touches anything (any "
           "contact of the foot's body or geom), 0 otherwise.")
@sym.mirrored(sym.feet)
def foot_contact(s: RobotState) -> np.ndarray:
    """Foot contact flags (1: touching), in the order of the robot's feet."""
    return s.foot_contact.astype(np.float64)


def _feet_twice(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Two blocks of one value per foot (sin, then cos): the feet permutation in each block."""
    perm, sign = sym.feet(spec, size // 2)
    return np.concatenate([perm, perm + size // 2]), np.concatenate([sign, sign])


def _gait_clock_description(params: dict, env: Any) -> str:
    """The gait clock observation with its standing threshold and, when the env has the clock, its phase rule."""
    m = float(params["min_command"])
    gait = getattr(getattr(env, "commands", None), "gait", None)
    feet = list(getattr(getattr(getattr(env, "robot", None), "spec", None), "feet", ()))
    order = f" ({', '.join(feet)})" if feet else ""
    rule = (gait.phase_rule() if gait is not None else
            "Foot f's phase in [0, 1) is the gait clock's, described by policy.json's gait section.")
    settle = gait.settle_rule() if gait is not None else ""
    return (f"2 x F values for F feet in the order of policy.json's robot.feet{order}: sin(2 pi phase_f) for every "
            f"foot, then cos(2 pi phase_f) for every foot, unitless. {rule} All 2 x F values are 0 while the robot is "
            f"told to stand, that is while the planar command speed sqrt(vx^2 + vy^2) is below {m:g} m/s and the "
            f"yaw-rate command |wz| is below {m:g} rad/s (min_command = {m:g}); the clock keeps running meanwhile."
            + (f" {settle}" if settle else ""))


@described(_gait_clock_description)
@sym.mirrored(_feet_twice)
def gait_clock(s: RobotState, min_command: float = 0.1) -> np.ndarray:
    """sin and cos of 2 pi x each foot's gait-clock phase (sin for every foot, then cos); all zero while
    the velocity command is below ``min_command`` (stand: no gait); unitless."""
    if s.gait_phase is None:
        raise ConfigError("observation term gait_clock needs a gait clock; add a 'gait_clock' command to the "
                          "task's commands (e.g. --env.commands.gait.func gait_clock).")
    angle = 2.0 * np.pi * s.gait_phase
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1) * commanded(s, min_command)[:, None]


@described("1 value: the gait clock's stepping frequency at this step minus the nominal {nominal:g} Hz [Hz] (the "
           "commanded frequency, raised with the speed when policy.json's gait section has a max_step_length).")
@sym.mirrored(sym.scalar)
def gait_frequency(s: RobotState, nominal: float = 0.0) -> np.ndarray:
    """The gait clock's stepping frequency minus ``nominal`` [Hz] (a command: apex's ``phase_add``).
    Shape: (n, 1)."""
    if s.gait_frequency is None:
        raise ConfigError("observation term gait_frequency needs a gait clock; add a 'gait_clock' command to the "
                          "task's commands.")
    return (s.gait_frequency - nominal)[:, None]


class randomized_parameters:  # noqa: N801 - a term, named like the function terms
    """Every randomized physical quantity of the task (friction, masses, gains, latency, pushes, ...).

    Only the quantities whose randomization is on are present, so the group has no constant
    dimension; ``describe()`` lists them (name, size, scale) for ``policy.json``. Each randomizer gives the
    scale of its quantities (e.g. the centre-of-mass offset x 10); ``scales`` overrides them by name.
    """

    def __init__(self, env: Any, scales: dict[str, float] | None = None) -> None:
        self.events = env.events
        self.rules = self.events.privileged_rules()
        self.scales = {**{name: scale for name, (_, scale) in self.rules.items()}, **(scales or {})}
        self.parts = [(name, v.shape[1]) for name, v in self.events.privileged().items()]
        self.meanings = self.events.privileged_meanings() if hasattr(self.events, "privileged_meanings") else {}

    def __call__(self, s: RobotState) -> np.ndarray:
        values = self.events.privileged()
        if not values:
            return np.zeros((len(s.base_quat), 0))
        return np.concatenate([values[name] * self.scales.get(name, 1.0) for name, _ in self.parts], axis=1)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless: the events own the values."""

    def describe(self) -> list[dict]:
        return [{"name": name, "size": size, "scale": self.scales.get(name, 1.0),
                 "meaning": self.meanings.get(name, "")} for name, size in self.parts]

    def description(self) -> str:
        """The parts in order, each with its size, meaning and scale."""
        if not self.parts:
            return "No values: no physical quantity of the task is randomized."
        listed = "; ".join(f"{name} ({size} value{'s' if size > 1 else ''}: {self.meanings.get(name) or name}, "
                           f"times {self.scales.get(name, 1.0):g})" for name, size in self.parts)
        return (f"Simulation only: the randomized physical quantities in force, parts concatenated in this order: "
                f"{listed}. Factors are unitless (1: nominal).")

    def mirror(self, spec, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Each part mirrors by its randomizer's rule: per-foot and per-joint values swap sides, y components
        flip."""
        perms, signs, offset = [], [], 0
        for name, n in self.parts:
            rule = self.rules.get(name, (None, 1.0))[0]
            if rule is None:
                raise ConfigError(f"randomized parameter {name!r} has no mirror rule; give its randomizer a "
                                  f"'mirrors' entry for it or turn symmetry off.")
            p, s = rule(spec, n)
            perms.append(np.asarray(p) + offset)
            signs.append(np.asarray(s, dtype=np.float64))
            offset += n
        return (np.concatenate(perms), np.concatenate(signs)) if perms else (np.zeros(0, int), np.zeros(0))
