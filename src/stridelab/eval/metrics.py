"""The command grid, the tracking and gait metrics over it, and the definition of "walks".

One implementation, used by ``stridelab eval`` (many envs in the training simulator) and by the
sim-to-sim report (one deploy simulation at a time): both feed :class:`GridMetrics` per-step samples
of the envs they run, one grid command per env.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

#: the grid evaluation of a run (walk checks and ``stridelab eval``): envs per grid command, seconds each command
#: is held, and the offset of its seed from the run's (the same draws wherever the verdict is taken)
GRID_ENVS_PER_COMMAND = 4
GRID_DURATION_S = 10.0
GRID_SEED_OFFSET = 1000

GRID_VX = (-1.0, -0.5, 0.0, 0.5, 1.0)
GRID_VY = (-0.5, 0.0, 0.5)
GRID_YAW = (-1.0, 0.0, 1.0)

UNITS = {"lin_vel_error": "m/s", "yaw_rate_error": "rad/s", "fall_rate": "fraction of envs",
         "power": "W (sum over joints of |torque x joint velocity|)",
         "foot_slip": "m/s (planar speed of feet in contact)"}


@dataclass(frozen=True)
class WalkCriteria:
    """Thresholds of "walks": all three must hold."""

    max_lin_vel_error: float = 0.15  # [m/s]
    max_yaw_rate_error: float = 0.2  # [rad/s]
    max_fall_rate: float = 0.02

    def as_dict(self) -> dict[str, float]:
        return {"max_lin_vel_error": self.max_lin_vel_error, "max_yaw_rate_error": self.max_yaw_rate_error,
                "max_fall_rate": self.max_fall_rate}


def command_grid(ranges: dict | None = None) -> np.ndarray:
    """The evaluation commands: every combination of 5 forward speeds, 3 lateral speeds and 3 yaw rates.

    With the task's command ``ranges`` (``velocity_command.ranges()``: lin_vel_x, lin_vel_y, ang_vel_yaw as
    (low, high)) the values span them: vx evenly in 5 steps, vy and yaw at (low, 0, high), duplicates
    dropped. Without, the quadruped's ranges (+-1 m/s, +-0.5 m/s, +-1 rad/s). Shape: (k <= 45, 3);
    [m/s, m/s, rad/s]."""
    if ranges is None:
        axes = (GRID_VX, GRID_VY, GRID_YAW)
    else:
        (x0, x1), (y0, y1), (w0, w1) = (ranges[k] for k in ("lin_vel_x", "lin_vel_y", "ang_vel_yaw"))
        axes = (np.unique(np.linspace(x0, x1, 5)), np.unique([y0, np.clip(0.0, y0, y1), y1]),
                np.unique([w0, np.clip(0.0, w0, w1), w1]))
    return np.array(list(itertools.product(*axes)), dtype=np.float64)


def command_ranges(env_cfg) -> dict | None:
    """The (low, high) ranges of the task's ``velocity_command`` term (its params over its defaults), or
    ``None`` if the task has none."""
    import inspect

    from stridelab.mdp.commands import velocity_command

    term = next((t for t in env_cfg.commands.values() if t.func in ("velocity_command", "stridelab.mdp.commands:"
                                                                     "velocity_command")), None)
    if term is None:
        return None
    defaults = {k: p.default for k, p in inspect.signature(velocity_command).parameters.items()}
    return {k: tuple(term.params.get(k, defaults[k])) for k in ("lin_vel_x", "lin_vel_y", "ang_vel_yaw")}


class GridMetrics:
    """Per-env sums of tracking error, power and foot slip over the measured steps, until an env falls.

    Env ``i`` holds command ``grid[i // per_command]``. An env that falls stops contributing and
    counts as a fall; one that fell before any measured step has NaN errors (never a pass).
    """

    def __init__(self, grid: np.ndarray, per_command: int) -> None:
        self.grid = np.asarray(grid, dtype=np.float64)
        self.k = per_command
        n = len(self.grid) * per_command
        self.commands = np.repeat(self.grid, per_command, axis=0)
        self.alive = np.ones(n, dtype=bool)
        self.sums = {key: np.zeros(n) for key in ("lin", "yaw", "power", "slip", "count")}

    def add(self, env_ids: np.ndarray, fell: np.ndarray, measure: bool, base_lin_vel: np.ndarray,
            base_ang_vel: np.ndarray, torques: np.ndarray, joint_vel: np.ndarray, foot_contact: np.ndarray,
            foot_vel: np.ndarray) -> None:
        """One step of envs ``env_ids`` (Shapes: (m,) ids and fell; (m, 3) velocities in the base frame
        [m/s, rad/s]; (m, j) torques [N m] and joint velocities [rad/s]; (m, f) contacts; (m, f, 3) foot
        velocities [m/s]); samples count only if ``measure`` (after the settling time)."""
        self.alive[env_ids] &= ~np.asarray(fell, dtype=bool)
        if not measure:
            return
        m = self.alive[env_ids].astype(np.float64)
        cmd = self.commands[env_ids]
        s = self.sums
        s["lin"][env_ids] += m * np.linalg.norm(cmd[:, :2] - base_lin_vel[:, :2], axis=1)
        s["yaw"][env_ids] += m * np.abs(cmd[:, 2] - base_ang_vel[:, 2])
        s["power"][env_ids] += m * np.sum(np.abs(torques * joint_vel), axis=1)
        contact = np.asarray(foot_contact, dtype=bool)
        slip = np.linalg.norm(foot_vel[:, :, :2], axis=2) * contact
        s["slip"][env_ids] += m * slip.sum(axis=1) / np.maximum(contact.sum(axis=1), 1)
        s["count"][env_ids] += m

    def result(self, criteria: WalkCriteria = WalkCriteria()) -> dict:
        """Grid means, per-command rows, units and the verdict."""
        count = np.where(self.sums["count"] > 0, self.sums["count"], np.nan)
        per_env = {key: self.sums[key] / count for key in ("lin", "yaw", "power", "slip")}
        falls = ~self.alive
        rows = []
        for i, c in enumerate(self.grid):
            sl = slice(i * self.k, (i + 1) * self.k)
            rows.append({"vx": c[0], "vy": c[1], "yaw_rate": c[2], "lin_vel_error": _nanmean(per_env["lin"][sl]),
                         "yaw_rate_error": _nanmean(per_env["yaw"][sl]), "fall_rate": float(falls[sl].mean()),
                         "power": _nanmean(per_env["power"][sl])})
        result = {
            "lin_vel_error": _nanmean(np.array([r["lin_vel_error"] for r in rows])),
            "yaw_rate_error": _nanmean(np.array([r["yaw_rate_error"] for r in rows])),
            "fall_rate": float(falls.mean()),
            "power": _nanmean(per_env["power"]),
            "foot_slip": _nanmean(per_env["slip"]),
        }
        result["walks"] = walks(result, criteria)
        result["criteria"] = criteria.as_dict()
        result["units"] = dict(UNITS)
        result["rows"] = rows
        return result


def walks(result: dict, criteria: WalkCriteria = WalkCriteria()) -> bool:
    """The verdict: tracking errors and the fall rate within the criteria (NaN never passes)."""
    return bool(result["lin_vel_error"] <= criteria.max_lin_vel_error
                and result["yaw_rate_error"] <= criteria.max_yaw_rate_error
                and result["fall_rate"] <= criteria.max_fall_rate)


def _nanmean(values: np.ndarray) -> float:
    """Mean over the finite values; NaN (never a pass) if there are none."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
