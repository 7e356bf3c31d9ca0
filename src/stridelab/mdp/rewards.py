"""Reward terms: pure functions of a :class:`~stridelab.mdp.state.RobotState`, each ``-> (num_envs,)``.

Weights live in the task config (``EnvConfig.rewards``); the kernel is in the name. Terms that need
the robot's constants or keep per-env state (feet air time) are small classes built with
``(env, **params)`` that have ``reset(env_ids)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stridelab.errors import ConfigError
from stridelab.mdp.state import RobotState, commanded


def track_lin_vel_xy_exp(s: RobotState, std: float = 0.5) -> np.ndarray:
    """exp(-|v_xy - v*_xy|^2 / std^2), v in the base frame."""
    err = np.sum(np.square(s.commands[:, :2] - s.base_lin_vel[:, :2]), axis=1)
    return np.exp(-err / std**2)


def track_ang_vel_z_exp(s: RobotState, std: float = 0.5) -> np.ndarray:
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


class base_height_l2:  # noqa: N801 - a term, named like the function terms
    """(base height - target)^2 [m^2], the height above the ground under the base.

    ``target`` defaults to the robot's ``base_height_target`` [m]. On the flat floor the ground is
    z = 0; on terrain it is the terrain's height at the base's (x, y) (``Terrain.height_at``), unless
    ``relative_to_ground`` is off (then world z, as on flat ground).
    """

    def __init__(self, env: Any, target: float | None = None, relative_to_ground: bool = True) -> None:
        self.target = env.robot.spec.base_height_target if target is None else float(target)
        self.terrain = getattr(env.robot, "terrain", None) if relative_to_ground else None

    def __call__(self, s: RobotState) -> np.ndarray:
        z = s.base_pos[:, 2]
        if self.terrain is not None:
            z = z - self.terrain.height_at(s.base_pos[:, 0], s.base_pos[:, 1])
        return np.square(z - self.target)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""


def torques_l2(s: RobotState) -> np.ndarray:
    """Sum of squared joint torques [N^2 m^2]."""
    return np.sum(np.square(s.torques), axis=1)


class torques_normalized_l2:  # noqa: N801 - a term, named like the function terms
    """Mean over joints of the squared torque as a share of the joint's torque limit, ``(tau / tau_max)^2``
    (dimensionless, 0-1): the same weight means the same effort for a 30 kg biped and a 50 kg humanoid,
    and does not grow with the number of joints. ``torques_l2`` [N^2 m^2] instead grows with the robot's
    size: legged_gym tunes it per robot (-2e-4 for the 12 kg A1, -1e-5 in its base config, -5e-6 for Cassie).
    """

    def __init__(self, env: Any) -> None:
        limits = np.asarray(env.robot.torque_limits, dtype=np.float64)
        if np.any(limits <= 0):
            raise ConfigError(f"reward term {type(self).__name__} needs a positive torque limit on every joint; set "
                              f"torque_limits in the robot spec.")
        self.inverse = 1.0 / limits

    def __call__(self, s: RobotState) -> np.ndarray:
        return np.mean(np.square(s.torques * self.inverse), axis=1)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""


class power_normalized(torques_normalized_l2):  # noqa: N801
    """Mean over joints of ``|tau / tau_max * qdot|`` [rad/s]: mechanical power per joint as a share of the joint's
    torque limit, robot-size independent like :class:`torques_normalized_l2`."""

    def __call__(self, s: RobotState) -> np.ndarray:
        return np.mean(np.abs(s.torques * self.inverse * s.joint_vel), axis=1)


class feet_force_excess:  # noqa: N801 - a term, named like the function terms
    """Contact force above ``threshold`` x the robot's weight, summed over feet, in body weights (a stomp of
    1.5 W against a threshold of 1.2 scores 0.3): soft touchdowns for any robot size (apex and HasRL reward
    landing softly through their force/speed terms; legged_gym's ``feet_contact_forces`` uses a fixed 100 N).
    """

    def __init__(self, env: Any, threshold: float = 1.2) -> None:
        if threshold <= 0:
            raise ConfigError(f"feet_force_excess threshold = {threshold} body weights must be > 0.")
        self.weight = env.robot.weight  # [N]
        self.threshold = float(threshold)

    def __call__(self, s: RobotState) -> np.ndarray:
        force = np.linalg.norm(s.foot_force, axis=2) / self.weight
        return np.sum(np.maximum(force - self.threshold, 0.0), axis=1)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""


def joint_acc_l2(s: RobotState) -> np.ndarray:
    """Sum of squared joint accelerations [rad^2/s^4]."""
    return np.sum(np.square(s.joint_acc), axis=1)


def action_rate_l2(s: RobotState) -> np.ndarray:
    """Sum of squared action changes between control steps."""
    return np.sum(np.square(s.actions - s.last_actions), axis=1)


def undesired_contacts(s: RobotState) -> np.ndarray:
    """Number of penalized bodies touching anything."""
    return np.sum(s.penalize_contact, axis=1).astype(np.float64)


def is_terminated(s: RobotState) -> np.ndarray:
    """1 in the step an env fails (not at a time-out): legged_gym's termination penalty with a negative weight."""
    return s.terminated.astype(np.float64)


class joint_pos_limits:  # noqa: N801 - a term, named like the function terms
    """Sum over joints of how far each is outside its soft limits [rad].

    The soft limits are the middle ``soft_ratio`` of each joint's range.
    """

    def __init__(self, env: Any, soft_ratio: float = 0.9) -> None:
        if not 0.0 < soft_ratio <= 1.0:
            raise ConfigError(f"joint_pos_limits soft_ratio = {soft_ratio} must be within (0, 1].")
        lo, hi = env.robot.joint_range[:, 0], env.robot.joint_range[:, 1]
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * soft_ratio
        self.lower, self.upper = mid - half, mid + half

    def __call__(self, s: RobotState) -> np.ndarray:
        below = np.clip(self.lower - s.joint_pos, 0.0, None)
        above = np.clip(s.joint_pos - self.upper, 0.0, None)
        return np.sum(below + above, axis=1)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""


class feet_air_time:  # noqa: N801 - a term, named like the function terms
    """legged_gym's air-time reward: sum over feet of (air time - threshold) [s] at touchdown.

    Only paid while a planar command is given, so that standing still is not penalized.
    """

    def __init__(self, env: Any, threshold: float = 0.5) -> None:
        self.dt = env.dt
        self.threshold = threshold
        num_feet = env.robot.num_feet
        self.air_time = np.zeros((env.num_envs, num_feet))
        self.last_contact = np.zeros((env.num_envs, num_feet), dtype=bool)

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

    def reset(self, env_ids: np.ndarray) -> None:
        self.air_time[env_ids] = 0.0
        self.last_contact[env_ids] = False

    def state_dict(self) -> dict:
        return {"air_time": torch.from_numpy(self.air_time.copy()),
                "last_contact": torch.from_numpy(self.last_contact.copy())}

    def load_state_dict(self, state: dict) -> None:
        self.air_time[:] = state["air_time"].numpy()
        self.last_contact[:] = state["last_contact"].numpy()


def feet_slide(s: RobotState) -> np.ndarray:
    """Isaac Lab's feet_slide: sum over feet in contact of the planar speed of their contact point [m/s]."""
    speed = np.linalg.norm(s.foot_vel[:, :, :2], axis=2)
    return np.sum(speed * s.foot_contact, axis=1)


def stand_still(s: RobotState, min_command: float = 0.1) -> np.ndarray:
    """legged_gym's stand_still: sum of |joint angle - default| [rad] while the command is (nearly) zero."""
    idle = ~commanded(s, min_command)
    return np.sum(np.abs(s.joint_pos - s.default_joint_pos), axis=1) * idle


def _soft_step(x: np.ndarray) -> np.ndarray:
    """A smooth 0 -> 1 step (logistic approximation of the normal CDF)."""
    return 1.0 / (1.0 + np.exp(np.clip(-1.702 * x, -500.0, 500.0)))


def desired_stance(phase: np.ndarray, duty: float = 0.5, kappa: float = 0.07) -> np.ndarray:
    """How much each foot should be in stance at gait-clock ``phase`` (Shape: (n, f), in [0, 1)): 1 for
    ``phase < duty``, 0 after, smoothed over about ``kappa`` of a cycle at both edges (walk-these-ways'
    smoothing of the contact schedule, Margolis & Agrawal 2022). Shape: (n, f), in [0, 1]."""
    in_cycle = _soft_step(phase / kappa) * (1.0 - _soft_step((phase - duty) / kappa))
    next_cycle = _soft_step((phase - 1.0) / kappa) * (1.0 - _soft_step((phase - 1.0 - duty) / kappa))
    return in_cycle + next_cycle


def gait_contact_schedule(s: RobotState, duty: float = 0.5, kappa: float = 0.07,
                          min_command: float = 0.1) -> np.ndarray:
    """walk-these-ways' contact-schedule tracking, with contact flags instead of forces: the mean over feet
    of [stance wanted and foot down] + [swing wanted and foot up], in [0, 1], while a command is given;
    at zero command, the fraction of feet on the ground (stand on all of them). Needs a ``gait_clock``
    command (``RobotState.gait_phase``)."""
    if s.gait_phase is None:
        raise ConfigError("reward term gait_contact_schedule needs a gait clock; add a 'gait_clock' command to the "
                          "task's commands.")
    stance = desired_stance(s.gait_phase, duty, kappa)
    down = s.foot_contact.astype(np.float64)
    match = np.mean(stance * down + (1.0 - stance) * (1.0 - down), axis=1)
    return np.where(commanded(s, min_command), match, np.mean(down, axis=1))


class gait_force_speed:  # noqa: N801 - a term, named like the function terms
    """The periodic gait-cycle reward of OSU's apex and HasRL (Siekmann et al. 2021, "Sim-to-real learning
    of all common bipedal gaits via periodic reward composition"): in each foot's stance phase, reward the
    force it carries and penalize its speed; in its swing phase, reward its speed and penalize its force.

    Per foot, with the smooth stance window ``w`` = :func:`desired_stance` (walk-these-ways' logistic edges
    in place of apex's von Mises windows), ``F = 1 - exp(-(|force| / (force_scale W))^2)`` (``W`` the
    robot's weight [N]) and ``V = 1 - exp(-(|v| / speed_scale)^2)`` (``v`` the contact point's velocity
    [m/s]): ``w (F - V) + (1 - w) (V - F)``; the value is the mean over feet, in [-1, 1]. At zero command
    every foot is in stance (stand on all feet, still). Needs a ``gait_clock`` command.
    """

    def __init__(self, env: Any, duty: float = 0.5, kappa: float = 0.07, force_scale: float = 0.25,
                 speed_scale: float = 0.3, min_command: float = 0.1) -> None:
        if force_scale <= 0 or speed_scale <= 0:
            raise ConfigError(f"gait_force_speed force_scale = {force_scale} and speed_scale = {speed_scale} "
                              f"must both be > 0.")
        self.weight = env.robot.weight  # [N]
        self.duty, self.kappa, self.min_command = duty, kappa, min_command
        self.force_scale, self.speed_scale = force_scale, speed_scale

    def __call__(self, s: RobotState) -> np.ndarray:
        if s.gait_phase is None:
            raise ConfigError("reward term gait_force_speed needs a gait clock; add a 'gait_clock' command to the "
                              "task's commands.")
        stance = desired_stance(s.gait_phase, self.duty, self.kappa)
        stance = np.where(commanded(s, self.min_command)[:, None], stance, 1.0)
        force = np.linalg.norm(s.foot_force, axis=2) / (self.force_scale * self.weight)
        speed = np.linalg.norm(s.foot_vel, axis=2) / self.speed_scale
        loaded, moving = 1.0 - np.exp(-np.square(force)), 1.0 - np.exp(-np.square(speed))
        return np.mean(stance * (loaded - moving) + (1.0 - stance) * (moving - loaded), axis=1)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""


class FootPhases:
    """Per env and foot: time in the current contact / flight phase and the length of the last ones [s]."""

    KEYS = ("air", "contact", "last_air", "last_contact", "was_down")

    def __init__(self, num_envs: int, num_feet: int, dt: float) -> None:
        self.dt = dt
        shape = (num_envs, num_feet)
        self.air, self.contact = np.zeros(shape), np.zeros(shape)
        self.last_air, self.last_contact = np.zeros(shape), np.zeros(shape)
        self.was_down = np.zeros(shape, dtype=bool)

    def update(self, down: np.ndarray) -> None:
        """Advance by one control step with contacts ``down`` (Shape: (n, f), bool)."""
        touchdown, liftoff = down & ~self.was_down, ~down & self.was_down
        self.last_air = np.where(touchdown, self.air, self.last_air)
        self.last_contact = np.where(liftoff, self.contact, self.last_contact)
        self.air = np.where(down, 0.0, self.air + self.dt)
        self.contact = np.where(down, self.contact + self.dt, 0.0)
        self.was_down = down.copy()

    def reset(self, env_ids: np.ndarray) -> None:
        for key in self.KEYS:
            getattr(self, key)[env_ids] = 0

    def state_dict(self) -> dict:
        return {k: torch.from_numpy(getattr(self, k).copy()) for k in self.KEYS}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            getattr(self, k)[:] = v.numpy()


class _PhaseTerm:
    """A reward term on :class:`FootPhases` (reset and resume delegate to it)."""

    def __init__(self, env: Any) -> None:
        self.phases = FootPhases(env.num_envs, env.robot.num_feet, env.dt)

    def reset(self, env_ids: np.ndarray) -> None:
        self.phases.reset(env_ids)

    def state_dict(self) -> dict:
        return self.phases.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.phases.load_state_dict(state)


class air_time_variance(_PhaseTerm):  # noqa: N801 - a term, named like the function terms
    """Isaac Lab's (Spot) air-time variance penalty: variance over feet of the last air time plus the
    variance of the last contact time [s^2], each clipped at ``max_time`` [s]. Zero when every foot
    steps alike, large for a foot that only taps the ground or never lifts."""

    def __init__(self, env: Any, max_time: float = 0.5) -> None:
        super().__init__(env)
        self.max_time = max_time

    def __call__(self, s: RobotState) -> np.ndarray:
        p = self.phases
        p.update(s.foot_contact)
        moving = np.linalg.norm(s.commands[:, :2], axis=1) > 0.1
        a = np.clip(p.last_air, 0.0, self.max_time)
        c = np.clip(p.last_contact, 0.0, self.max_time)
        return (np.var(a, axis=1) + np.var(c, axis=1)) * moving


class spot_air_time(_PhaseTerm):  # noqa: N801
    """Isaac Lab's Spot ``air_time_reward``: while a command is given, each foot earns the time it has
    spent in its current phase (flight or contact) as long as that is below ``mode_time`` [s], nothing
    beyond, so phases settle near ``mode_time`` (a step frequency near 1 / (2 mode_time)); at zero
    command each foot earns (contact time - air time), clipped to +-mode_time, so the robot stands."""

    def __init__(self, env: Any, mode_time: float = 0.2) -> None:
        super().__init__(env)
        if mode_time <= 0:
            raise ConfigError(f"spot_air_time mode_time = {mode_time} must be > 0 seconds.")
        self.mode_time = mode_time

    def __call__(self, s: RobotState) -> np.ndarray:
        p = self.phases
        p.update(s.foot_contact)
        t_max = np.maximum(p.air, p.contact)
        moving_reward = np.where(t_max < self.mode_time, np.minimum(t_max, self.mode_time), 0.0)
        stance_reward = np.clip(p.contact - p.air, -self.mode_time, self.mode_time)
        given = np.any(s.commands != 0.0, axis=1)[:, None]
        return np.sum(np.where(given, moving_reward, stance_reward), axis=1)


def _foot_clearance(s: RobotState, radius: np.ndarray, terrain: Any) -> np.ndarray:
    """Height [m] of each foot's lowest point (a sphere foot's centre minus ``radius``) above the ground
    directly under its centre (``Terrain.height_at``; z = 0 on the flat floor, ``terrain`` None). Shape: (n, f)."""
    x, y = s.foot_pos[..., 0], s.foot_pos[..., 1]
    ground = terrain.height_at(x, y) if terrain is not None else np.zeros_like(x)
    return s.foot_pos[..., 2] - radius - ground


class feet_stumble:  # noqa: N801 - a term, named like the function terms
    """Feet touching something while not supported from below (legged_gym's feet_stumble, approximated).

    legged_gym counts a foot whose horizontal contact force exceeds ``5 x`` its vertical force. Our
    contact sensors report only whether a foot touches, not the force, so this term uses the geometry
    instead: a foot in contact whose lowest point is more than ``margin`` [m] above the ground directly
    under its centre (``Terrain.height_at``; z = 0 on the flat floor) is touching a vertical face (a
    riser, an obstacle's side) or standing on an edge. Value: the number of such feet.
    """

    def __init__(self, env: Any, margin: float = 0.02) -> None:
        if margin < 0:
            raise ConfigError(f"feet_stumble margin = {margin} must be >= 0 m.")
        robot = env.robot
        self.radius = robot.foot_radius  # a sphere foot's centre is one radius above the ground
        self.terrain = getattr(robot, "terrain", None)
        self.margin = float(margin)

    def __call__(self, s: RobotState) -> np.ndarray:
        unsupported = _foot_clearance(s, self.radius, self.terrain) > self.margin
        return np.sum(unsupported & s.foot_contact, axis=1).astype(np.float64)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""


class feet_swing_height:  # noqa: N801 - a term, named like the function terms
    """Swing feet should follow a clearance profile above the ground under them (walk-these-ways'
    ``feet_clearance_cmd_linear``, Margolis & Agrawal 2022, made terrain-aware).

    For each foot in swing (gait-clock phase past ``duty``) with progress ``u`` in [0, 1] through the swing,
    the target clearance is ``height * (1 - |2u - 1|)`` [m] (a triangle peaking mid-swing); the clearance is
    the foot's lowest point above the ground directly under it (``Terrain.height_at``; z = 0 on the flat
    floor). Value: the sum over feet of ``(clearance - target)^2 * (1 - desired_stance)`` [m^2], zero for
    envs told to stand. Use a negative weight. Needs a ``gait_clock`` command.
    """

    def __init__(self, env: Any, height: float = 0.08, duty: float = 0.5, kappa: float = 0.07,
                 min_command: float = 0.1) -> None:
        if not 0.0 < height < 1.0:
            raise ConfigError(f"feet_swing_height height = {height} must be within (0, 1) m.")
        if not 0.0 < duty < 1.0:
            raise ConfigError(f"feet_swing_height duty = {duty} must be within (0, 1): the stance fraction of a cycle.")
        self.radius = env.robot.foot_radius
        self.terrain = getattr(env.robot, "terrain", None)
        self.height, self.duty, self.kappa, self.min_command = float(height), float(duty), float(kappa), min_command

    def __call__(self, s: RobotState) -> np.ndarray:
        if s.gait_phase is None:
            raise ConfigError("reward term feet_swing_height needs a gait clock; add a 'gait_clock' command to the "
                              "task's commands.")
        clearance = _foot_clearance(s, self.radius, self.terrain)
        progress = np.clip((s.gait_phase - self.duty) / (1.0 - self.duty), 0.0, 1.0)
        target = self.height * (1.0 - np.abs(2.0 * progress - 1.0))
        swing = 1.0 - desired_stance(s.gait_phase, self.duty, self.kappa)
        value = np.sum((clearance - target) ** 2 * swing, axis=1)
        return np.where(commanded(s, self.min_command), value, 0.0)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""
