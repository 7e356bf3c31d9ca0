"""The ``stridelab`` command: one tyro parser over every command of :data:`COMMANDS`.

Each command is a module ``stridelab.app.<name>`` with

- ``Args``: a frozen dataclass of its options (``stridelab NAME --help``; multi-verb commands are a union of
  tyro subcommands);
- ``run(args) -> int``: what it does and prints (heavy modules are imported there, so parsing and
  ``stridelab list`` stay fast);
- optionally ``default_args(tokens)``: the default of its options when they depend on the arguments (``train``
  takes the defaults of its task), and ``resolve(args, reparse)``: a last step after parsing that may parse
  again with other defaults (``train --resume`` parses against the run's stored configuration).

A command with ``--env.*`` options takes ``--env.<table>.<term> None`` (e.g. ``--env.events.push None``) as
switching that term off: the term leaves the command's defaults before tyro parses (:mod:`stridelab.app.options`).

Every :class:`~stridelab.errors.StridelabError` reaches the user as one line ``error: ...`` on stderr with exit
code 2; a usage error (an unknown option) prints tyro's message and a hint line, also with exit code 2.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Annotated, Any, Union

import tyro

from stridelab.app.options import (check_removals, split_param_nulls, split_term_removals, with_params_none,
                                   without_terms)
from stridelab.errors import StridelabError

COMMANDS = ("list", "bench", "train", "distill", "bc", "sysid", "eval", "play", "export", "deploy", "robot", "terrain",
            "etg")
DESCRIPTION = "Train legged robots with rsl-rl-lib PPO on batched MuJoCo; `stridelab COMMAND --help` for each command."


def command_module(name: str) -> ModuleType:
    """The module of command ``name`` (``stridelab.app.<name>``)."""
    return importlib.import_module(f"stridelab.app.{name}")


def _command_index(argv: Sequence[str]) -> int | None:
    """Index of the command name in ``argv`` (global options such as ``-v`` may come before it)."""
    for i, token in enumerate(argv):
        if token in COMMANDS:
            return i
        if not token.startswith("-"):
            return None
    return None


def _root(defaults: dict[str, Any]) -> type:
    """The CLI's root: ``-v/--verbose`` (anywhere) and one subcommand per command; ``defaults`` gives the
    default options of some commands (by name)."""
    def subcommand(name: str) -> Any:
        extra = {"default": defaults[name]} if defaults.get(name) is not None else {}
        return Annotated[command_module(name).Args, tyro.conf.subcommand(name, **extra)]

    command = Union[tuple(subcommand(name) for name in COMMANDS)]  # noqa: UP007 - tyro needs a typing.Union
    verbose = tyro.conf.CascadeSubcommandArgs[
        Annotated[bool, tyro.conf.arg(aliases=("-v",), help="debug logging"), tyro.conf.FlagCreatePairsOff]]
    return dataclasses.make_dataclass("Stridelab", [
        ("command", Annotated[command, tyro.conf.arg(name="")]),
        ("verbose", verbose, dataclasses.field(default=False)),
    ], frozen=True)


@dataclasses.dataclass(frozen=True)
class Parsed:
    """The parsed command line: the command's name and options, and ``-v``."""

    name: str | None
    options: Any
    verbose: bool = False


def parse(argv: Sequence[str]) -> Parsed:
    """Parse ``argv`` (without the program name).

    Raises:
        SystemExit: ``--help`` (code 0) or a usage error tyro has printed (code 2).
        StridelabError: an option value out of range, an unknown task, ...
    """
    argv = list(argv)
    index = _command_index(argv)
    name = argv[index] if index is not None else None
    module = command_module(name) if name is not None else None
    removed: list[tuple[str, ...]] = []
    nulls: list[tuple[str, ...]] = []
    if module is not None and hasattr(module, "default_args") and "env" in {f.name for f in
                                                                            dataclasses.fields(module.Args)}:
        argv, removed = split_term_removals(argv)  # --env.<table>.<term> None: the term is switched off
        argv, nulls = split_param_nulls(argv)  # --env.<table>.<term>.params.<name> None: the parameter is None
    tokens = argv[index + 1:] if index is not None else []

    seen: list[Any] = []  # the defaults parsed against, in which each switched-off term must be found once

    def parse_with(default: Any) -> Any:
        if removed:  # the terms leave the defaults, so that their options are gone too
            seen.append(default)
            default = without_terms(default, removed, missing_ok=True)
        root = tyro.cli(_root({name: default} if name else {}), args=argv, prog="stridelab", description=DESCRIPTION)
        return root

    default = module.default_args(tokens) if module is not None and hasattr(module, "default_args") else None
    root = parse_with(default)
    options = root.command
    if module is not None and hasattr(module, "resolve"):
        reparse: Callable[[Any], Any] = lambda other: parse_with(other).command  # noqa: E731
        options = module.resolve(options, reparse)
    check_removals(removed, seen)
    if nulls:
        options = with_params_none(options, nulls)
    return Parsed(name, options, root.verbose)


def main(argv: list[str] | None = None) -> int:
    """Run the ``stridelab`` command; returns the exit code (2 for a usage error or a StridelabError)."""
    # offscreen rendering backend; MuJoCo reads this when it is first imported
    os.environ.setdefault("MUJOCO_GL", "egl")
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        try:
            parsed = parse(argv)
        except SystemExit as exc:
            if exc.code in (0, None):
                return 0
            index = _command_index(argv)
            where = f"stridelab {argv[index]}" if index is not None else "stridelab"
            print(f"error: invalid arguments (see above); run `{where} --help` for the options.", file=sys.stderr)
            return 2
        logging.basicConfig(level=logging.DEBUG if parsed.verbose else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s")
        if parsed.verbose:
            logging.getLogger().setLevel(logging.DEBUG)
        logging.getLogger("OpenGL").setLevel(logging.WARNING)
        return int(command_module(parsed.name).run(parsed.options) or 0)
    except StridelabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
