"""Velocity commands: uniform samples in the configured ranges, resampled on a timer."""

from __future__ import annotations

import numpy as np

from stridelab.config import CommandConfig


class VelocityCommand:
    """Per-env (vx, vy, yaw rate) commands with their own resample timers.

    Attributes:
        commands: Shape: (num_envs, 3); [m/s, m/s, rad/s].
        fixed: if set, every env gets this command instead of random samples (evaluation, play).
    """

    def __init__(self, cfg: CommandConfig, num_envs: int, dt: float, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.dt = dt
        self.rng = rng
        self.commands = np.zeros((num_envs, 3))
        self.time_left = np.zeros(num_envs)
        self.fixed: np.ndarray | None = None

    def resample(self, ids: np.ndarray) -> None:
        """Draw new commands for ``ids`` and restart their timers."""
        if len(ids) == 0:
            return
        self.time_left[ids] = self.cfg.resample_s
        if self.fixed is not None:
            self.commands[ids] = np.broadcast_to(self.fixed, (len(self.commands), 3))[ids]
            return
        c = self.cfg
        low = np.array([c.lin_vel_x[0], c.lin_vel_y[0], c.ang_vel_yaw[0]])
        high = np.array([c.lin_vel_x[1], c.lin_vel_y[1], c.ang_vel_yaw[1]])
        cmd = self.rng.uniform(low, high, size=(len(ids), 3))
        cmd[np.linalg.norm(cmd[:, :2], axis=1) < c.min_lin_vel, :2] = 0.0
        cmd[self.rng.random(len(ids)) < c.standing_fraction] = 0.0
        self.commands[ids] = cmd

    def step(self) -> None:
        """Advance timers by one control step and resample expired commands."""
        self.time_left -= self.dt
        self.resample(np.flatnonzero(self.time_left <= 0.0))
