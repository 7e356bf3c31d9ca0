"""Reward terms: pure functions of a :class:`~stridelab.mdp.state.RobotState`, each ``-> (num_envs,)``.

Weights live in :class:`~stridelab.config.RewardConfig`; the kernel is in the name. Stateful terms
(feet air time) are small classes with ``reset(ids)``.
"""

from __future__ import annotations

import numpy as np

from stridelab.mdp.state import RobotState


def track_lin_vel_xy_exp(s: RobotState, std: float) -> np.ndarray:
    """exp(-|v_xy - v*_xy|^2 / std^2), v in the base frame."""
    err = np.sum(np.square(s.commands[:, :2] - s.base_lin_vel[:, :2]), axis=1)
    return np.exp(-err / std**2)


def track_ang_vel_z_exp(s: RobotState, std: float) -> np.ndarray:
    """exp(-(w_z - w*_z)^2 / std^2)."""
    return np.exp(-np.square(s.commands[:, 2] - s.base_ang_vel[:, 2]) / std**2)


def lin_vel_z_l2(s: RobotState) -> np.ndarray:
    """Vertical base velocity squared [m^2/s^2]."""
    return np.square(s.base_lin_vel[:, 2])


def ang_vel_xy_l2(s: RobotState) -> np.ndarray:
    """Roll and pitch rates squared [rad^2/s^2]."""
    return np.sum(np.square(s.base_ang_vel[:, :2]), axis=1)


def flat_orientation_l2(s: RobotState) -> np.ndarray:
    """Squared planar part of the projected gravity (zero when the base is level)."""
    return np.sum(np.square(s.projected_gravity[:, :2]), axis=1)


def base_height_l2(s: RobotState, target: float) -> np.ndarray:
    """(base height - target)^2 [m^2], height above the world origin (flat ground)."""
    return np.square(s.base_pos[:, 2] - target)


def torques_l2(s: RobotState) -> np.ndarray:
    """Sum of squared joint torques [N^2 m^2]."""
    return np.sum(np.square(s.torques), axis=1)


def joint_acc_l2(s: RobotState) -> np.ndarray:
    """Sum of squared joint accelerations [rad^2/s^4]."""
    return np.sum(np.square(s.joint_acc), axis=1)


def action_rate_l2(s: RobotState) -> np.ndarray:
    """Sum of squared action changes between control steps."""
    return np.sum(np.square(s.actions - s.last_actions), axis=1)


def undesired_contacts(s: RobotState) -> np.ndarray:
    """Number of penalized bodies touching anything."""
    return np.sum(s.penalize_contact, axis=1).astype(np.float64)


def joint_pos_limits(s: RobotState, soft_lower: np.ndarray, soft_upper: np.ndarray) -> np.ndarray:
    """Sum over joints of how far each is outside its soft limits [rad]."""
    below = np.clip(soft_lower - s.joint_pos, 0.0, None)
    above = np.clip(s.joint_pos - soft_upper, 0.0, None)
    return np.sum(below + above, axis=1)


class FeetAirTime:
    """legged_gym's air-time reward: sum over feet of (air time - threshold) at touchdown.

    Only paid while a planar command is given, so that standing still is not penalized.
    """

    def __init__(self, num_envs: int, num_feet: int, dt: float, threshold: float) -> None:
        self.dt = dt
        self.threshold = threshold
        self.air_time = np.zeros((num_envs, num_feet))
        self.last_contact = np.zeros((num_envs, num_feet), dtype=bool)

    def __call__(self, s: RobotState) -> np.ndarray:
        # filter contacts over two steps: MuJoCo contacts flicker on touchdown
        contact = s.foot_contact | self.last_contact
        first_contact = (self.air_time > 0.0) & contact
        self.air_time += self.dt
        reward = np.sum((self.air_time - self.threshold) * first_contact, axis=1)
        reward *= np.linalg.norm(s.commands[:, :2], axis=1) > 0.1
        self.air_time[contact] = 0.0
        self.last_contact = s.foot_contact.copy()
        return reward

    def reset(self, ids: np.ndarray) -> None:
        self.air_time[ids] = 0.0
        self.last_contact[ids] = False
