"""Commands, the action term and curriculum terms: the small managers."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from stridelab.config import TermCfg
from stridelab.errors import ConfigError
from stridelab.managers.terms import FunctionTerm, build_term, check_params, load_term_state, term_state
from stridelab.mdp.lookup import resolve


class CommandManager:
    """Command terms (classes with ``command``, ``resample(env_ids)`` and ``step(dt)``), by name."""

    def __init__(self, cfgs: dict[str, TermCfg], env: Any) -> None:
        self.terms = {name: build_term(name, cfg, "commands", env, 0) for name, cfg in cfgs.items()}

    @property
    def velocity(self) -> Any:
        """The term that commands the base velocity (its class sets ``role = "velocity"``), or None.

        The env puts its command into ``RobotState.commands``; the eval grid and play set it."""
        return next((t for t in self.terms.values() if getattr(t, "role", None) == "velocity"), None)

    @property
    def gait(self) -> Any:
        """The gait clock term (its class sets ``role = "gait"``), or None. The env puts its per-foot
        phases into ``RobotState.gait_phase``."""
        return next((t for t in self.terms.values() if getattr(t, "role", None) == "gait"), None)

    def get(self, name: str) -> np.ndarray:
        """The current command of term ``name``. Shape: (n, k)."""
        if name not in self.terms:
            raise ConfigError(f"the task has no command {name!r}; its commands are: {', '.join(self.terms) or 'none'}.")
        return self.terms[name].command

    def step(self, dt: float) -> None:
        """Advance every term by ``dt`` [s]; the gait clock also gets the velocity command (its speed coupling)."""
        velocity = self.velocity
        for term in self.terms.values():
            if getattr(term, "role", None) == "gait" and velocity is not None:
                term.step(dt, velocity.command)
            else:
                term.step(dt)

    def reset(self, env_ids: np.ndarray) -> None:
        for term in self.terms.values():
            term.resample(env_ids)
        gait, velocity = self.gait, self.velocity
        if gait is not None and velocity is not None and hasattr(gait, "watch"):
            gait.watch(velocity.command[env_ids], 0.0, env_ids)  # the restart's command counts, as on a robot

    def state_dict(self) -> dict:
        return {name: term_state(t) for name, t in self.terms.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, t in self.terms.items():
            load_term_state(t, state.get(name, {}))


def build_action(cfg: TermCfg, env: Any) -> Any:
    """The action term of a task: ``Class.from_env(env, **params)`` (see :mod:`stridelab.mdp.actions`)."""
    cls = resolve(cfg.func, "actions")
    if not hasattr(cls, "from_env"):
        raise ConfigError(f"action term {cfg.func!r} is not an action class (it has no from_env); use e.g. "
                          f"'joint_position'.")
    check_params(cls.from_env, dict(cfg.params), 1, "actions", cfg.func)
    return cls.from_env(env, **cfg.params)


def action_from_description(desc: dict, base_dir: Any = None) -> Any:
    """Rebuild an action term from its ``policy.json`` section (``func`` and resolved ``params``).

    A class with ``from_description(desc, base_dir)`` builds itself (e.g. ETG's lookup-table term, whose table
    file lies beside ``policy.json`` in ``base_dir``); any other is ``Class(**params)``."""
    cls = resolve(desc["func"], "actions")
    if hasattr(cls, "from_description"):
        return cls.from_description(desc, base_dir)
    return cls(**desc["params"])


class CurriculumManager:
    """Curriculum terms ``func(env, env_ids, **params) -> float | dict | None``, run at resets.

    What a term returns is logged as ``Curriculum/<name>`` (a dict: ``Curriculum/<name>/<key>``).
    """

    def __init__(self, cfgs: dict[str, TermCfg], env: Any) -> None:
        self.terms = {}
        for name, cfg in cfgs.items():
            term = build_term(name, cfg, "curriculum", env, 2)
            if isinstance(term, FunctionTerm):
                term.func = functools.partial(term.func, env)
            self.terms[name] = term

    def reset(self, env_ids: np.ndarray) -> dict[str, float]:
        info: dict[str, float] = {}
        for name, term in self.terms.items():
            value = term(env_ids)
            if isinstance(value, dict):
                info.update({f"Curriculum/{name}/{k}": float(v) for k, v in value.items()})
            elif value is not None:
                info[f"Curriculum/{name}"] = float(value)
        return info

    def state_dict(self) -> dict:
        return {name: term_state(t) for name, t in self.terms.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, t in self.terms.items():
            load_term_state(t, state.get(name, {}))
