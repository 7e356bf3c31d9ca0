"""Per-env physical parameters by name: the one place that writes the batch's per-simulation model fields.

Randomizers (``mdp/randomization.py``) sample values and set them here; dynamics identification sets
fitted values the same way, e.g. ``env.sim.physics.set("joint_damping", ids, values)``. Every parameter is
a block of ``size`` values per env in SI units:

==================  ======================  ==========  =================================================
name                size                    units       model field (``Batch.expand``)
==================  ======================  ==========  =================================================
foot_friction       num_feet                -           geom_friction[foot geoms, 0] (each foot's geoms)
base_mass           1                       kg          body_mass[carrier] (the base's mass; see below)
base_com            3                       m           body_ipos[carrier] (centre of mass in its frame)
base_inertia        3                       kg m^2      body_inertia[carrier] (principal moments)
link_mass           num_links               kg          body_mass[links]
link_inertia        3 num_links             kg m^2      body_inertia[links] (link-major: x, y, z per link)
kp                  num_joints              N m/rad     actuator_gainprm[:, 0] and -actuator_biasprm[:, 1]
kd                  num_joints              N m s/rad   -actuator_biasprm[:, 2]
joint_damping       num_joints              N m s/rad   dof_damping[joint dofs] (passive, beside the PD kd)
joint_frictionloss  num_joints              N m         dof_frictionloss[joint dofs]
joint_armature      num_joints              kg m^2      dof_armature[joint dofs]
gravity             3                       m/s^2       opt.gravity (world frame)
action_delay        1                       substeps    the simulator's target delay (not a model field)
==================  ======================  ==========  =================================================

The base group is the base and the bodies welded to it (``LoadedRobot.base_group``); its mass is carried by one
of them (``LoadedRobot.base_mass_body``: the base, or its heaviest welded body when the base itself is an empty
root link, as in legged_gym's A1 URDF). ``base_mass``, ``base_com`` and ``base_inertia`` are the carrier's, so
a change of ``base_mass`` changes the group's total mass by as much.

The links are the bodies moved by the actuated joints (each joint's child body, in joint order, each once).
A field is expanded the first time one of its parameters is set, so a task that sets nothing pays nothing
and keeps sharing the compiled model. Writes to masses, inertias, the centre of mass, armature or gravity
need ``mj_setConst``; the table collects those envs and :meth:`PhysicsParams.flush` runs it once for them
(the simulator flushes before its next reset or step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stridelab.errors import ConfigError, did_you_mean

Fields = dict[str, np.ndarray]


@dataclass(frozen=True)
class Parameter:
    """One named parameter: its size, units, lowest valid value and how it maps to model fields."""

    name: str
    size: int
    units: str
    low: float
    fields: tuple[str, ...]
    set_const: bool
    read: Callable[[Fields], np.ndarray]  # fields (n, ...) -> values (n, size)
    write: Callable[[Fields, np.ndarray, np.ndarray], None]  # fields, env ids (k,), values (k, size)


def _parameters(robot: Any) -> dict[str, Parameter]:
    """The parameter table of one loaded robot."""
    nf, nj = robot.num_feet, len(robot.dof_adr)
    geoms, of = robot.foot_geom_ids, robot.foot_of_geom
    first = np.unique(of, return_index=True)[1]  # each foot's first geom, whose value the foot reports
    b, dofs = robot.base_mass_body, robot.dof_adr  # the body of the base group that carries its mass
    links = link_bodies(robot)
    nl = len(links)

    def put(field: str, index: Callable[[np.ndarray], tuple], cols: Any = None, shape: tuple = (), sign: float = 1.0):
        """A writer of ``sign * values[:, cols]`` (reshaped to (k, *shape)) into ``field[index(ids)]``."""
        def write(f: Fields, ids: np.ndarray, v: np.ndarray) -> None:
            v = v if cols is None else v[:, cols]
            f[field][index(ids)] = sign * (v.reshape(len(ids), *shape) if shape else v)
        return write

    def both_kp(f: Fields, ids: np.ndarray, v: np.ndarray) -> None:
        # PD actuator (robots.loader): force = kp ctrl - kp q - kd qdot
        put("actuator_gainprm", lambda i: (i, slice(None), 0))(f, ids, v)
        put("actuator_biasprm", lambda i: (i, slice(None), 1), sign=-1.0)(f, ids, v)

    def rows(ids: np.ndarray) -> np.ndarray:
        return ids[:, None]  # (k, 1) rows against (1, m) columns

    joint_dofs = lambda i: (rows(i), dofs[None, :])  # noqa: E731
    return {p.name: p for p in [
        Parameter("foot_friction", nf, "", 0.0, ("geom_friction",), False,
                  lambda f: f["geom_friction"][:, geoms[first], 0],
                  put("geom_friction", lambda i: (rows(i), geoms[None, :], 0), cols=of)),
        Parameter("base_mass", 1, "kg", 0.0, ("body_mass",), True,
                  lambda f: f["body_mass"][:, b:b + 1], put("body_mass", lambda i: (i, b), cols=0)),
        Parameter("base_com", 3, "m", -np.inf, ("body_ipos",), True,
                  lambda f: f["body_ipos"][:, b], put("body_ipos", lambda i: (i, b))),
        Parameter("base_inertia", 3, "kg m^2", 0.0, ("body_inertia",), True,
                  lambda f: f["body_inertia"][:, b], put("body_inertia", lambda i: (i, b))),
        Parameter("link_mass", nl, "kg", 0.0, ("body_mass",), True,
                  lambda f: f["body_mass"][:, links], put("body_mass", lambda i: (rows(i), links[None, :]))),
        Parameter("link_inertia", 3 * nl, "kg m^2", 0.0, ("body_inertia",), True,
                  lambda f: f["body_inertia"][:, links].reshape(-1, 3 * nl),
                  put("body_inertia", lambda i: (rows(i), links[None, :]), shape=(nl, 3))),
        Parameter("kp", nj, "N m/rad", 0.0, ("actuator_gainprm", "actuator_biasprm"), False,
                  lambda f: f["actuator_gainprm"][:, :, 0], both_kp),
        Parameter("kd", nj, "N m s/rad", 0.0, ("actuator_biasprm",), False,
                  lambda f: -f["actuator_biasprm"][:, :, 2],
                  put("actuator_biasprm", lambda i: (i, slice(None), 2), sign=-1.0)),
        Parameter("joint_damping", nj, "N m s/rad", 0.0, ("dof_damping",), False,
                  lambda f: f["dof_damping"][:, dofs], put("dof_damping", joint_dofs)),
        Parameter("joint_frictionloss", nj, "N m", 0.0, ("dof_frictionloss",), False,
                  lambda f: f["dof_frictionloss"][:, dofs], put("dof_frictionloss", joint_dofs)),
        Parameter("joint_armature", nj, "kg m^2", 0.0, ("dof_armature",), True,
                  lambda f: f["dof_armature"][:, dofs], put("dof_armature", joint_dofs)),
        Parameter("gravity", 3, "m/s^2", -np.inf, ("opt.gravity",), True,
                  lambda f: f["opt.gravity"], put("opt.gravity", lambda i: (i,))),
    ]}


def link_bodies(robot: Any) -> np.ndarray:
    """Bodies moved by the actuated joints (each joint's child body), in joint order, each once. Shape: (L,)."""
    model = robot.model
    dof_body = model.dof_bodyid[robot.dof_adr]
    _, first = np.unique(dof_body, return_index=True)
    return dof_body[np.sort(first)].astype(np.int64)


class PhysicsParams:
    """Per-env physical parameters of one :class:`~stridelab.sim.simulator.BatchSimulator`, by name.

    ``get(name)`` Shape: (num_envs, size); ``set(name, env_ids, values)`` with values of Shape (k, size), (size,)
    or a scalar; ``nominal(name)`` Shape: (size,) (the compiled model's value). Units: see the module table.
    """

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.model = sim.model
        self.num_envs = sim.num_envs
        self.params = _parameters(sim.robot)
        self._pending: list[np.ndarray] = []

    @property
    def names(self) -> list[str]:
        return [*self.params, "action_delay"]

    def size(self, name: str) -> int:
        return 1 if self._check(name) == "action_delay" else self.params[name].size

    def _check(self, name: str) -> str:
        if name not in self.names:
            raise ConfigError(f"unknown physics parameter {name!r}{did_you_mean(name, self.names)}; valid names "
                              f"are: {', '.join(self.names)}.")
        return name

    def _template(self, field: str) -> np.ndarray:
        owner, attr = (self.model.opt, field[4:]) if field.startswith("opt.") else (self.model, field)
        return np.asarray(getattr(owner, attr))

    def nominal(self, name: str) -> np.ndarray:
        """The compiled model's value. Shape: (size,)."""
        if self._check(name) == "action_delay":
            return np.zeros(1)
        p = self.params[name]
        return p.read({f: self._template(f)[None] for f in p.fields})[0].astype(np.float64)

    def get(self, name: str) -> np.ndarray:
        """Current per-env values (a copy). Shape: (num_envs, size)."""
        if self._check(name) == "action_delay":
            return self.sim.delay_substeps[:, None].astype(np.float64)
        p = self.params[name]
        fields = {}
        for f in p.fields:
            arr = self.sim.batch.expanded(f)
            fields[f] = arr if arr is not None else np.broadcast_to(self._template(f), (self.num_envs,
                                                                                         *self._template(f).shape))
        return np.array(p.read(fields), dtype=np.float64)

    def set(self, name: str, env_ids: np.ndarray, values: Any) -> None:
        """Write ``values`` (Shape: (k, size), (size,) or a scalar, in the parameter's units) for ``env_ids``
        (Shape: (k,)). Raises ConfigError for a value below the parameter's lowest valid value."""
        self._check(name)
        ids = np.asarray(env_ids, dtype=np.int64)
        if len(ids) == 0:
            return
        size = self.size(name)
        v = np.asarray(values, dtype=np.float64)
        try:
            v = np.broadcast_to(v.reshape(len(ids), size) if v.size == len(ids) * size else v, (len(ids), size))
        except ValueError:
            raise ConfigError(f"physics parameter {name} takes {size} values per env; got an array of shape "
                              f"{np.shape(values)} for {len(ids)} envs.") from None
        if name == "action_delay":
            self.sim.set_delay(ids, v[:, 0])
            return
        p = self.params[name]
        if not np.isfinite(v).all() or (v < p.low).any():
            bad = v[~np.isfinite(v) | (v < p.low)].flat[0]
            raise ConfigError(f"physics parameter {name} = {bad:.6g} is out of range; give finite values >= "
                              f"{p.low:g}" + (f" {p.units}." if p.units else "."))
        p.write({f: self.sim.expand(f) for f in p.fields}, ids, v)
        if p.set_const:
            self._pending.append(ids)

    def flush(self) -> None:
        """Recompute the derived model constants (``mj_setConst``) of the envs whose masses, inertias, centre of
        mass, armature or gravity changed since the last flush."""
        if self._pending:
            self.sim.set_const(np.unique(np.concatenate(self._pending)))
            self._pending = []

    def describe(self) -> dict[str, dict]:
        """Name -> {size, units, fields} of every parameter."""
        out = {n: {"size": p.size, "units": p.units, "fields": list(p.fields)} for n, p in self.params.items()}
        out["action_delay"] = {"size": 1, "units": "substeps", "fields": []}
        return out


def set_physics(env: Any, env_ids: np.ndarray, name: str, values: Any) -> None:
    """Set a physical parameter of some envs by name (see the module table); the envs' next step uses it.

    Args:
        env: a :class:`~stridelab.envs.locomotion_env.LocomotionEnv`.
        env_ids: Shape: (k,).
        values: Shape: (k, size), (size,) or a scalar, in the parameter's units.
    """
    env.sim.physics.set(name, env_ids, values)
    env.sim.physics.flush()
