"""The ``stridelab`` command: list | bench | train | eval | play | export | deploy | robot | terrain | etg.

Every command is a frozen dataclass of options parsed by tyro (``stridelab COMMAND --help``); the
implementations live in :mod:`stridelab.commands` and import their heavy modules when they run, so
``stridelab list`` stays fast. Every :class:`~stridelab.errors.StridelabError` reaches the user as one
line ``error: ...`` on stderr with exit code 2; a usage error (an unknown option) prints tyro's message
and a hint line, also with exit code 2.

``train`` takes its option defaults from the task (``--env.*``, ``--train.*``), so the task is found
among the arguments before tyro parses them: the positional argument that is a registered task name,
wherever it stands (``stridelab train --seed 1 quadruped-flat``), else ``quadruped-flat``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any, Union

import tyro

from stridelab.arguments import (COMMANDS, DEFAULT_TASK, BenchArgs, DeployArgs, EtgArgs, EvalArgs, ExportArgs,  # noqa: F401
                                  ListArgs, PlayArgs, RobotArgs, TerrainArgs, TrainArgs)
from stridelab.config import to_dict
from stridelab.errors import ConfigError, StridelabError

log = logging.getLogger("stridelab")

DESCRIPTION = "Train legged robots with rsl-rl-lib PPO on batched MuJoCo; `stridelab COMMAND --help` for each command."


# ---- finding the task and the options given ------------------------------------------------------

def train_defaults(task: str) -> TrainArgs:
    """The options of ``stridelab train TASK`` before any is given: the task's env and train configs.

    Raises:
        ConfigError: ``task`` is not registered (the registry's sentence).
    """
    from stridelab.tasks import get_task

    entry = get_task(task)
    return TrainArgs(task=task, env=entry.env_cfg(), train=entry.train_cfg())


def flat_options(obj: Any, prefix: str = "") -> dict[str, Any]:
    """A dataclass tree (or dict) as ``{"env.rewards.feet_air_time.weight": value}``; ``-`` in keys as ``_``."""
    out: dict[str, Any] = {}
    for key, value in to_dict(obj).items():
        name = prefix + str(key).replace("-", "_")
        if isinstance(value, dict) and value:
            out.update(flat_options(value, name + "."))
        else:
            out[name] = value
    return out


def _option_name(token: str) -> str | None:
    """``--env.num-envs=3`` -> ``env.num_envs``; ``None`` for a short flag (``-v``) or a value."""
    if not token.startswith("--") or token == "--":
        return None
    return token[2:].split("=", 1)[0].replace("-", "_")


def _resolve(name: str, known: dict[str, Any]) -> str:
    """The option a flag sets: ``env.no_only_positive_rewards`` -> ``env.only_positive_rewards``."""
    if name in known:
        return name
    head, _, last = name.rpartition(".")
    if last.startswith("no_"):
        positive = f"{head}.{last[3:]}" if head else last[3:]
        if positive in known:
            return positive
    return name


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def given_options(tokens: Sequence[str], parsed: Any) -> dict[str, str]:
    """The options present in ``tokens``: ``{"env.seed": "--env.seed", "eval": "--no-eval", ...}``.

    Keys are the dotted fields of ``parsed`` the options set (flags resolved to their field); values
    are the spelling the user typed, for messages.
    """
    known = flat_options(parsed)
    found: dict[str, str] = {}
    for token in tokens:
        name = _option_name(token)
        if name is not None:
            found.setdefault(_resolve(name, known), token.split("=", 1)[0])
        elif token in ("-v",):
            found.setdefault("verbose", token)
    return found


def find_task(tokens: Sequence[str], defaults: TrainArgs) -> str | None:
    """The task of ``stridelab train`` arguments: the positional token that is a registered task name.

    A token right after an option that takes a value (``--seed 1``) is that option's value, not a
    positional. ``None`` when no positional is a task name: the default task's options are parsed, tyro
    assigns any remaining positional to ``task`` and :func:`parse` reports an unknown name with the
    registry's sentence. ``defaults`` (any task's) tells which options are flags.

    Raises:
        ConfigError: two different task names are given.
    """
    from stridelab.tasks import list_tasks

    names = {t.name for t in list_tasks()}
    known = flat_options(defaults)
    flags = {k for k, v in known.items() if isinstance(v, bool)} | {"help", "verbose"}
    positionals: list[str] = []
    takes_value = False
    for token in tokens:
        if token.startswith("-") and not _is_number(token):
            name = _option_name(token)
            takes_value = name is not None and "=" not in token and _resolve(name, known) not in flags
            continue
        if not takes_value:
            positionals.append(token)
        takes_value = False
    tasks = list(dict.fromkeys(t for t in positionals if t in names))
    if len(tasks) > 1:
        raise ConfigError(f"`stridelab train` got two tasks ({' and '.join(tasks)}); give one task name.")
    return tasks[0] if tasks else None


# ---- parsing -------------------------------------------------------------------------------------

def _command_index(argv: Sequence[str]) -> int | None:
    """Index of the command name in ``argv`` (global options such as ``-v`` may come before it)."""
    for i, token in enumerate(argv):
        if token in COMMANDS:
            return i
        if not token.startswith("-"):
            return None
    return None


def _root(train_default: TrainArgs) -> type:
    """The root of the CLI: ``-v/--verbose`` (anywhere) and one subcommand per entry of :data:`COMMANDS`."""
    command = Union[tuple(  # noqa: UP007 - tyro needs a typing.Union of annotated subcommands
        Annotated[cls, tyro.conf.subcommand(name, **({"default": train_default} if cls is TrainArgs else {}))]
        for name, cls in COMMANDS.items())]

    verbose = tyro.conf.CascadeSubcommandArgs[
        Annotated[bool, tyro.conf.arg(aliases=("-v",), help="debug logging"), tyro.conf.FlagCreatePairsOff]]
    # made at run time: the train subcommand's default depends on the task
    return dataclasses.make_dataclass("Stridelab", [
        ("command", Annotated[command, tyro.conf.arg(name="")]),
        ("verbose", verbose, dataclasses.field(default=False)),
    ], frozen=True)


def _tyro_cli(train_default: TrainArgs, argv: Sequence[str]) -> Any:
    return tyro.cli(_root(train_default), args=argv, prog="stridelab", description=DESCRIPTION)


@dataclasses.dataclass(frozen=True)
class Parsed:
    """The parsed command line: the command's options, ``-v``, and (train) the options given."""

    options: Any
    verbose: bool = False
    given: dict[str, str] = dataclasses.field(default_factory=dict)
    task_given: bool = False


def parse(argv: Sequence[str]) -> Parsed:
    """Parse ``argv`` (without the program name).

    Raises:
        SystemExit: ``--help`` (code 0) or a usage error tyro has printed (code 2).
        ConfigError: an option value out of range, an unknown task, ...
    """
    argv = list(argv)
    index = _command_index(argv)
    if index is None or argv[index] != "train":
        parsed = _tyro_cli(TrainArgs(), argv)
        return Parsed(parsed.command, parsed.verbose)
    tokens = argv[index + 1:]
    default = train_defaults(DEFAULT_TASK)
    found = find_task(tokens, default)
    task = found or DEFAULT_TASK
    if task != DEFAULT_TASK:
        default = train_defaults(task)
    parsed = _tyro_cli(default, argv)
    options = parsed.command
    task_given = found is not None or options.task != task
    if options.task != task:  # a positional tyro took that is not a registered task name
        default = train_defaults(options.task)  # raises the registry's sentence for an unknown name
        parsed = _tyro_cli(default, argv)
        options = parsed.command
    return Parsed(options, parsed.verbose, given_options(tokens, options), task_given)


def _run(parsed: Parsed) -> int:
    """Dispatch to the command's implementation."""
    from stridelab import commands

    opts = parsed.options
    if isinstance(opts, TrainArgs):
        return commands.cmd_train(opts, parsed.given, parsed.task_given)
    run = {ListArgs: commands.cmd_list, BenchArgs: commands.cmd_bench, EvalArgs: commands.cmd_eval,
           PlayArgs: commands.cmd_play, ExportArgs: commands.cmd_export, DeployArgs: commands.cmd_deploy,
           RobotArgs: commands.cmd_robot, TerrainArgs: commands.cmd_terrain, EtgArgs: commands.cmd_etg}
    return run[type(opts)](opts)


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
        return int(_run(parsed) or 0)
    except StridelabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
