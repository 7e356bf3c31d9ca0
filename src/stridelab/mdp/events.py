"""Event terms: domain randomization through per-simulation model fields (``Batch.expand``), pushes
and the reset pose.

The randomization classes live in :mod:`stridelab.mdp.randomization` and are named here too, so that a
config names them by their bare names (``randomize_friction``, ...). Randomization classes sample at every
reset (mode ``reset``) and expose what they sampled through ``privileged()`` for the privileged observation
group; a class whose ranges are neutral (a factor range of (1, 1), an offset range of (0, 0)) reports
``enabled = False`` and is dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stridelab.errors import ConfigError
from stridelab.mdp import symmetry as sym
from stridelab.mdp.randomization import (Range, _Randomizer, _range, randomize_action_latency,  # noqa: F401
                                         randomize_actuator_gains, randomize_base_mass, randomize_friction,
                                         randomize_gravity, randomize_joint_dynamics, randomize_link_mass)

# bare names a config may use for terms defined in other modules (managers.terms.resolve reads this)
REEXPORTED_TERMS = ("randomize_friction", "randomize_base_mass", "randomize_link_mass", "randomize_actuator_gains",
                        "randomize_joint_dynamics", "randomize_gravity", "randomize_action_latency")


class push_by_setting_velocity(_Randomizer):  # noqa: N801
    """legged_gym's push: a random planar base velocity change [m/s] (use with mode ``interval``), and, when
    ``angular_velocity`` > 0, a random base angular velocity change [rad/s] about the base's x, y and z axes
    (humanoid-gym's ``max_push_ang_vel``).

    Privileged ``push``: the last push of each env, cleared at reset: (vx, vy) in the world frame [m/s], then
    (wx, wy, wz) in the base frame [rad/s] when angular pushes are on. The vertical velocity is never pushed,
    so it is not observed (a 6-d push with an unset vertical part would be a constant zero column).
    """

    def __init__(self, env: Any, velocity: float = 0.5, angular_velocity: float = 0.0) -> None:
        if velocity < 0 or angular_velocity < 0:
            raise ConfigError(f"push velocity = {velocity} m/s and angular_velocity = {angular_velocity} rad/s must "
                              f"be >= 0.")
        self.env = env
        self.velocity = float(velocity)
        self.angular_velocity = float(angular_velocity)
        self.enabled = self.velocity > 0 or self.angular_velocity > 0
        self.angular = self.angular_velocity > 0
        self.values = {"push": np.zeros((env.num_envs, 5 if self.angular else 2))}
        self.mirrors = {"push": sym.vector(1, -1, -1, 1, -1) if self.angular else sym.vector(1, -1)}
        self.meanings = {"push": "the last push of the episode (0 before the first): the planar base velocity change "
                                 "(vx, vy) in the world frame [m/s]" +
                                 (", then the angular velocity change (wx, wy, wz) in the base frame [rad/s]"
                                  if self.angular else "")}

    def __call__(self, env_ids: np.ndarray) -> None:
        d, rng = self.env.robot.base_dof_adr, self.env.rng
        dv = rng.uniform(-self.velocity, self.velocity, size=(len(env_ids), 2))
        self.env.sim.qvel[env_ids, d:d + 2] += dv
        self.values["push"][env_ids, :2] = dv
        if self.angular:
            dw = rng.uniform(-self.angular_velocity, self.angular_velocity, size=(len(env_ids), 3))
            self.env.sim.qvel[env_ids, d + 3:d + 6] += dw  # the free joint's angular velocity is in the base frame
            self.values["push"][env_ids, 2:] = dw

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
