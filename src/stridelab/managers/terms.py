"""Resolving and building terms from their configs.

A term is named by text: ``"module.path:name"`` or a bare name in the kind's module of
:mod:`stridelab.mdp` (looked up by :func:`stridelab.mdp.lookup.resolve`). A function term is called with the manager's arguments plus its ``params``; a
class term is built once as ``Class(env, **params)`` and then called like a function, and may define
``reset(env_ids)``, ``state_dict()`` / ``load_state_dict(state)`` (exact resume) and ``describe()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from stridelab.config import TermCfg
from stridelab.errors import ConfigError, did_you_mean
from stridelab.mdp.lookup import resolve

class FunctionTerm:
    """A stateless term: ``func(*args, **params)``."""

    def __init__(self, func: Callable, params: dict[str, Any]) -> None:
        self.func = func
        self.params = dict(params)

    def __call__(self, *args: Any) -> Any:
        return self.func(*args, **self.params)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless: nothing to reset."""


def check_params(target: Callable, params: dict[str, Any], num_leading: int, kind: str, name: str) -> None:
    """Raise a one-sentence ConfigError when ``params`` do not fit ``target``'s signature."""
    sig = inspect.signature(target)
    names = [p for p in sig.parameters][num_leading:]
    try:
        sig.bind(*([None] * num_leading), **params)
    except TypeError as exc:
        unknown = [k for k in params if k not in sig.parameters]
        hint = (f"unknown parameter {unknown[0]!r}{did_you_mean(unknown[0], names)}" if unknown else str(exc))
        raise ConfigError(f"{kind} term {name!r}: {hint}; its parameters are: {', '.join(names) or 'none'}.") from None


def check_term(name: str, cfg: TermCfg, kind: str, num_call_args: int) -> Callable:
    """Resolve a term and check its params against its signature (a class: ``__init__(self, env, ...)``);
    returns the function or class. A term that is switched off is checked too, so a typo never hides."""
    target = resolve(cfg.func, kind)
    if inspect.isclass(target):
        check_params(target.__init__, dict(cfg.params), 2, kind, name)  # self, env
    else:
        check_params(target, dict(cfg.params), num_call_args, kind, name)
    return target


def build_term(name: str, cfg: TermCfg, kind: str, env: Any, num_call_args: int) -> Any:
    """Build one term: a class becomes ``Class(env, **params)``; a function is bound to its params.

    Args:
        num_call_args: positional arguments the manager passes to a function term (checked against
            its signature together with the params).
    """
    target = check_term(name, cfg, kind, num_call_args)
    params = dict(cfg.params)
    return target(env, **params) if inspect.isclass(target) else FunctionTerm(target, params)


def term_state(term: Any) -> dict:
    """A term's per-env state for exact resume (empty for stateless terms)."""
    return term.state_dict() if hasattr(term, "state_dict") else {}


def load_term_state(term: Any, state: dict) -> None:
    if state and hasattr(term, "load_state_dict"):
        term.load_state_dict(state)
