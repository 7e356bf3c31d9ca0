"""The identifiable parameters: what each name means, its unit, its bounds, and how it is written into a
simulation (through the simulator's per-env physical parameters, :mod:`stridelab.sim.physics`).

Every parameter is one number for the whole robot (the same for every joint or foot), so a log of a few
seconds determines it:

================  ==================  ===========  ===============================================================
name              unit                nominal      written as
================  ==================  ===========  ===============================================================
friction          N m                 the model's  every actuated joint's dry friction (``joint_frictionloss``)
damping           N m s/rad           the model's  every actuated joint's passive viscous damping (``joint_damping``)
armature          kg m^2              the model's  every actuated joint's reflected rotor inertia (``joint_armature``)
motor_strength    factor              1            the PD torque's factor: kp and kd times it (as the training
                                                   randomization ``motor_strength``)
kp                factor              1            the logged kp times it (times ``motor_strength``)
kd                factor              1            the logged kd times it (times ``motor_strength``)
latency           physics substeps    0            the delay of the PD targets (``action_delay``), a whole number
base_mass         kg                  0            mass added to the base (``base_mass`` = the model's + it)
foot_friction     -                   the model's  every foot's friction coefficient (``foot_friction``)
================  ==================  ===========  ===============================================================

A vector of values (one per fitted name, in the order given) is a candidate; the others stay at their nominal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stridelab.errors import ConfigError


@dataclass(frozen=True)
class ParamSpec:
    """One identifiable parameter (module docstring).

    Attributes:
        name: as in ``--params``.
        unit: of its value.
        bounds: the search range (low, high), in its unit.
        scale: its typical size, for the optimizers' scaling.
        integer: a whole number (latency).
    """

    name: str
    unit: str
    bounds: tuple[float, float]
    scale: float
    integer: bool = False


PARAMS: dict[str, ParamSpec] = {p.name: p for p in (
    ParamSpec("friction", "N m", (0.0, 1.0), 0.1),
    ParamSpec("damping", "N m s/rad", (0.0, 2.0), 0.1),
    ParamSpec("armature", "kg m^2", (0.0, 0.1), 0.01),
    ParamSpec("motor_strength", "factor", (0.5, 1.5), 0.1),
    ParamSpec("kp", "factor", (0.5, 1.5), 0.1),
    ParamSpec("kd", "factor", (0.2, 3.0), 0.1),
    ParamSpec("latency", "substeps", (0.0, 10.0), 1.0, integer=True),
    ParamSpec("base_mass", "kg", (-3.0, 5.0), 0.5),
    ParamSpec("foot_friction", "-", (0.1, 2.0), 0.1),
)}


def parse_params(names: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The fitted names, in order (``"friction,damping"`` or a sequence).

    Raises:
        ConfigError: an unknown or repeated name (one sentence with the valid ones).
    """
    from stridelab.errors import did_you_mean

    items = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    for n in items:
        if n not in PARAMS:
            raise ConfigError(f"--params names {n!r}, which is not an identifiable parameter{did_you_mean(n, PARAMS)}; "
                              f"use names from {', '.join(PARAMS)}.")
    if len(set(items)) != len(items) or not items:
        raise ConfigError(f"--params {','.join(items)}: give each parameter once, at least one.")
    return tuple(items)


class Writer:
    """Writes candidate values into a simulator's envs.

    Args:
        physics: the simulator's :class:`~stridelab.sim.physics.PhysicsParams`.
        sim: the :class:`~stridelab.sim.simulator.BatchSimulator` (for the latency).
        names: the fitted names, in the order of a candidate's values.
    """

    def __init__(self, sim, names: tuple[str, ...]) -> None:
        self.sim, self.physics, self.names = sim, sim.physics, tuple(names)
        self.nominal = {k: self.physics.nominal(k) for k in ("joint_frictionloss", "joint_damping", "joint_armature",
                                                             "base_mass", "foot_friction")}

    def nominal_values(self) -> np.ndarray:
        """The nominal candidate (every fitted name at the model's value). Shape: (D,)."""
        table = {"friction": self.nominal["joint_frictionloss"][0], "damping": self.nominal["joint_damping"][0],
                 "armature": self.nominal["joint_armature"][0], "foot_friction": self.nominal["foot_friction"][0],
                 "motor_strength": 1.0, "kp": 1.0, "kd": 1.0, "latency": 0.0, "base_mass": 0.0}
        return np.array([table[n] for n in self.names], dtype=np.float64)

    def write(self, ids: np.ndarray, values: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Write ``values`` (Shape: (k, D), one row per env of ``ids``) with the logged gains ``kp``, ``kd``
        (Shape: (k, J))."""
        v = dict(zip(self.names, np.asarray(values, dtype=np.float64).T))
        k = len(ids)
        strength = v.get("motor_strength", np.ones(k))[:, None]
        self.physics.set("kp", ids, kp * strength * v.get("kp", np.ones(k))[:, None])
        self.physics.set("kd", ids, kd * strength * v.get("kd", np.ones(k))[:, None])
        joints = kp.shape[1]
        for name, field in (("friction", "joint_frictionloss"), ("damping", "joint_damping"),
                            ("armature", "joint_armature")):
            if name in v:
                self.physics.set(field, ids, np.repeat(np.maximum(v[name], 0.0)[:, None], joints, axis=1))
        if "foot_friction" in v:
            feet = len(self.nominal["foot_friction"])
            self.physics.set("foot_friction", ids, np.repeat(np.maximum(v["foot_friction"], 0.0)[:, None], feet, 1))
        if "base_mass" in v:
            self.physics.set("base_mass", ids, np.maximum(self.nominal["base_mass"][0] + v["base_mass"], 1e-3)[:, None])
        self.sim.set_delay(ids, np.rint(np.clip(v.get("latency", np.zeros(k)), 0, None)))
        self.physics.flush()


def bounds_of(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The search box of the fitted names. Shapes: (D,), (D,)."""
    return (np.array([PARAMS[n].bounds[0] for n in names]), np.array([PARAMS[n].bounds[1] for n in names]))
