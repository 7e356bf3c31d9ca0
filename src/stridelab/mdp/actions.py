"""Action terms: map the policy output to PD joint targets.

An action term is a class with ``from_env(env, **params)`` (resolves robot constants), ``size``,
``process(actions) -> processed`` (what ``last_action`` observes), ``targets(processed) -> (n, j)``
joint targets [rad] and ``describe()``: the ``action`` section of ``policy.json``. The deploy runtime
rebuilds the term from that section (``Class(**params)``) and applies it with this same code, so a
trajectory generator plus residual (ETG) is one more class here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stridelab.errors import ConfigError
from stridelab.mdp.symmetry import joints


class joint_position:  # noqa: N801 - a term, named like the other terms
    """``target = default_joint_pos + scale * clip(action, -clip, clip)`` [rad]."""

    def __init__(self, default_joint_pos: list[float], scale: float, clip: float) -> None:
        if clip <= 0 or scale <= 0:
            raise ConfigError(f"joint_position action needs scale > 0 and clip > 0 (got scale {scale}, clip {clip}).")
        self.default = np.asarray(default_joint_pos, dtype=np.float64)
        self.scale = float(scale)
        self.clip = float(clip)
        self.size = len(self.default)

    @classmethod
    def from_env(cls, env: Any, scale: float | None = None, clip: float = 10.0) -> joint_position:
        """``scale`` defaults to the robot's ``action_scale`` [rad per unit action]."""
        spec = env.robot.spec
        return cls(list(spec.default_pose), spec.action_scale if scale is None else scale, clip)

    def process(self, actions: np.ndarray) -> np.ndarray:
        """Clipped actions. Shape: (n, j)."""
        return np.clip(actions, -self.clip, self.clip)

    def targets(self, processed: np.ndarray) -> np.ndarray:
        """PD joint targets [rad]. Shape: (n, j)."""
        return self.default + self.scale * processed

    def mirror(self, spec: Any) -> tuple[np.ndarray, np.ndarray]:
        """Joint offsets mirror like joint angles: the robot's joint permutation and signs."""
        return joints(spec, self.size)

    def describe(self) -> dict:
        return {"func": f"{type(self).__module__}:{type(self).__qualname__}",
                "params": {"default_joint_pos": self.default.tolist(), "scale": self.scale, "clip": self.clip},
                "formula": "target = default_joint_pos + scale * clip(action, -clip, clip)",
                "description": (f"One value per joint, in the order of joint_names; the PD target of joint j is "
                                f"default_joint_pos[j] + {self.scale:g} * clip(action_j, -{self.clip:g}, "
                                f"{self.clip:g}) [rad], which the joint's PD controller (kp, kd, torque_limits) holds "
                                f"until the next action.")}
