"""Event terms: domain randomization through per-simulation model fields (``Batch.expand``), pushes
and the reset pose.

Randomization classes sample at every reset (mode ``reset``) and expose what they sampled through
``privileged()`` for the privileged observation group; a class whose ranges are neutral (a factor
range of (1, 1), an offset range of (0, 0)) reports ``enabled = False`` and is dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stridelab.errors import ConfigError

Range = tuple[float, float]


def _range(name: str, value: Any, lo: float = float("-inf")) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or value[0] > value[1] or value[0] < lo:
        raise ConfigError(f"event parameter {name} = {value!r} is not a valid range; give (low, high) with "
                          f"low <= high" + (f" and low >= {lo}" if lo > float("-inf") else "") + ".")
    return float(value[0]), float(value[1])


class _Randomizer:
    """Per-env sampled values with exact-resume state."""

    values: dict[str, np.ndarray]

    def privileged(self) -> dict[str, np.ndarray]:
        return self.values

    def reset(self, env_ids: np.ndarray) -> None:
        """Sampling happens when the event fires."""

    def state_dict(self) -> dict:
        return {k: torch.from_numpy(v.copy()) for k, v in self.values.items()}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            self.values[k][:] = v.numpy()


class randomize_friction(_Randomizer):  # noqa: N801 - a term, named like the function terms
    """Foot friction coefficient, one value per env for all foot geoms (privileged: one per foot)."""

    def __init__(self, env: Any, range: Range = (0.5, 1.25)) -> None:  # noqa: A002 - the config's word
        self.range = _range("randomize_friction.range", range, lo=0.0)
        self.env = env
        self.geoms = env.robot.foot_geom_ids
        first = np.unique(env.robot.foot_of_geom, return_index=True)[1]  # the first geom of each foot
        self.enabled = True  # a (mu, mu) range still sets every foot to mu
        self.values = {"friction": np.broadcast_to(env.robot.model.geom_friction[self.geoms[first], 0],
                                                   (env.num_envs, env.robot.num_feet)).copy()}
        self._friction = env.sim.expand("geom_friction")

    def __call__(self, env_ids: np.ndarray) -> None:
        mu = self.env.rng.uniform(*self.range, size=(len(env_ids), 1))
        self.values["friction"][env_ids] = mu
        self._friction[env_ids[:, None], self.geoms[None, :], 0] = mu


class randomize_base_mass(_Randomizer):  # noqa: N801
    """Mass added to the base [kg] and a shift of its centre of mass [m] per axis."""

    def __init__(self, env: Any, added_mass: Range = (-1.0, 1.0), com_offset: Range = (0.0, 0.0)) -> None:
        self.added_mass = _range("randomize_base_mass.added_mass", added_mass)
        self.com_offset = _range("randomize_base_mass.com_offset", com_offset)
        self.env = env
        n, b = env.num_envs, env.robot.base_body_id
        self.values = {}
        if self.added_mass != (0.0, 0.0):
            self.values["added_mass"] = np.zeros((n, 1))
        if self.com_offset != (0.0, 0.0):
            self.values["com_offset"] = np.zeros((n, 3))
        self.enabled = bool(self.values)
        if self.enabled:
            self._mass0 = float(env.robot.model.body_mass[b])
            self._ipos0 = env.robot.model.body_ipos[b].copy()
            self._mass = env.sim.expand("body_mass")
            self._ipos = env.sim.expand("body_ipos")

    def __call__(self, env_ids: np.ndarray) -> None:
        k, b, rng = len(env_ids), self.env.robot.base_body_id, self.env.rng
        if "added_mass" in self.values:
            self.values["added_mass"][env_ids] = rng.uniform(*self.added_mass, size=(k, 1))
            self._mass[env_ids, b] = self._mass0 + self.values["added_mass"][env_ids, 0]
        if "com_offset" in self.values:
            self.values["com_offset"][env_ids] = rng.uniform(*self.com_offset, size=(k, 3))
            self._ipos[env_ids, b] = self._ipos0 + self.values["com_offset"][env_ids]
        self.env.sim.set_const(env_ids)


class randomize_actuator_gains(_Randomizer):  # noqa: N801
    """Per-joint factors of the PD torque (motor strength), of kp and of kd."""

    def __init__(self, env: Any, motor_strength: Range = (1.0, 1.0), kp_factor: Range = (1.0, 1.0),
                 kd_factor: Range = (1.0, 1.0)) -> None:
        self.ranges = {name: _range(f"randomize_actuator_gains.{name}", r, lo=0.0) for name, r in
                       (("motor_strength", motor_strength), ("kp_factor", kp_factor), ("kd_factor", kd_factor))}
        self.env = env
        n, j = env.num_envs, env.num_actions
        self.values = {name: np.ones((n, j)) for name, r in self.ranges.items() if r != (1.0, 1.0)}
        self.enabled = bool(self.values)
        self._kp = np.asarray(env.robot.spec.kp)
        self._kd = np.asarray(env.robot.spec.kd)
        if self.enabled:
            self._gainprm = env.sim.expand("actuator_gainprm")
            self._biasprm = env.sim.expand("actuator_biasprm")

    def __call__(self, env_ids: np.ndarray) -> None:
        k, j = len(env_ids), self.env.num_actions
        for name in self.values:
            self.values[name][env_ids] = self.env.rng.uniform(*self.ranges[name], size=(k, j))
        one = np.ones((k, j))
        strength = self.values["motor_strength"][env_ids] if "motor_strength" in self.values else one
        kp = self._kp * strength * (self.values["kp_factor"][env_ids] if "kp_factor" in self.values else one)
        kd = self._kd * strength * (self.values["kd_factor"][env_ids] if "kd_factor" in self.values else one)
        # PD actuator: force = kp ctrl - kp q - kd qdot (see robots.loader)
        self._gainprm[env_ids, :, 0] = kp
        self._biasprm[env_ids, :, 1] = -kp
        self._biasprm[env_ids, :, 2] = -kd


class push_by_setting_velocity(_Randomizer):  # noqa: N801
    """legged_gym's push: a random planar base velocity change [m/s] (use with mode ``interval``).

    Privileged: the last push of each env (vx, vy) [m/s], cleared at reset.
    """

    def __init__(self, env: Any, velocity: float = 0.5) -> None:
        if velocity < 0:
            raise ConfigError(f"push velocity = {velocity} must be >= 0 m/s.")
        self.env = env
        self.velocity = float(velocity)
        self.enabled = self.velocity > 0
        self.values = {"push": np.zeros((env.num_envs, 2))}

    def __call__(self, env_ids: np.ndarray) -> None:
        d = self.env.robot.base_dof_adr
        dv = self.env.rng.uniform(-self.velocity, self.velocity, size=(len(env_ids), 2))
        self.env.sim.qvel[env_ids, d:d + 2] += dv
        self.values["push"][env_ids] = dv

    def reset(self, env_ids: np.ndarray) -> None:
        self.values["push"][env_ids] = 0.0


def reset_robot(env: Any, env_ids: np.ndarray, joint_noise: float = 0.1, yaw_range: Range = (-np.pi, np.pi)) -> None:
    """Reset pose: base at the robot's ``init_height`` with a random heading [rad], joints at the default
    pose plus uniform noise [rad] (within their limits), zero velocities."""
    _reset_pose(env, env_ids, np.array([0.0, 0.0, env.robot.spec.init_height]), joint_noise, yaw_range)


def reset_robot_on_terrain(env: Any, env_ids: np.ndarray, joint_noise: float = 0.1,
                           yaw_range: Range = (-np.pi, np.pi), xy_noise: float = 0.5) -> None:
    """Reset pose on terrain: base over the origin of the env's tile (its curriculum row and its column)
    plus uniform xy noise of half-width ``xy_noise`` [m], at the origin's height + ``init_height``; heading,
    joints and velocities as :func:`reset_robot`. Within 0.5 m of the origin no ground is higher than it."""
    from stridelab.mdp.terrain import tiles_of

    tiles = tiles_of(env, "reset_robot_on_terrain")
    pos = tiles.origins(env_ids).copy()
    pos[:, :2] += env.rng.uniform(-xy_noise, xy_noise, size=(len(env_ids), 2))
    pos[:, 2] += env.robot.spec.init_height
    tiles.spawn_xy[env_ids] = pos[:, :2]
    _reset_pose(env, env_ids, pos, joint_noise, yaw_range)


def _reset_pose(env: Any, env_ids: np.ndarray, base_pos: np.ndarray, joint_noise: float, yaw_range: Range) -> None:
    """Base at ``base_pos`` [m] (Shape: (3,) or (k, 3)) with a random heading, joints near the default pose."""
    robot, k, j = env.robot, len(env_ids), env.num_actions
    qpos = np.broadcast_to(robot.model.qpos0, (k, robot.model.nq)).copy()
    b = robot.base_qpos_adr
    qpos[:, b:b + 3] = base_pos
    yaw = env.rng.uniform(*yaw_range, size=k)
    qpos[:, b + 3] = np.cos(yaw / 2)
    qpos[:, b + 4:b + 6] = 0.0
    qpos[:, b + 6] = np.sin(yaw / 2)
    noise = env.rng.uniform(-joint_noise, joint_noise, size=(k, j))
    qpos[:, robot.qpos_adr] = np.clip(env.default_pose + noise, robot.joint_range[:, 0], robot.joint_range[:, 1])
    env.sim.reset(env_ids, qpos, np.zeros((k, robot.model.nv)))
