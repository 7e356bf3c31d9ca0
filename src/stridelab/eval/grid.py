"""Deterministic evaluation over a fixed command grid, and the definition of "walks".

Grid: vx in {-1, -0.5, 0, 0.5, 1} m/s x vy in {-0.5, 0, 0.5} m/s x yaw rate in {-1, 0, 1} rad/s
(45 commands), each held for ``duration_s`` from a standing start, ``envs_per_command`` envs each.
Errors are averaged over the time after ``settle_s`` (the robot needs a moment to accelerate) and
over envs until they fall; an env that terminates before the end counts as a fall.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from stridelab.config import EnvConfig, override

GRID_VX = (-1.0, -0.5, 0.0, 0.5, 1.0)
GRID_VY = (-0.5, 0.0, 0.5)
GRID_YAW = (-1.0, 0.0, 1.0)


@dataclass(frozen=True)
class WalkCriteria:
    """Thresholds of "walks": all three must hold."""

    max_lin_vel_error: float = 0.15  # [m/s]
    max_yaw_rate_error: float = 0.2  # [rad/s]
    max_fall_rate: float = 0.02


def command_grid() -> np.ndarray:
    """The 45 evaluation commands. Shape: (45, 3); [m/s, m/s, rad/s]."""
    return np.array(list(itertools.product(GRID_VX, GRID_VY, GRID_YAW)), dtype=np.float64)


def eval_env_cfg(env_cfg: EnvConfig, num_envs: int, duration_s: float, seed: int) -> EnvConfig:
    """The training task with fixed commands, no pushes and an episode longer than the evaluation."""
    return override(env_cfg, num_envs=num_envs, seed=seed, episode_length_s=duration_s + 1.0,
                    commands={"resample_s": duration_s + 1.0}, randomization={"push_interval_s": 0.0})


def evaluate(policy: Callable, env_cfg: EnvConfig, envs_per_command: int = 4, duration_s: float = 10.0,
             settle_s: float = 1.0, seed: int = 0, criteria: WalkCriteria = WalkCriteria(),
             commands: np.ndarray | None = None, env_factory: Callable | None = None) -> dict:
    """Run the grid with a deterministic policy; return metrics, per-command rows and the verdict.

    Args:
        policy: maps the observation TensorDict to actions (n, num_actions); called under inference mode.
        env_factory: builds the env from a config (defaults to :class:`LocomotionEnv`).
    Returns:
        dict with lin_vel_error [m/s], yaw_rate_error [rad/s], fall_rate, power [W], foot_slip [m/s],
        walks (bool), criteria, rows (per command) and the settings used.
    """
    from stridelab.envs.locomotion_env import LocomotionEnv

    grid = command_grid() if commands is None else np.asarray(commands, dtype=np.float64)
    k = envs_per_command
    n = len(grid) * k
    env = (env_factory or LocomotionEnv)(eval_env_cfg(env_cfg, n, duration_s, seed))
    cmd = np.repeat(grid, k, axis=0)
    env.set_commands(cmd)
    obs = env.reset_all()
    if hasattr(policy, "reset"):
        policy.reset()
    steps = int(round(duration_s / env.dt))
    settle_s = min(settle_s, 0.5 * duration_s)  # a short evaluation still measures its second half
    settle = int(round(settle_s / env.dt))
    alive = np.ones(n, dtype=bool)
    sums = {key: np.zeros(n) for key in ("lin", "yaw", "power", "slip", "count")}
    with torch.inference_mode():
        for t in range(steps):
            actions = policy(obs)
            obs, _, dones, extras = env.step(actions)
            s = env.last_state  # state before any reset of this step
            fell = dones.numpy() & ~extras["time_outs"].numpy()
            alive &= ~fell
            if t >= settle:
                m = alive.astype(np.float64)
                sums["lin"] += m * np.linalg.norm(cmd[:, :2] - s.base_lin_vel[:, :2], axis=1)
                sums["yaw"] += m * np.abs(cmd[:, 2] - s.base_ang_vel[:, 2])
                sums["power"] += m * np.sum(np.abs(s.torques * s.joint_vel), axis=1)
                contact = s.foot_contact
                slip = np.linalg.norm(s.foot_vel[:, :, :2], axis=2) * contact
                sums["slip"] += m * slip.sum(axis=1) / np.maximum(contact.sum(axis=1), 1)
                sums["count"] += m
    # an env that fell before the settling time has no samples: it counts as a fall, with NaN errors
    count = np.where(sums["count"] > 0, sums["count"], np.nan)
    per_env = {key: sums[key] / count for key in ("lin", "yaw", "power", "slip")}
    falls = ~alive
    rows = []
    for i, c in enumerate(grid):
        sl = slice(i * k, (i + 1) * k)
        rows.append({"vx": c[0], "vy": c[1], "yaw_rate": c[2],
                     "lin_vel_error": _nanmean(per_env["lin"][sl]),
                     "yaw_rate_error": _nanmean(per_env["yaw"][sl]),
                     "fall_rate": float(falls[sl].mean()),
                     "power": _nanmean(per_env["power"][sl])})
    result = {
        "lin_vel_error": _nanmean(np.array([r["lin_vel_error"] for r in rows])),
        "yaw_rate_error": _nanmean(np.array([r["yaw_rate_error"] for r in rows])),
        "fall_rate": float(falls.mean()),
        "power": _nanmean(per_env["power"]),
        "foot_slip": _nanmean(per_env["slip"]),
    }
    result["walks"] = bool(result["lin_vel_error"] <= criteria.max_lin_vel_error
                           and result["yaw_rate_error"] <= criteria.max_yaw_rate_error
                           and result["fall_rate"] <= criteria.max_fall_rate)
    result["criteria"] = {"max_lin_vel_error": criteria.max_lin_vel_error,
                          "max_yaw_rate_error": criteria.max_yaw_rate_error, "max_fall_rate": criteria.max_fall_rate}
    result["settings"] = {"envs_per_command": k, "duration_s": duration_s, "settle_s": settle_s, "seed": seed,
                          "num_commands": len(grid), "task": env_cfg.task}
    result["units"] = {"lin_vel_error": "m/s", "yaw_rate_error": "rad/s", "fall_rate": "fraction of envs",
                       "power": "W (sum over joints of |torque x joint velocity|)",
                       "foot_slip": "m/s (planar speed of feet in contact)"}
    result["rows"] = rows
    return result


def _nanmean(values: np.ndarray) -> float:
    """Mean over the finite values; NaN (never a pass) if there are none."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
