"""Whole-sentence descriptions of observation terms, for the ``description`` of each term in ``policy.json``.

A client outside stridelab implements a term from its description alone, so a description says what each
value is, in which order, in which units and frame, and every rule with the value actually configured (e.g.
the gait clock's standing threshold). A term gives its description in one of three ways, first match wins:

1. a class term defines ``description() -> str`` (it knows its resolved settings and the env);
2. a function term is decorated with :func:`described`: a text formatted with the term's parameters (its
   defaults and the configured ones, e.g. ``{min_command}``), or a function ``(params, env) -> str``;
3. otherwise the first paragraph of its docstring, copied whole (never cut at a line).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

Description = str | Callable[[dict, Any], str]


def described(text: Description) -> Callable:
    """Decorator: attach ``text`` (see the module docstring) to a function term as its description."""
    def mark(func: Callable) -> Callable:
        func.description = text
        return func
    return mark


def resolved_params(target: Callable, params: dict) -> dict:
    """Every keyword parameter of a term: its signature's defaults overridden by the configured ``params``.

    A function term's first argument (the state) and a class term's ``self`` and ``env`` are left out."""
    if inspect.isclass(target):
        names = list(inspect.signature(target.__init__).parameters.values())[2:]
    else:
        names = list(inspect.signature(target).parameters.values())[1:]
    defaults = {p.name: p.default for p in names
                if p.default is not inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD}
    return {**defaults, **dict(params)}


def first_paragraph(doc: str | None) -> str:
    """The first paragraph of a docstring as one line (its lines joined, nothing cut off); '' without one."""
    text = inspect.cleandoc(doc or "")
    return " ".join(text.split("\n\n")[0].split()) if text else ""


def term_description(target: Callable, term: Any, params: dict, env: Any) -> str:
    """The description of one built observation term (``term``: the class instance, or the bound function term)."""
    own = getattr(term, "description", None)
    if inspect.ismethod(own):
        return own()
    given = getattr(target, "description", None)
    if callable(given):
        return given(params, env)
    if isinstance(given, str):
        return given.format(**params)
    return first_paragraph(inspect.getdoc(target)) or f"No description: see the term's code {target.__qualname__}."
