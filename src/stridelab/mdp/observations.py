"""Observation groups built from named, scaled terms.

``policy``: what the robot measures (IMU, encoders, command, last action), with noise and an
optional history. ``privileged``: what only the simulator knows (critic and teacher inputs).
The layout (names, sizes, scales) is exported with policies so that a robot can rebuild the vector.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from stridelab.config import ObservationConfig
from stridelab.mdp.state import RobotState


@dataclass(frozen=True)
class ObsTerm:
    """One named slice of an observation vector: ``value * scale`` (+ noise * scale)."""

    name: str
    size: int
    scale: float
    noise: float  # half-width of the uniform noise, in the term's units (before scaling)


def policy_layout(cfg: ObservationConfig, num_joints: int) -> list[ObsTerm]:
    """Terms of one policy frame, in order (45 values for a 12-joint robot)."""
    n = cfg.noise
    return [
        ObsTerm("base_ang_vel", 3, cfg.ang_vel_scale, cfg.noise_ang_vel * n),
        ObsTerm("projected_gravity", 3, 1.0, cfg.noise_gravity * n),
        ObsTerm("velocity_commands", 3, 1.0, 0.0),
        ObsTerm("joint_pos", num_joints, cfg.joint_pos_scale, cfg.noise_joint_pos * n),
        ObsTerm("joint_vel", num_joints, cfg.joint_vel_scale, cfg.noise_joint_vel * n),
        ObsTerm("last_action", num_joints, 1.0, 0.0),
    ]


def command_scales(cfg: ObservationConfig) -> np.ndarray:
    """Per-component scale of the velocity command (lin, lin, ang). Shape: (3,)."""
    return np.array([cfg.lin_vel_scale, cfg.lin_vel_scale, cfg.ang_vel_scale])


def policy_frame(s: RobotState, cfg: ObservationConfig, default_pose: np.ndarray, rng: np.random.Generator,
                 layout: list[ObsTerm], noise: bool = True) -> np.ndarray:
    """One policy frame. Shape: (n, sum of term sizes).

    joint_pos is relative to ``default_pose``; commands are scaled per component. ``noise=False``
    skips the noise draw (and leaves the RNG untouched).
    """
    values = {
        "base_ang_vel": s.base_ang_vel,
        "projected_gravity": s.projected_gravity,
        "velocity_commands": s.commands * command_scales(cfg),
        "joint_pos": s.joint_pos - default_pose,
        "joint_vel": s.joint_vel,
        "last_action": s.actions,
    }
    frame = np.concatenate([values[t.name] for t in layout], axis=1)
    noise_scale, scale = _layout_vectors(tuple(layout))
    noisy = noise_scale > 0.0
    if noise and noisy.any():  # one draw for the noisy columns: uniform in [-noise, noise]
        frame[:, noisy] += (2.0 * rng.random((len(frame), int(noisy.sum()))) - 1.0) * noise_scale[noisy]
    frame *= scale
    return np.clip(frame, -cfg.clip, cfg.clip, out=frame)


@functools.lru_cache(maxsize=32)
def _layout_vectors(layout: tuple[ObsTerm, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-column noise half-width and scale of a layout (cached: layouts are immutable)."""
    noise = np.concatenate([np.full(t.size, t.noise) for t in layout])
    scale = np.concatenate([np.full(t.size, t.scale) for t in layout])
    noise.flags.writeable = scale.flags.writeable = False
    return noise, scale


def privileged_layout(num_joints: int, num_feet: int) -> list[ObsTerm]:
    """Terms of the privileged group (RL-Lite3's list plus the true base velocity)."""
    return [
        ObsTerm("base_lin_vel", 3, 2.0, 0.0),
        ObsTerm("foot_contact", num_feet, 1.0, 0.0),
        ObsTerm("friction", num_feet, 1.0, 0.0),
        ObsTerm("added_mass", 1, 1.0, 0.0),
        ObsTerm("com_offset", 3, 10.0, 0.0),
        ObsTerm("motor_strength", num_joints, 1.0, 0.0),
        ObsTerm("kp_factor", num_joints, 1.0, 0.0),
        ObsTerm("kd_factor", num_joints, 1.0, 0.0),
        ObsTerm("push", 6, 1.0, 0.0),
    ]


def privileged_obs(s: RobotState, params: dict[str, np.ndarray], layout: list[ObsTerm]) -> np.ndarray:
    """Privileged group: true base velocity, contacts and the randomized physical parameters.

    Args:
        params: per-env randomized values by term name (see ``DomainRandomizer.params``).
    Returns:
        Shape: (n, sum of term sizes).
    """
    values = {"base_lin_vel": s.base_lin_vel, "foot_contact": s.foot_contact.astype(np.float64), **params}
    return np.concatenate([values[t.name].reshape(len(s.base_pos), -1) * t.scale for t in layout], axis=1)


class History:
    """Rolling buffer of the last ``length`` policy frames (oldest first).

    Attributes:
        buf: Shape: (n, length, frame_size).
    """

    def __init__(self, num_envs: int, length: int, frame_size: int) -> None:
        self.buf = np.zeros((num_envs, length, frame_size))

    def push(self, frame: np.ndarray, reset_ids: np.ndarray) -> np.ndarray:
        """Append a frame; envs in ``reset_ids`` are refilled with it. Returns (n, length * frame_size)."""
        self.buf[:, :-1] = self.buf[:, 1:]
        self.buf[:, -1] = frame
        if len(reset_ids):
            self.buf[reset_ids] = frame[reset_ids, None, :]
        return self.buf.reshape(len(frame), -1)

    def replace_last(self, frame: np.ndarray) -> np.ndarray:
        """Overwrite the newest frame (e.g. after a command change). Returns (n, length * frame_size)."""
        self.buf[:, -1] = frame
        return self.buf.reshape(len(frame), -1)
