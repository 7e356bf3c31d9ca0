"""Finding a term's code from its name: ``"module.path:name"``, or a bare name in the kind's module of
:mod:`stridelab.mdp`. Configs name their terms by text (plain data: YAML, checkpoints, Ray workers); the
managers, the curriculum terms and the evaluations resolve them here.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

from stridelab.errors import ConfigError, did_you_mean

# the module a bare term name is looked up in, per kind of term
DEFAULT_MODULES = {
    "actions": "stridelab.mdp.actions",
    "commands": "stridelab.mdp.commands",
    "observations": "stridelab.mdp.observations",
    "rewards": "stridelab.mdp.rewards",
    "terminations": "stridelab.mdp.terminations",
    "events": "stridelab.mdp.events",
    "curriculum": "stridelab.mdp.curriculum",
}


@functools.lru_cache(maxsize=256)
def resolve(func: str, kind: str) -> Callable:
    """The function or class named by ``func`` (``"pkg.module:name"`` or a bare name of ``kind``)."""
    module_name, _, name = func.rpartition(":")
    module_name = module_name or DEFAULT_MODULES[kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{kind} term {func!r}: cannot import module {module_name!r} ({exc}); give "
                          f"'package.module:name' of an importable module.") from None
    # terms defined in the module, and those it names in REEXPORTED_TERMS (defined in a module of its own)
    reexported = set(getattr(module, "REEXPORTED_TERMS", ()))
    public = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
              and (getattr(v, "__module__", None) == module.__name__ or n in reexported)]
    target = getattr(module, name, None)
    if not callable(target) or (func == name and name not in public):
        raise ConfigError(f"unknown {kind} term {name!r} in {module_name}{did_you_mean(name, public)}; valid names "
                          f"are: {', '.join(sorted(public))}.")
    return target


def qualified_name(obj: Callable) -> str:
    """``"module:name"`` of a function or class (what a config or policy.json stores)."""
    return f"{obj.__module__}:{obj.__qualname__}"
