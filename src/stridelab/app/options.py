"""What the commands' option classes share: the one-sentence check of an option value."""

from __future__ import annotations

import dataclasses
from typing import Any

from stridelab.errors import ConfigError, did_you_mean


def check(ok: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` (one sentence naming the option and the fix) unless ``ok``."""
    if not ok:
        raise ConfigError(message)


def check_seconds(name: str, value: float) -> None:
    """``--NAME`` must be a positive number of seconds."""
    check(value > 0, f"--{name} {value} is out of range; give a positive number of seconds.")


def check_budget(num_envs: int | None = None, max_iterations: int | None = None,
                 max_minutes: float | None = None) -> None:
    """The shortcuts ``--num-envs``, ``--max-iterations`` and ``--max-minutes`` (``None``: not given)."""
    check(num_envs is None or num_envs >= 1, f"--num-envs {num_envs} is out of range; give 1 or more environments.")
    check(max_iterations is None or max_iterations >= 0,
          f"--max-iterations {max_iterations} is out of range; give 0 or more iterations.")
    check(max_minutes is None or max_minutes >= 0,
          f"--max-minutes {max_minutes} is out of range; give 0 (no limit) or more minutes.")


# ---- switching terms off: --env.<table>.<term> None ----------------------------------------------

def split_term_removals(argv: list[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Take ``--env.<table>.<term> None`` (or ``--env.<table>.<term>=None``) out of ``argv``: the term is switched
    off, as Isaac Lab users do by setting a term to None. Returns the other tokens and each removed term's path
    below ``env`` as written (``("events", "base-mass")``); other options are left to the parser."""
    from stridelab.config import EnvConfig, is_term_path

    return _split_none(argv, lambda path: is_term_path(EnvConfig, tuple(p.replace("-", "_") for p in path)))


def _split_none(argv: list[str], wanted) -> tuple[list[str], list[tuple[str, ...]]]:
    """Take each ``--env.<path> None`` (or ``=None``) whose path (below ``env``, as written) ``wanted(path)``
    accepts out of ``argv``. Returns the other tokens and the paths taken."""
    kept, taken, i = [], [], 0
    while i < len(argv):
        token = argv[i]
        name, eq, value = token.partition("=")
        if not eq:
            value = argv[i + 1] if i + 1 < len(argv) else ""
        path = tuple(name[len("--env."):].split(".")) if name.startswith("--env.") else ()
        if path and value == "None" and wanted(path):
            taken.append(path)
            i += 1 if eq else 2
            continue
        kept.append(token)
        i += 1
    return kept, taken


def without_terms(args: Any, removed: list[tuple[str, ...]], missing_ok: bool = False) -> Any:
    """``args`` with the terms at ``removed`` (paths below ``args.env``, see :func:`split_term_removals`) taken
    out of its env config; with ``missing_ok`` a term that is not there is passed over (a resumed run's stored
    config, in which it was switched off already).

    Raises:
        ConfigError: a path that names no term, in one sentence that lists the table's terms.
    """
    return _set_none(args, removed, lambda path, table, part: f"--env.{'.'.join(path)} None switches off a term, but "
                     f"{table} has no term {part!r}", missing_ok)


def _set_none(args: Any, paths: list[tuple[str, ...]], problem, missing_ok: bool = False) -> Any:
    """``args`` with the entry at each of ``paths`` (below ``args.env``, as written: ``-`` for ``_``) set to
    ``None`` through :func:`~stridelab.config.override` (a term: switched off; a parameter: ``None``). A path
    that is not there is passed over with ``missing_ok``, else a ConfigError: ``problem(path, table, part)``
    plus the closest name and the names there."""
    from stridelab.config import override, to_dict

    env = args.env
    for path in paths:
        node: Any = to_dict(env)
        keys = []
        for depth, part in enumerate(path):
            match = [k for k in node if str(k).replace("_", "-") == part.replace("_", "-")] \
                if isinstance(node, dict) else []
            if not match and missing_ok:
                break
            if not match:
                names = [str(k).replace("_", "-") for k in node] if isinstance(node, dict) else []
                raise ConfigError(f"{problem(path, '--env.' + '.'.join(path[:depth]), part)}"
                                  f"{did_you_mean(part.replace('_', '-'), names)}; name one of: "
                                  f"{', '.join(names) or '(none)'}.")
            keys.append(match[0])
            node = node[match[0]]
        if len(keys) < len(path):
            continue
        change: Any = None
        for key in reversed(keys):
            change = {key: change}
        env = override(env, **change)
    return dataclasses.replace(args, env=env)


def check_removals(removed: list[tuple[str, ...]], defaults: list[Any]) -> None:
    """Each term at ``removed`` exists in at least one of ``defaults`` (the options a command parsed against: its
    task's, a resumed run's).

    Raises:
        ConfigError: a path that names a term in none of them (the sentence of :func:`without_terms`).
    """
    for path in removed:
        errors = []
        for default in defaults:
            try:
                without_terms(default, [path])
                break
            except ConfigError as err:
                errors.append(err)
        else:
            if errors:
                raise errors[0]


# ---- a term parameter set to None: --env.<table>.<term>.params.<name> None -----------------------

def split_param_nulls(argv: list[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Take ``--env.<table>.<term>.params.<name> None`` (or ``=None``) out of ``argv``: the parameter becomes
    ``None`` (e.g. ``--env.commands.gait.params.max-step-per-leg None`` turns the clock's speed coupling off), which
    the parser cannot read for a parameter whose default is a number. Returns the other tokens and each path below
    ``env`` as written."""
    from stridelab.config import EnvConfig, is_term_path

    return _split_none(argv, lambda path: len(path) >= 4 and path[-2] == "params" and is_term_path(
        EnvConfig, tuple(p.replace("-", "_") for p in path[:-2])))


def with_params_none(args: Any, nulls: list[tuple[str, ...]]) -> Any:
    """``args`` with each term parameter at ``nulls`` (paths below ``args.env``, see :func:`split_param_nulls`) set
    to ``None``.

    Raises:
        ConfigError: a path that names no term, or a parameter the term does not have, in one sentence.
    """
    return _set_none(args, nulls, lambda path, table, part: f"--env.{'.'.join(path)} None: {table} has no {part!r}")
