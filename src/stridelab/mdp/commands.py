"""Command terms: classes built with ``(env, **params)`` that hold ``command`` (n, k) and resample it."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stridelab.errors import ConfigError

Range = tuple[float, float]


class velocity_command:  # noqa: N801 - a term, named like the function terms
    """Per-env (vx [m/s], vy [m/s], yaw rate [rad/s]) commands in the base's heading frame.

    Uniform samples in the ranges, resampled every ``resample_s``; ``standing_fraction`` of the
    samples command standing still; planar commands below ``min_lin_vel`` [m/s] become zero.

    Attributes:
        command: Shape: (num_envs, 3).
        fixed: if set, every env gets this command instead of random samples (evaluation, play).
    """

    role = "velocity"  # the command RobotState.commands carries (see CommandManager.velocity)

    def __init__(self, env: Any, resample_s: float = 10.0, lin_vel_x: Range = (-1.0, 1.0),
                 lin_vel_y: Range = (-0.5, 0.5), ang_vel_yaw: Range = (-1.0, 1.0), standing_fraction: float = 0.05,
                 min_lin_vel: float = 0.1) -> None:
        if resample_s <= 0:
            raise ConfigError(f"velocity command resample_s = {resample_s} must be > 0 seconds.")
        for name, r in (("lin_vel_x", lin_vel_x), ("lin_vel_y", lin_vel_y), ("ang_vel_yaw", ang_vel_yaw)):
            if not isinstance(r, (tuple, list)) or len(r) != 2 or r[0] > r[1]:
                raise ConfigError(f"velocity command {name} = {r!r} is not a valid range; give (low, high) with "
                                  f"low <= high.")
        if not 0.0 <= standing_fraction <= 1.0:
            raise ConfigError(f"velocity command standing_fraction = {standing_fraction} must be within [0, 1].")
        self.rng = env.rng
        self.resample_s = resample_s
        self.low = np.array([lin_vel_x[0], lin_vel_y[0], ang_vel_yaw[0]], dtype=np.float64)
        self.high = np.array([lin_vel_x[1], lin_vel_y[1], ang_vel_yaw[1]], dtype=np.float64)
        self.standing_fraction = standing_fraction
        self.min_lin_vel = min_lin_vel
        self.command = np.zeros((env.num_envs, 3))
        self.time_left = np.zeros(env.num_envs)
        self.fixed: np.ndarray | None = None

    def resample(self, env_ids: np.ndarray) -> None:
        """Draw new commands for ``env_ids`` and restart their timers."""
        if len(env_ids) == 0:
            return
        self.time_left[env_ids] = self.resample_s
        if self.fixed is not None:
            self.command[env_ids] = np.broadcast_to(self.fixed, self.command.shape)[env_ids]
            return
        cmd = self.rng.uniform(self.low, self.high, size=(len(env_ids), 3))
        cmd[np.linalg.norm(cmd[:, :2], axis=1) < self.min_lin_vel, :2] = 0.0
        cmd[self.rng.random(len(env_ids)) < self.standing_fraction] = 0.0
        self.command[env_ids] = cmd

    def step(self, dt: float) -> None:
        """Advance the timers by ``dt`` [s] and resample expired commands."""
        self.time_left -= dt
        self.resample(np.flatnonzero(self.time_left <= 0.0))

    def set_fixed(self, command: np.ndarray | None) -> None:
        """Hold ``command`` (Shape: (n, 3) or (3,)) in every env from now on, or ``None`` to sample again."""
        self.fixed = None if command is None else np.asarray(command, dtype=np.float64)
        self.resample(np.arange(len(self.command)))

    def ranges(self) -> dict[str, list[float]]:
        """The sampled ranges by component (for ``policy.json`` and the evaluation grid)."""
        return {name: [float(self.low[i]), float(self.high[i])]
                for i, name in enumerate(("lin_vel_x", "lin_vel_y", "ang_vel_yaw"))}

    def state_dict(self) -> dict:
        return {"command": torch.from_numpy(self.command.copy()), "time_left": torch.from_numpy(self.time_left.copy())}

    def load_state_dict(self, state: dict) -> None:
        self.command[:] = state["command"].numpy()
        self.time_left[:] = state["time_left"].numpy()
