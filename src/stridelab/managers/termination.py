"""Terminations: per-env flags from terms, split into failures and time-outs (truncations)."""

from __future__ import annotations

from typing import Any

import numpy as np

from stridelab.config import TerminationTermCfg
from stridelab.managers.terms import build_term


class TerminationManager:
    """Evaluates every termination term; counts of each are logged when episodes end."""

    def __init__(self, cfgs: dict[str, TerminationTermCfg], env: Any) -> None:
        self.names = list(cfgs)
        self.time_out = np.array([cfg.time_out for cfg in cfgs.values()], dtype=bool)
        self.terms = [build_term(name, cfg, "terminations", env, 1) for name, cfg in cfgs.items()]
        self.flags = np.zeros((len(self.terms), env.num_envs), dtype=bool)

    def compute(self, s: Any) -> tuple[np.ndarray, np.ndarray]:
        """(failed, timed_out) per env; an env that failed is not also a time-out. Shapes: (n,), bool."""
        for i, term in enumerate(self.terms):
            self.flags[i] = term(s)
        failed = self.flags[~self.time_out].any(axis=0)
        timed_out = self.flags[self.time_out].any(axis=0) & ~failed
        return failed, timed_out

    def episode_log(self, env_ids: np.ndarray, failed: np.ndarray) -> dict[str, float]:
        """How many of ``env_ids`` each term ended. A time-out of an env that also failed (a failure
        term, or an unstable simulation: ``failed`` Shape: (n,)) is not counted."""
        info = {}
        for i, name in enumerate(self.names):
            hit = self.flags[i, env_ids] & (~failed[env_ids] if self.time_out[i] else True)
            info[f"Episode_Termination/{name}"] = float(hit.sum())
        return info

    def reset(self, env_ids: np.ndarray) -> None:
        for term in self.terms:
            term.reset(env_ids)
