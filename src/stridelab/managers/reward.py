"""Rewards: weighted terms summed per step, with legged_gym's clip at zero, and per-term episode sums.

Each term contributes ``weight * value * dt`` (weights are per second). If ``only_positive`` is set,
the total of the ordinary terms is clipped at zero, then the ``after_clip`` terms (the termination
penalty) are added. The episode sums are logged so that they add up to the training reward: the clip
is a term of its own (``only_positive_clip``, >= 0), and an unstable simulation's step counts nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stridelab.config import RewardTermCfg
from stridelab.managers.terms import build_term, check_term, load_term_state, term_state

CLIP_TERM = "only_positive_clip"


class RewardManager:
    """Terms with a non-zero weight; ``compute`` returns the step reward. Shape: (n,)."""

    def __init__(self, cfgs: dict[str, RewardTermCfg], env: Any, only_positive: bool) -> None:
        active = {name: cfg for name, cfg in cfgs.items() if cfg.weight != 0.0}
        for name, cfg in cfgs.items():  # a term that is off is not built, but a typo in it is still an error
            if name not in active:
                check_term(name, cfg, "rewards", 1)
        self.names = list(active)
        self.weights = np.array([cfg.weight for cfg in active.values()], dtype=np.float64)
        self.after_clip = np.array([cfg.after_clip for cfg in active.values()], dtype=bool)
        self.terms = [build_term(name, cfg, "rewards", env, 1) for name, cfg in active.items()]
        self.only_positive = only_positive
        n = env.num_envs
        self.sum_names = self.names + ([CLIP_TERM] if only_positive else [])
        self.episode_sums = np.zeros((len(self.sum_names), n))

    def compute(self, s: Any, dt: float, void: np.ndarray) -> np.ndarray:
        """The step reward of every env; envs in ``void`` (unstable simulations) get zero.

        Args:
            void: Shape: (n,), bool.
        Returns:
            Shape: (n,) [reward per control step].
        """
        n = len(void)
        values = np.zeros((len(self.sum_names), n))
        for i, term in enumerate(self.terms):
            values[i] = term(s) * (self.weights[i] * dt)
        total = values[:len(self.terms)][~self.after_clip].sum(axis=0)
        if self.only_positive:
            values[-1] = np.clip(total, 0.0, None) - total
            total = total + values[-1]
        total = total + values[:len(self.terms)][self.after_clip].sum(axis=0)
        if void.any():
            values[:, void] = 0.0
            total[void] = 0.0
        self.episode_sums += values
        return total

    def episode_log(self, env_ids: np.ndarray, episode_length_s: float) -> dict[str, float]:
        """Mean episode sum per term of ``env_ids`` per second of episode; :meth:`reset` clears the sums (after the
        curriculum terms, which may read them)."""
        return {f"Episode_Reward/{name}": float(np.mean(self.episode_sums[i, env_ids]) / episode_length_s)
                for i, name in enumerate(self.sum_names)}

    def reset(self, env_ids: np.ndarray) -> None:
        self.episode_sums[:, env_ids] = 0.0
        for term in self.terms:
            term.reset(env_ids)

    def state_dict(self) -> dict:
        return {"episode_sums": torch.from_numpy(self.episode_sums.copy()),
                "terms": {name: term_state(t) for name, t in zip(self.names, self.terms)}}

    def load_state_dict(self, state: dict) -> None:
        self.episode_sums[:] = state["episode_sums"].numpy()
        for name, t in zip(self.names, self.terms):
            load_term_state(t, state["terms"].get(name, {}))
