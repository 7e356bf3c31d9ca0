"""Build the policy observation from policy.json alone (no task code on the robot)."""

from __future__ import annotations

import numpy as np

from stridelab.deploy.backend import RobotState
from stridelab.mdp.state import GRAVITY_DIR
from stridelab.sim.math import quat_rotate_inverse


def projected_gravity(quat: np.ndarray) -> np.ndarray:
    """World gravity direction in the base frame for quaternion (w, x, y, z). Shape: (3,)."""
    return quat_rotate_inverse(np.asarray(quat, dtype=np.float64)[None], GRAVITY_DIR)[0]


class ObservationBuilder:
    """Assembles observation frames (and history) exactly as policy.json describes them."""

    def __init__(self, meta: dict) -> None:
        obs = meta["observation"]
        self.terms = obs["terms"]
        self.frame_size = obs["frame_size"]
        self.history = obs["history"]
        self.clip = obs["clip"]
        self.size = obs["size"]
        self.default = np.asarray(meta["default_joint_pos"], dtype=np.float64)
        self.buf = np.zeros((self.history + 1, self.frame_size))
        self._fresh = True

    def reset(self) -> None:
        self._fresh = True

    def frame(self, state: RobotState, command: np.ndarray, last_action: np.ndarray) -> np.ndarray:
        values = {
            "base_ang_vel": state.base_ang_vel,
            "projected_gravity": projected_gravity(state.base_quat),
            "velocity_commands": command,
            "joint_pos": state.joint_pos - self.default,
            "joint_vel": state.joint_vel,
            "last_action": last_action,
        }
        parts = []
        for t in self.terms:
            if t["name"] not in values:
                raise ValueError(f"policy.json names observation term {t['name']!r}, which this runtime cannot "
                                 f"build; update stridelab on the robot.")
            v = np.asarray(values[t["name"]], dtype=np.float64) * t["scale"]
            if "scale_per_component" in t:
                v = v * np.asarray(t["scale_per_component"])
            parts.append(v)
        return np.clip(np.concatenate(parts), -self.clip, self.clip)

    def __call__(self, state: RobotState, command: np.ndarray, last_action: np.ndarray) -> np.ndarray:
        """The policy input. Shape: (1, size), float32."""
        f = self.frame(state, command, last_action)
        if self._fresh:
            self.buf[:] = f
            self._fresh = False
        else:
            self.buf[:-1] = self.buf[1:]
            self.buf[-1] = f
        return self.buf.reshape(1, -1).astype(np.float32)
