"""Safety layer between the policy and the motors.

Targets are clamped to the joint limits and to a rate limit. A non-finite or out-of-range
observation, a stale state (watchdog), a tilt beyond the limit or a fall switch the robot to a
damping mode (kp = 0, kd = damping), which holds until :meth:`SafetyLayer.reset`. Every trigger is
logged with its reason and kept in :attr:`SafetyLayer.events`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from stridelab.deploy.backend import RobotSignals
from stridelab.sim.math import projected_gravity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SafetyConfig:
    """Limits of the safety layer.

    Attributes:
        max_target_rate: largest change of a joint target per second [rad/s].
        joint_limit_margin: targets stay this far inside the joint limits [rad].
        max_joint_vel: a larger measured joint speed is out of range [rad/s].
        max_tilt: base tilt that counts as a fall [rad].
        stale_after_s: a state older than this triggers the watchdog [s].
        damping_kd: joint damping in damping mode [N m s/rad].
        fall_height: base height below which the robot has fallen [m] (if the backend reports it).
    """

    max_target_rate: float = 20.0
    joint_limit_margin: float = 0.02
    max_joint_vel: float = 40.0
    max_tilt: float = 0.9
    stale_after_s: float = 0.1
    damping_kd: float = 2.0
    fall_height: float = 0.12


@dataclass(frozen=True)
class SafetyEvent:
    time: float
    kind: str  # non_finite | out_of_range | stale_state | tilt | fall
    reason: str


class SafetyLayer:
    """Checks states and filters targets; owns the damping-mode latch."""

    def __init__(self, meta: dict, cfg: SafetyConfig = SafetyConfig()) -> None:
        self.cfg = cfg
        limits = np.asarray(meta["joint_limits"], dtype=np.float64)
        self.lower = limits[:, 0] + cfg.joint_limit_margin
        self.upper = limits[:, 1] - cfg.joint_limit_margin
        self.kp = np.asarray(meta["kp"], dtype=np.float64)
        self.kd = np.asarray(meta["kd"], dtype=np.float64)
        self.dt = float(meta["control_dt"])
        self.obs_clip = float(meta["observation"]["clip"])
        self.events: list[SafetyEvent] = []
        self.damping = False
        self._last_target: np.ndarray | None = None

    def reset(self) -> None:
        """Leave damping mode (after an operator checked the robot)."""
        self.damping = False
        self._last_target = None

    def _trigger(self, now: float, kind: str, reason: str) -> None:
        self.events.append(SafetyEvent(now, kind, reason))
        log.warning("safety: %s at t=%.3f s: %s -> damping mode", kind, now, reason)
        self.damping = True

    def check_state(self, state: RobotSignals, now: float) -> bool:
        """Return True if the state is safe to act on; otherwise enter damping mode."""
        c = self.cfg
        fields = {"joint_pos": state.joint_pos, "joint_vel": state.joint_vel, "base_quat": state.base_quat,
                  "base_ang_vel": state.base_ang_vel}
        for name, value in fields.items():
            if not np.all(np.isfinite(value)):
                self._trigger(now, "non_finite", f"{name} holds NaN or Inf")
                return False
        if now - state.stamp > c.stale_after_s:
            self._trigger(now, "stale_state", f"state is {1000 * (now - state.stamp):.0f} ms old "
                                              f"(limit {1000 * c.stale_after_s:.0f} ms)")
            return False
        fast = np.abs(state.joint_vel) > c.max_joint_vel
        if fast.any():
            self._trigger(now, "out_of_range", f"joint {int(np.argmax(fast))} moves at "
                                               f"{float(np.abs(state.joint_vel).max()):.1f} rad/s (limit {c.max_joint_vel})")
            return False
        tilt = float(np.arccos(np.clip(-projected_gravity(np.asarray(state.base_quat, dtype=np.float64)[None])[0, 2], -1.0, 1.0)))
        if tilt > c.max_tilt:
            self._trigger(now, "tilt", f"base tilted {np.degrees(tilt):.0f} deg (limit {np.degrees(c.max_tilt):.0f})")
            return False
        height = state.extra.get("base_pos", [0, 0, np.inf])[2] if state.extra else np.inf
        if height < c.fall_height:
            self._trigger(now, "fall", f"base at {height:.2f} m (limit {c.fall_height} m)")
            return False
        return not self.damping

    def check_observation(self, obs: np.ndarray, now: float) -> bool:
        """A non-finite or saturated observation enters damping mode."""
        if not np.all(np.isfinite(obs)):
            self._trigger(now, "non_finite", "observation holds NaN or Inf")
            return False
        if np.any(np.abs(obs) >= self.obs_clip):
            self._trigger(now, "out_of_range", f"observation reaches the clip value {self.obs_clip}")
            return False
        return not self.damping

    def filter_targets(self, target: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Clamp to joint limits and to the rate limit (from the last target, or the measured position)."""
        ref = current if self._last_target is None else self._last_target
        step = self.cfg.max_target_rate * self.dt
        out = np.clip(np.clip(target, ref - step, ref + step), self.lower, self.upper)
        self._last_target = out
        return out

    def damping_command(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(targets, kp, kd) of damping mode: no stiffness, only joint damping."""
        n = len(current)
        return current.copy(), np.zeros(n), np.full(n, self.cfg.damping_kd)
