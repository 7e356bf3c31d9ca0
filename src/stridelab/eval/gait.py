"""Gait metrics from foot contacts: duty factor, step frequency, stance and swing time, asymmetry, slip.

Fed one step at a time for all envs (vectorized over envs and feet), alongside
:class:`~stridelab.eval.metrics.GridMetrics`. Definitions, per foot, over the measured steps of envs
that have not fallen:

- duty factor: the share of time in contact;
- step frequency [Hz]: 1 / (mean stance time + mean swing time), the foot's cycle rate;
- stance / swing time [s]: mean length of completed contact / flight phases, after debouncing: a
  change of contact counts only once it has lasted ``min_phase_s`` (0.06 s, 3 control steps at 50 Hz),
  so a swing foot that scuffs the ground for a step, or a stance foot that chatters, does not split a
  phase in two (gait analysis likewise ignores phases shorter than a few tens of ms);
- left/right asymmetry: |a - b| / mean(a, b) of the duty factors of mirrored feet pairs (the largest
  pair), likewise front/rear over the front and rear feet;
- foot slip [m/s]: planar speed of the contact point (``RobotState.foot_vel``) of feet in stance
  (debounced, and touching at that step);
- all feet down at zero command: the share of zero-command steps with every foot in contact;
- step length [m] (with foot positions): at each touchdown of a foot, how far ahead of its mirror foot
  (the other foot of its left/right pair) it lands, along the base's heading; reported at 1 m/s, with
  the left/right asymmetry of step length and of stance time (|a - b| / mean(a, b), largest pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaitCriteria:
    """What a natural, symmetric gait meets (the default quadruped's bar)."""

    max_duty_factor_spread: float = 0.15  # every foot within 15 % of the mean foot's duty factor
    max_left_right_asymmetry: float = 0.10
    step_frequency_hz: tuple[float, float] = (1.5, 3.5)  # at 1 m/s forward
    min_all_feet_down_at_zero: float = 0.95
    max_foot_slip: float = 0.1  # [m/s]


class GaitMetrics:
    """Per env and foot: contact time, touchdowns, completed stance and swing phases."""

    def __init__(self, num_envs: int, num_feet: int, dt: float, min_phase_s: float = 0.06) -> None:
        self.dt = dt
        shape = (num_envs, num_feet)
        self.confirm_steps = max(1, int(round(min_phase_s / dt)))
        self.pending = np.zeros(shape, dtype=np.int64)  # steps the raw contact has differed from the debounced one
        self.last = np.zeros(shape, dtype=bool)
        self.primed = False  # the first step only sets the contact state: it is no touchdown
        self.started = np.zeros(shape, dtype=bool)  # a phase boundary was seen: durations count from then
        self.phase = np.zeros(shape)
        self.contact_time = np.zeros(shape)
        self.time = np.zeros(num_envs)
        self.stance = np.zeros(shape)
        self.stance_n = np.zeros(shape)
        self.swing = np.zeros(shape)
        self.swing_n = np.zeros(shape)
        self.slip = np.zeros(num_envs)
        self.slip_n = np.zeros(num_envs)
        self.idle_all_down = np.zeros(num_envs)
        self.idle_steps = np.zeros(num_envs)
        self.step_length = np.zeros(shape)
        self.step_n = np.zeros(shape)
        self.raw_last = np.zeros(shape, dtype=bool)
        self.landing = np.zeros(shape)  # how far ahead of its mirror foot each foot last touched down [m]

    def add(self, measure: np.ndarray, contact: np.ndarray, foot_vel: np.ndarray, zero_command: np.ndarray,
            foot_pos: np.ndarray | None = None, heading: np.ndarray | None = None,
            feet_mirror_perm: tuple[int, ...] | None = None) -> None:
        """One control step. Shapes: measure (n,) bool (alive and past settling); contact (n, f) bool;
        foot_vel (n, f, 3) [m/s]; zero_command (n,) bool; optional foot_pos (n, f, 3) [m] and heading (n,)
        [rad] (the base's yaw) with the feet's mirror permutation, for step lengths."""
        raw = np.asarray(contact, dtype=bool)
        if not self.primed:
            self.last, self.primed = raw.copy(), True
        # debounce: the contact state flips once the raw contact has differed for confirm_steps steps; both
        # ends of a phase are delayed alike, so durations are not
        self.pending = np.where(raw != self.last, self.pending + 1, 0)
        contact = np.where(self.pending >= self.confirm_steps, raw, self.last)
        self.pending[contact == raw] = 0
        m = np.asarray(measure, dtype=bool)
        mf = m[:, None]
        down = contact & ~self.last
        up = ~contact & self.last
        # a phase that ends now is complete only if its start was seen
        done_swing = down & self.started & mf
        done_stance = up & self.started & mf
        if foot_pos is not None and feet_mirror_perm is not None:
            # measured at the raw touchdown (the debounced one comes a few steps later, when the other foot
            # may have moved), counted when the debounced touchdown confirms it
            ahead = foot_pos[:, :, :2] - foot_pos[:, list(feet_mirror_perm), :2]
            length = ahead[..., 0] * np.cos(heading)[:, None] + ahead[..., 1] * np.sin(heading)[:, None]
            self.landing = np.where(raw & ~self.raw_last, length, self.landing)
            self.step_length += np.where(done_swing, self.landing, 0.0)
            self.step_n += done_swing
        self.raw_last = raw
        self.swing += np.where(done_swing, self.phase, 0.0)
        self.swing_n += done_swing
        self.stance += np.where(done_stance, self.phase, 0.0)
        self.stance_n += done_stance
        changed = down | up
        self.started |= changed & mf
        self.phase = np.where(changed, self.dt, self.phase + self.dt)
        self.last = contact
        self.contact_time += (raw & mf) * self.dt  # duty factor: the raw share of time in contact
        self.time += m * self.dt
        stance = contact & raw  # debounced stance, and touching now
        speed = np.linalg.norm(foot_vel[:, :, :2], axis=2) * stance
        n_contact = stance.sum(axis=1)
        self.slip += m * speed.sum(axis=1) / np.maximum(n_contact, 1)
        self.slip_n += m
        idle = m & zero_command
        self.idle_all_down += idle & raw.all(axis=1)  # standing: every foot down at every step
        self.idle_steps += idle

    def result(self, moving: np.ndarray, forward_1ms: np.ndarray, feet: tuple[str, ...],
               feet_mirror_perm: tuple[int, ...] | None, front: np.ndarray,
               criteria: GaitCriteria = GaitCriteria()) -> dict:
        """Summary over env groups: ``moving`` (a planar command), ``forward_1ms`` (command (1, 0, 0)).

        Args:
            front: per foot, whether it is a front foot (for the front/rear asymmetry).
        """
        def per_foot(values: np.ndarray, weights: np.ndarray, envs: np.ndarray) -> np.ndarray:
            w = weights[envs]
            return values[envs].sum(axis=0) / np.maximum(w.sum(axis=0), 1e-9)

        t = np.broadcast_to(self.time[:, None], self.contact_time.shape)
        duty = per_foot(self.contact_time, t, moving)
        def cycle_rate(envs: np.ndarray) -> np.ndarray:
            if not envs.any():
                return np.full(len(feet), np.nan)
            cycle = per_foot(self.stance, self.stance_n, envs) + per_foot(self.swing, self.swing_n, envs)
            complete = (self.stance_n[envs].sum(axis=0) > 0) & (self.swing_n[envs].sum(axis=0) > 0)
            return np.where(complete, 1.0 / np.maximum(cycle, 1e-9), np.nan)

        freq_all = cycle_rate(moving)
        freq_1ms = cycle_rate(forward_1ms)
        stance = per_foot(self.stance, self.stance_n, moving)
        swing = per_foot(self.swing, self.swing_n, moving)
        mean_duty = float(duty.mean())
        spread = float(np.max(np.abs(duty - mean_duty)) / max(mean_duty, 1e-9))
        def pair_asymmetry(values: np.ndarray) -> float:
            if feet_mirror_perm is None or not np.isfinite(values).all():
                return float("nan")
            perm = np.asarray(feet_mirror_perm)
            return float(np.max(np.abs(values - values[perm]) / np.maximum(np.abs(values + values[perm]) / 2, 1e-9)))

        lr = pair_asymmetry(duty)
        step = per_foot(self.step_length, self.step_n, forward_1ms) if forward_1ms.any() else np.full(len(feet), np.nan)
        step = np.where(self.step_n[forward_1ms].sum(axis=0) > 0, step, np.nan)
        fr = (float(abs(duty[front].mean() - duty[~front].mean()) / max(mean_duty, 1e-9))
              if front.any() and (~front).any() else float("nan"))
        slip = float(self.slip[moving].sum() / max(self.slip_n[moving].sum(), 1))
        all_down = float(self.idle_all_down.sum() / self.idle_steps.sum()) if self.idle_steps.sum() else float("nan")
        step_hz = float(np.nanmean(freq_1ms)) if np.isfinite(freq_1ms).any() else float("nan")
        out = {
            "feet": list(feet),
            "duty_factor": duty.round(4).tolist(),
            "step_frequency_hz": [None if not np.isfinite(v) else round(float(v), 3) for v in freq_all],
            "step_frequency_hz_at_1ms": step_hz,
            "stance_time_s": stance.round(4).tolist(),
            "swing_time_s": swing.round(4).tolist(),
            "duty_factor_spread": spread,
            "left_right_asymmetry": lr,
            "front_rear_asymmetry": fr,
            "foot_slip": slip,
            "all_feet_down_at_zero_command": all_down,
            "step_length_m_at_1ms": [None if not np.isfinite(v) else round(float(v), 4) for v in step],
            "left_right_step_length_asymmetry": pair_asymmetry(step),
            "left_right_stance_time_asymmetry": pair_asymmetry(stance),
        }
        lo, hi = criteria.step_frequency_hz
        checks = {
            "duty_factor_spread": spread <= criteria.max_duty_factor_spread,
            "left_right_asymmetry": lr <= criteria.max_left_right_asymmetry,
            "step_frequency_at_1ms": lo <= step_hz <= hi,
            "all_feet_down_at_zero_command": all_down >= criteria.min_all_feet_down_at_zero,
            "foot_slip": slip <= criteria.max_foot_slip,
        }
        out["checks"] = {k: bool(v) for k, v in checks.items()}
        out["natural"] = all(checks.values())
        return out
