"""Events: startup, reset and interval terms that change physics or state.

Event terms are ``func(env, env_ids, **params)`` or classes ``Class(env, **params)`` called with
``env_ids``. A class that randomizes a physical quantity exposes its per-env values through
``privileged() -> {name: (n, k) array}`` (with ``mirrors`` and ``scales`` by name); the privileged
observation group reads them, so a quantity is observed exactly when its randomization is on. A class
may report ``enabled = False`` (e.g. a range of (1, 1)): it is then dropped and costs nothing.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from stridelab.config import EventTermCfg
from stridelab.managers.terms import FunctionTerm, build_term, load_term_state, term_state


class EventManager:
    """Runs event terms by mode; keeps per-env timers for the interval terms."""

    def __init__(self, cfgs: dict[str, EventTermCfg], env: Any) -> None:
        self.env = env
        self.terms: dict[str, tuple[EventTermCfg, Any]] = {}
        for name, cfg in cfgs.items():
            term = build_term(name, cfg, "events", env, 2)
            if isinstance(term, FunctionTerm):  # called as term(env_ids) like a class term
                term.func = functools.partial(term.func, env)
            if getattr(term, "enabled", True):
                self.terms[name] = (cfg, term)
        self.rng = env.rng
        self.time_left = {name: np.zeros(env.num_envs) for name, (cfg, _) in self.terms.items()
                          if cfg.mode == "interval"}

    def _of_mode(self, mode: str):
        return [(name, term) for name, (cfg, term) in self.terms.items() if cfg.mode == mode]

    def startup(self) -> None:
        ids = np.arange(self.env.num_envs)
        for _, term in self._of_mode("startup"):
            term(ids)

    def reset(self, env_ids: np.ndarray) -> None:
        """Reset events in config order (randomize the parameters first, then the pose), restart timers."""
        if len(env_ids) == 0:
            return
        for _, term in self.terms.values():  # per-episode state of every event (the last push) starts fresh
            term.reset(env_ids)
        for _, term in self._of_mode("reset"):
            term(env_ids)
        for name, left in self.time_left.items():
            lo, hi = self.terms[name][0].interval_s
            left[env_ids] = self.rng.uniform(lo, hi, size=len(env_ids))

    def step(self, dt: float) -> None:
        """Advance interval timers by ``dt`` [s] and fire the terms whose timers ran out."""
        for name, left in self.time_left.items():
            left -= dt
            ids = np.flatnonzero(left <= 0.0)
            if len(ids):
                cfg, term = self.terms[name]
                term(ids)
                left[ids] = self.rng.uniform(*cfg.interval_s, size=len(ids))

    def privileged(self) -> dict[str, np.ndarray]:
        """Per-env values of every randomized quantity, by name. Shapes: (n, k)."""
        out: dict[str, np.ndarray] = {}
        for _, term in self.terms.values():
            if hasattr(term, "privileged"):
                out.update(term.privileged())
        return out

    def privileged_rules(self) -> dict[str, tuple[Any, float]]:
        """Per randomized quantity: (mirror rule ``(spec, size) -> (perm, sign)`` or None, observation scale)."""
        out: dict[str, tuple[Any, float]] = {}
        for _, term in self.terms.values():
            if hasattr(term, "privileged"):
                mirrors, scales = getattr(term, "mirrors", {}), getattr(term, "scales", {})
                out.update({name: (mirrors.get(name), scales.get(name, 1.0)) for name in term.privileged()})
        return out

    def privileged_meanings(self) -> dict[str, str]:
        """Per randomized quantity: what its values are, with units (a randomizer's ``meanings``; '' without)."""
        out: dict[str, str] = {}
        for _, term in self.terms.values():
            if hasattr(term, "privileged"):
                meanings = getattr(term, "meanings", {})
                out.update({name: meanings.get(name, "") for name in term.privileged()})
        return out

    def state_dict(self) -> dict:
        return {"time_left": {k: torch.from_numpy(v.copy()) for k, v in self.time_left.items()},
                "terms": {name: term_state(t) for name, (_, t) in self.terms.items()}}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state["time_left"].items():
            self.time_left[k][:] = v.numpy()
        for name, (_, t) in self.terms.items():
            load_term_state(t, state["terms"].get(name, {}))

