"""Two checks of how a walking policy moves, beyond tracking error: how hard its feet land, and how fast it
answers a speed step.

- **Touchdown force peaks** (:func:`touchdown_peaks`): per foot and contact phase (debounced as in
  :mod:`stridelab.eval.gait`), the largest vertical ground reaction force, in body weights (the robot's
  whole mass x g). A biped walking softly peaks near 1-1.3 body weights; a stomp is 2 or more. The force
  is sampled once per control step (the last physics substep's), so a peak shorter than a control
  period can be missed: the figures are lower bounds of the true peaks.
- **Speed step response** (:func:`rise_time`): the command steps from standing to ``speed``; the rise
  time is how long after the step the forward base speed, averaged over a trailing ``window_s`` (one
  gait cycle or so smooths the per-step surge), first reaches ``fraction`` of ``speed``.

:func:`measure_response` runs both on a policy with the task's evaluation env (commands held, no pushes,
randomizations at their full ranges), all envs batched.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from stridelab.config import EnvConfig


def phase_peaks(force: np.ndarray, contact: np.ndarray, min_phase_steps: int = 3) -> list[float]:
    """The largest value of ``force`` in each completed contact phase, pooled over envs and feet.

    A phase is a run of ``contact`` of at least ``min_phase_steps`` steps (shorter runs are chatter);
    the runs still open at the end are not counted. Shapes: force, contact (T, n, f).
    """
    peaks: list[float] = []
    steps, n, f = contact.shape
    run = np.zeros((n, f), dtype=np.int64)
    best = np.zeros((n, f))
    for t in range(steps):
        down = contact[t]
        best = np.where(down, np.maximum(np.where(run > 0, best, -np.inf), force[t]), best)
        ended = ~down & (run >= min_phase_steps)
        peaks.extend(best[ended].tolist())
        run = np.where(down, run + 1, 0)
    return peaks


def rise_time(speed: np.ndarray, dt: float, target: float, fraction: float = 0.9, window_s: float = 0.5
              ) -> np.ndarray:
    """Per env, the time [s] from the start of ``speed`` until its trailing ``window_s`` average first reaches
    ``fraction`` x ``target``; ``inf`` where it never does. Shapes: speed (T, n) [m/s]; returns (n,)."""
    width = max(1, int(round(window_s / dt)))
    cumulative = np.cumsum(np.vstack([np.zeros((1, speed.shape[1])), speed]), axis=0)
    average = np.full_like(speed, -np.inf)
    average[width - 1:] = (cumulative[width:] - cumulative[:-width]) / width
    reached = average >= fraction * target
    first = np.argmax(reached, axis=0).astype(np.float64)
    return np.where(reached.any(axis=0), (first + 1) * dt, np.inf)


def _finite(value: float) -> float | None:
    """``value``, or None where it is not finite (a share of envs never reached the speed): JSON has no inf."""
    return float(value) if np.isfinite(value) else None


def measure_response(policy: Callable, env_cfg: EnvConfig, num_envs: int = 32, seed: int = 0,
                     walk_speed: float = 0.5, walk_s: float = 8.0, step_speed: float = 1.0,
                     stand_s: float = 2.0, step_s: float = 4.0) -> dict:
    """Touchdown peaks while walking at ``walk_speed`` [m/s] (after 2 s of settling), then a stop (``stand_s`` at
    zero), then, from a fresh start standing for ``stand_s``, the rise time of a step to ``step_speed``. Envs that
    fall are left out of the figure of that part and counted.

    Returns:
        ``body_weight_n``; ``touchdown_peak_bw`` {median, p95, max, count} in body weights;
        ``rise_time_s`` {median, p90 (None where more than half / a tenth of the envs never reach the speed), reached
        (share of envs)} and the definitions used; ``walk_falls``,
        ``stop_falls`` (of the envs still up after walking) and ``step_falls``, counts of ``envs``.
    """
    from stridelab.envs import make_env
    from stridelab.eval.grid import eval_env_cfg

    out: dict = {}
    total = 2.0 + walk_s + 2 * stand_s + step_s
    env = make_env(eval_env_cfg(env_cfg, num_envs, total, seed))
    try:
        weight = env.robot.weight
        out["body_weight_n"] = weight
        obs = env.reset_all()
        if hasattr(policy, "reset"):
            policy.reset()
        fallen = np.zeros(num_envs, dtype=bool)

        def run(command: tuple[float, float, float], seconds: float, keep: list | None) -> None:
            nonlocal obs
            env.set_commands(np.array(command, dtype=np.float64))
            for _ in range(int(round(seconds / env.dt))):
                with torch.inference_mode():
                    obs, _, dones, extras = env.step(policy(obs))
                if hasattr(policy, "reset"):
                    policy.reset(dones)
                fallen[(dones.numpy() & ~extras["time_outs"].numpy()).astype(bool)] = True
                if keep is not None:
                    s = env.last_state
                    keep.append((s.foot_force[:, :, 2] / weight, s.foot_contact.copy(), s.base_lin_vel[:, 0].copy()))

        run((walk_speed, 0.0, 0.0), 2.0, None)
        walking: list = []
        run((walk_speed, 0.0, 0.0), walk_s, walking)
        walked = ~fallen
        run((0.0, 0.0, 0.0), stand_s, None)  # stopping from walking (a fall here is counted, not measured)
        out["stop_falls"] = int((fallen & walked).sum())
        fallen[:] = False
        obs = env.reset_all()  # the step response starts from a fresh stand
        if hasattr(policy, "reset"):
            policy.reset()
        run((0.0, 0.0, 0.0), stand_s, None)
        stepping: list = []
        run((step_speed, 0.0, 0.0), step_s, stepping)
        force = np.stack([w[0] for w in walking])[:, walked]
        contact = np.stack([w[1] for w in walking])[:, walked]
        peaks = np.asarray(phase_peaks(force, contact))
        out["touchdown_peak_bw"] = {"median": float(np.median(peaks)) if len(peaks) else None,
                                    "p95": float(np.percentile(peaks, 95)) if len(peaks) else None,
                                    "max": float(peaks.max()) if len(peaks) else None, "count": int(len(peaks)),
                                    "speed_m_s": walk_speed}
        times = rise_time(np.stack([w[2] for w in stepping])[:, ~fallen], env.dt, step_speed)
        finite = times[np.isfinite(times)]
        out["rise_time_s"] = {"median": _finite(np.median(times)) if len(times) else None,
                              "p90": _finite(np.percentile(times, 90)) if len(times) else None,
                              "reached": float(len(finite) / max(1, len(times))), "fraction": 0.9,
                              "window_s": 0.5, "from_m_s": 0.0, "to_m_s": step_speed}
        out["envs"], out["walk_falls"], out["step_falls"] = num_envs, int((~walked).sum()), int(fallen.sum())
    finally:
        env.close()
    return out
