"""Domain randomization: per-env physical parameters sampled at every reset and written through the
simulator's parameter table (:mod:`stridelab.sim.physics`, ``Batch.expand``).

Each class samples at the reset of the envs it is called with (mode ``reset``) and exposes what it sampled
through ``privileged()`` (name -> (num_envs, k) array) for the privileged observation group, with a mirror
rule and an observation scale per name. A class whose ranges are all neutral (a factor range of (1, 1), an
offset range of (0, 0)) reports ``enabled = False`` and is dropped: it expands no model field, draws no
random number and adds no observation.

Ranges are (low, high) of a uniform draw. Each task cites where its ranges come from (``tasks/rough.py``).
A randomizer's ``strength`` in [0, 1] pulls its draws towards the nominal robot (``nominal + strength * (draw -
nominal)``); it is 1 (the config's ranges) unless a ``randomization_strength`` curriculum term ramps it.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import torch

from stridelab.errors import ConfigError
from stridelab.mdp import symmetry as sym
from stridelab.sim.physics import link_bodies

Range = tuple[float, float]
NEUTRAL_FACTOR = (1.0, 1.0)
NEUTRAL_OFFSET = (0.0, 0.0)


def _range(name: str, value: Any, lo: float = float("-inf")) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or value[0] > value[1] or value[0] < lo:
        raise ConfigError(f"event parameter {name} = {value!r} is not a valid range; give (low, high) with "
                          f"low <= high" + (f" and low >= {lo}" if lo > float("-inf") else "") + ".")
    return float(value[0]), float(value[1])


class _Randomizer:
    """Per-env sampled values with exact-resume state, mirror rules and observation scales by name."""

    values: dict[str, np.ndarray]
    mirrors: dict[str, sym.MirrorFn] = {}
    scales: dict[str, float] = {}
    meanings: dict[str, str] = {}  # what each privileged quantity's values are, with units (for policy.json)
    strength: float = 1.0  # set by the randomization_strength curriculum term; 1: the config's ranges

    def _draw(self, bounds: Range, size: tuple[int, ...], nominal: float = 1.0) -> np.ndarray:
        """Uniform draws in ``bounds``, pulled towards ``nominal`` by ``strength``. Shape: ``size``.

        The same random numbers are drawn at every strength, so a ramp does not shift the env's random stream."""
        u = self.env.rng.uniform(*bounds, size=size)
        return u if self.strength >= 1.0 else nominal + self.strength * (u - nominal)

    def privileged(self) -> dict[str, np.ndarray]:
        return self.values

    def reset(self, env_ids: np.ndarray) -> None:
        """Sampling happens when the event fires."""

    def state_dict(self) -> dict:
        return {k: torch.from_numpy(v.copy()) for k, v in self.values.items()}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            self.values[k][:] = v.numpy()


def _joint_count_mirror(what: str) -> sym.MirrorFn:
    """Per-joint magnitudes (the joint permutation, no sign change), checking the size."""
    def mirror(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
        if size != spec.num_joints:
            raise ConfigError(f"{what} has {size} values for {spec.num_joints} joints; it cannot be mirrored "
                              f"(group the links, or turn symmetry off).")
        return sym.joint_magnitudes(spec, size)
    return mirror


class randomize_friction(_Randomizer):  # noqa: N801 - a term, named like the function terms
    """Foot friction coefficient, one value per env for all foot geoms (privileged: one per foot)."""

    mirrors = {"friction": sym.feet}
    meanings = {"friction": "the friction coefficient of each foot, in the order of robot.feet (one draw for all feet)"}

    def __init__(self, env: Any, range: Range = (0.5, 1.25)) -> None:  # noqa: A002 - the config's word
        self.range = _range("randomize_friction.range", range, lo=0.0)
        self.env = env
        self.enabled = True  # a (mu, mu) range still sets every foot to mu
        nominal = env.sim.physics.nominal("foot_friction")
        self._mu0 = float(np.mean(nominal))
        self.values = {"friction": np.broadcast_to(nominal, (env.num_envs, env.robot.num_feet)).copy()}

    def __call__(self, env_ids: np.ndarray) -> None:
        mu = self._draw(self.range, (len(env_ids), 1), self._mu0)
        self.values["friction"][env_ids] = mu
        self.env.sim.physics.set("foot_friction", env_ids, np.broadcast_to(mu, (len(env_ids), self.env.robot.num_feet)))


class randomize_base_mass(_Randomizer):  # noqa: N801
    """Mass added to the base [kg], a shift of its centre of mass [m] per axis and factors of its principal
    moments of inertia (x, y, z), each drawn independently. They act on the body of the base's rigid group that
    carries its mass (``LoadedRobot.base_mass_body``: the base, or the heavy link welded to an empty root link)."""

    mirrors = {"added_mass": sym.scalar, "com_offset": sym.vector(1, -1, 1), "base_inertia": sym.scalar}
    scales = {"com_offset": 10.0}
    meanings = {"added_mass": "the mass added to the base [kg]",
                "com_offset": "the shift of the base's centre of mass along the base frame's x, y and z [m]",
                "base_inertia": "the factors of the base's principal moments of inertia about x, y and z"}

    def __init__(self, env: Any, added_mass: Range = (-1.0, 1.0), com_offset: Range = NEUTRAL_OFFSET,
                 inertia_factor: Range = NEUTRAL_FACTOR) -> None:
        self.added_mass = _range("randomize_base_mass.added_mass", added_mass)
        self.com_offset = _range("randomize_base_mass.com_offset", com_offset)
        self.inertia_factor = _range("randomize_base_mass.inertia_factor", inertia_factor, lo=0.0)
        self.env = env
        physics, n = env.sim.physics, env.num_envs
        self._mass0 = float(physics.nominal("base_mass")[0])
        if self.added_mass[0] <= -self._mass0:
            raise ConfigError(f"randomize_base_mass.added_mass = {added_mass!r} would make the base mass zero or "
                              f"negative (the base and the links welded to it carry {self._mass0:.4g} kg); give a "
                              f"low above {-self._mass0:.4g}.")
        self._ipos0 = physics.nominal("base_com")
        self._inertia0 = physics.nominal("base_inertia")
        self.values = {}
        if self.added_mass != NEUTRAL_OFFSET:
            self.values["added_mass"] = np.zeros((n, 1))
        if self.com_offset != NEUTRAL_OFFSET:
            self.values["com_offset"] = np.zeros((n, 3))
        if self.inertia_factor != NEUTRAL_FACTOR:
            self.values["base_inertia"] = np.ones((n, 3))
        self.enabled = bool(self.values)

    def __call__(self, env_ids: np.ndarray) -> None:
        k, physics = len(env_ids), self.env.sim.physics
        if "added_mass" in self.values:
            self.values["added_mass"][env_ids] = self._draw(self.added_mass, (k, 1), 0.0)
            physics.set("base_mass", env_ids, self._mass0 + self.values["added_mass"][env_ids])
        if "com_offset" in self.values:
            self.values["com_offset"][env_ids] = self._draw(self.com_offset, (k, 3), 0.0)
            physics.set("base_com", env_ids, self._ipos0 + self.values["com_offset"][env_ids])
        if "base_inertia" in self.values:
            self.values["base_inertia"][env_ids] = self._draw(self.inertia_factor, (k, 3))
            physics.set("base_inertia", env_ids, self._inertia0 * self.values["base_inertia"][env_ids])


class randomize_link_mass(_Randomizer):  # noqa: N801
    """Factors of the leg links' masses (the bodies moved by the actuated joints), one per link or one per
    group of links. The link's inertia is scaled by the same factor (a change of density, as Isaac Lab's
    ``recompute_inertia``), so the mass stays consistent with its inertia.

    ``groups``: link-name patterns (a plain word matches as a substring, anything else is a regular expression
    matched against the whole body name); every link must match exactly one, and the links of a group share
    one factor (e.g. ``("hip", "thigh", "calf")``: ETG-RL's three leg-mass ratios). Empty: one factor per link.
    Privileged ``link_mass``: the factors, one per group (or per link, in joint order).
    """

    def __init__(self, env: Any, factor: Range = NEUTRAL_FACTOR, groups: tuple[str, ...] = ()) -> None:
        self.factor = _range("randomize_link_mass.factor", factor, lo=0.0)
        self.env = env
        physics, model = env.sim.physics, env.robot.model
        self.links = link_bodies(env.robot)
        names = [model.body(int(b)).name for b in self.links]
        if groups:
            self.group_of = np.array([_group_of(name, tuple(groups)) for name in names])
            self.mirrors = {"link_mass": sym.scalar}  # a group holds the left and right links alike
        else:
            self.group_of = np.arange(len(self.links))
            self.mirrors = {"link_mass": _joint_count_mirror("randomize_link_mass (one factor per link)")}
        self.meanings = {"link_mass": "the mass (and inertia) factor of each leg link" + (
            f", one per group of links ({', '.join(groups)})" if groups else
            f", one per link ({', '.join(names)})")}
        self._mass0 = physics.nominal("link_mass")
        self._inertia0 = physics.nominal("link_inertia").reshape(-1, 3)
        self.enabled = self.factor != NEUTRAL_FACTOR
        self.values = {"link_mass": np.ones((env.num_envs, int(self.group_of.max()) + 1))} if self.enabled else {}

    def __call__(self, env_ids: np.ndarray) -> None:
        k = len(env_ids)
        f = self._draw(self.factor, (k, self.values["link_mass"].shape[1]))
        self.values["link_mass"][env_ids] = f
        per_link = f[:, self.group_of]  # (k, L)
        physics = self.env.sim.physics
        physics.set("link_mass", env_ids, self._mass0 * per_link)
        physics.set("link_inertia", env_ids, (self._inertia0[None] * per_link[:, :, None]).reshape(k, -1))


def _group_of(name: str, groups: tuple[str, ...]) -> int:
    def matches(pattern: str) -> bool:
        if re.fullmatch(r"\w+", pattern):
            return pattern in name
        try:
            return re.fullmatch(pattern, name) is not None
        except re.error:
            return False
    hits = [i for i, g in enumerate(groups) if matches(g)]
    if len(hits) != 1:
        problem = "matches none" if not hits else f"matches several ({', '.join(groups[i] for i in hits)})"
        raise ConfigError(f"randomize_link_mass: link {name!r} {problem} of the groups {list(groups)}; give one "
                          f"pattern per group so that every leg link matches exactly one.")
    return hits[0]


class randomize_actuator_gains(_Randomizer):  # noqa: N801
    """Per-joint factors of the PD torque (motor strength), of kp and of kd."""

    mirrors = {"motor_strength": sym.joint_magnitudes, "kp_factor": sym.joint_magnitudes,
               "kd_factor": sym.joint_magnitudes}
    meanings = {"motor_strength": "the factor of each joint's PD torque, in the order of joint_names",
                "kp_factor": "the factor of each joint's kp, in the order of joint_names",
                "kd_factor": "the factor of each joint's kd, in the order of joint_names"}

    def __init__(self, env: Any, motor_strength: Range = NEUTRAL_FACTOR, kp_factor: Range = NEUTRAL_FACTOR,
                 kd_factor: Range = NEUTRAL_FACTOR) -> None:
        self.ranges = {name: _range(f"randomize_actuator_gains.{name}", r, lo=0.0) for name, r in
                       (("motor_strength", motor_strength), ("kp_factor", kp_factor), ("kd_factor", kd_factor))}
        self.env = env
        n, j = env.num_envs, env.num_actions
        self.values = {name: np.ones((n, j)) for name, r in self.ranges.items() if r != NEUTRAL_FACTOR}
        self.enabled = bool(self.values)
        self._kp = env.sim.physics.nominal("kp")
        self._kd = env.sim.physics.nominal("kd")

    def __call__(self, env_ids: np.ndarray) -> None:
        k, j = len(env_ids), self.env.num_actions
        for name in self.values:
            self.values[name][env_ids] = self._draw(self.ranges[name], (k, j))
        one = np.ones((k, j))
        strength = self.values["motor_strength"][env_ids] if "motor_strength" in self.values else one
        kp = self._kp * strength * (self.values["kp_factor"][env_ids] if "kp_factor" in self.values else one)
        kd = self._kd * strength * (self.values["kd_factor"][env_ids] if "kd_factor" in self.values else one)
        self.env.sim.physics.set("kp", env_ids, kp)
        self.env.sim.physics.set("kd", env_ids, kd)


class randomize_joint_dynamics(_Randomizer):  # noqa: N801
    """Passive joint dynamics of the actuated joints, per joint: factors of the model's damping [N m s/rad] and
    armature (reflected rotor inertia) [kg m^2], and a dry friction (``frictionloss``) [N m] added to the model's.

    Privileged: ``joint_damping`` and ``joint_armature`` (the factors) and ``joint_frictionloss`` (the added
    torque, scaled by 20 so that 0.05 N m reads 1), each one value per joint, each only when its range is on.
    """

    mirrors = {"joint_damping": sym.joint_magnitudes, "joint_armature": sym.joint_magnitudes,
               "joint_frictionloss": sym.joint_magnitudes}
    scales = {"joint_frictionloss": 20.0}
    meanings = {"joint_damping": "the factor of each joint's passive damping, in the order of joint_names",
                "joint_armature": "the factor of each joint's armature, in the order of joint_names",
                "joint_frictionloss": "the dry friction added to each joint, in the order of joint_names [N m]"}

    def __init__(self, env: Any, damping_factor: Range = NEUTRAL_FACTOR, armature_factor: Range = NEUTRAL_FACTOR,
                 frictionloss: Range = NEUTRAL_OFFSET) -> None:
        ranges = {"joint_damping": _range("randomize_joint_dynamics.damping_factor", damping_factor, lo=0.0),
                  "joint_armature": _range("randomize_joint_dynamics.armature_factor", armature_factor, lo=0.0),
                  "joint_frictionloss": _range("randomize_joint_dynamics.frictionloss", frictionloss, lo=0.0)}
        self.env = env
        physics, n, j = env.sim.physics, env.num_envs, env.num_actions
        neutral = {"joint_damping": NEUTRAL_FACTOR, "joint_armature": NEUTRAL_FACTOR,
                   "joint_frictionloss": NEUTRAL_OFFSET}
        self.ranges = {name: r for name, r in ranges.items() if r != neutral[name]}
        self.nominal = {name: physics.nominal(name) for name in self.ranges}
        for name in ("joint_damping", "joint_armature"):
            if name in self.ranges and not self.nominal[name].all():
                raise ConfigError(f"randomize_joint_dynamics.{name.split('_')[1]}_factor scales the model's {name} but "
                                  f"some actuated joints have none; set a nonzero {name.split('_')[1]} in the robot "
                                  f"file, or leave the factor at (1, 1).")
        self.values = {name: np.broadcast_to(0.0 if name == "joint_frictionloss" else 1.0, (n, j)).copy()
                       for name in self.ranges}
        self.enabled = bool(self.values)

    def __call__(self, env_ids: np.ndarray) -> None:
        k, j = len(env_ids), self.env.num_actions
        for name, r in self.ranges.items():
            v = self.values[name][env_ids] = self._draw(r, (k, j), 0.0 if name == "joint_frictionloss" else 1.0)
            nominal = self.nominal[name]
            self.env.sim.physics.set(name, env_ids, nominal + v if name == "joint_frictionloss" else nominal * v)


class randomize_gravity(_Randomizer):  # noqa: N801
    """Per-env gravity vector: the model's gravity plus an offset [m/s^2] drawn per env, in world x and y
    (``xy_offset``, each axis independently: tilts gravity, as a slope the robot cannot see) and in z
    (``z_offset``). Privileged ``gravity_offset``: the xy offsets, then the z offset, those that are on.

    The ``projected_gravity`` observation stays the base's orientation (what a state estimator reports), so
    the tilt acts like an unmodelled slope or an IMU bias."""

    def __init__(self, env: Any, xy_offset: Range = NEUTRAL_OFFSET, z_offset: Range = NEUTRAL_OFFSET) -> None:
        self.xy = _range("randomize_gravity.xy_offset", xy_offset)
        self.z = _range("randomize_gravity.z_offset", z_offset)
        self.env = env
        self._g0 = env.sim.physics.nominal("gravity")
        self.axes = ([0, 1] if self.xy != NEUTRAL_OFFSET else []) + ([2] if self.z != NEUTRAL_OFFSET else [])
        self.enabled = bool(self.axes)
        self.values = {"gravity_offset": np.zeros((env.num_envs, len(self.axes)))} if self.enabled else {}
        self.mirrors = {"gravity_offset": sym.vector(*[(1.0, -1.0, 1.0)[a] for a in self.axes])}
        self.meanings = {"gravity_offset": "the offset added to gravity along world " +
                         " and ".join("xyz"[a] for a in self.axes) + " [m/s^2]"}

    def __call__(self, env_ids: np.ndarray) -> None:
        k = len(env_ids)
        offset = np.zeros((k, 3))
        for a in self.axes:  # a loop over at most three axes
            offset[:, a] = self._draw(self.xy if a < 2 else self.z, (k,), 0.0)
        self.values["gravity_offset"][env_ids] = offset[:, self.axes]
        self.env.sim.physics.set("gravity", env_ids, self._g0 + offset)


class randomize_action_latency(_Randomizer):  # noqa: N801
    """Delay between the policy's action and the PD targets it sets, drawn per env at reset as a whole number of
    physics substeps, uniform over the substeps within ``delay_s`` [s] (e.g. (0, 0.04) at 5 ms substeps: 0 to 8
    substeps, 0 to 2 control steps at decimation 4). See :class:`~stridelab.sim.simulator.BatchSimulator`.

    Privileged ``action_delay``: the delay [s], scaled by 25 (0.04 s reads 1)."""

    mirrors = {"action_delay": sym.scalar}
    scales = {"action_delay": 25.0}
    meanings = {"action_delay": "the delay between an action and the PD targets it sets [s]"}

    def __init__(self, env: Any, delay_s: Range = NEUTRAL_OFFSET) -> None:
        self.delay_s = _range("randomize_action_latency.delay_s", delay_s, lo=0.0)
        self.env = env
        self.substep_s = float(env.sim.model.opt.timestep)
        self.low, self.high = self.whole_substeps(self.delay_s, self.substep_s)
        self.enabled = self.delay_s != NEUTRAL_OFFSET
        if self.enabled and self.low > self.high:
            raise ConfigError(f"randomize_action_latency.delay_s = {delay_s!r} holds no whole physics substep of "
                              f"{self.substep_s * 1000:g} ms; widen the range to include a multiple of the substep.")
        self.values = {"action_delay": np.zeros((env.num_envs, 1))} if self.enabled else {}

    @staticmethod
    def whole_substeps(delay_s: Range, substep_s: float) -> tuple[int, int]:
        """(lowest, highest) whole number of physics substeps of ``substep_s`` [s] within ``delay_s`` [s] (a 1e-9
        tolerance keeps 0.01 s / 0.005 s at exactly 2); low > high when the range holds none."""
        return math.ceil(delay_s[0] / substep_s - 1e-9), math.floor(delay_s[1] / substep_s + 1e-9)

    def __call__(self, env_ids: np.ndarray) -> None:
        d = self.env.rng.integers(self.low, self.high, endpoint=True, size=len(env_ids))
        if self.strength < 1.0:  # towards no delay, in whole substeps
            d = np.rint(self.strength * d).astype(d.dtype)
        self.values["action_delay"][env_ids, 0] = d * self.substep_s
        self.env.sim.physics.set("action_delay", env_ids, d)
