"""The ``stridelab`` command: list | bench | train | eval | play | export | deploy.

Argument parsing lives here only. Every :class:`~stridelab.errors.StridelabError` reaches the user
as one sentence on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from stridelab.errors import StridelabError

log = logging.getLogger("stridelab")


def _cmd_list(args: argparse.Namespace) -> int:
    from stridelab.robots import ROBOTS
    from stridelab.tasks import list_tasks

    print("tasks:")
    for task in list_tasks():
        print(f"  {task.name:<18} {task.description}")
    print("robots:")
    for name, spec in sorted(ROBOTS.items()):
        print(f"  {name:<18} {spec.source}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from stridelab.bench import run_bench

    results = []
    for n in args.num_envs:
        r = run_bench(args.task, n, args.threads, args.steps, args.rounds, args.seed)
        results.append(r)
        print(f"{r.task}: {r.num_envs} envs, {r.num_threads} threads, decimation {r.decimation}: "
              f"env {r.env_steps_per_s:,.0f} steps/s, raw mujoco.batch {r.raw_steps_per_s:,.0f} steps/s, "
              f"ratio {r.ratio:.3f}")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("[\n" + ",\n".join(r.to_json() for r in results) + "\n]\n")
        print(f"wrote {out}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stridelab", description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list registered tasks and robots")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("bench", help="env throughput against the raw mujoco.batch limit", allow_abbrev=False)
    p.add_argument("--task", default="quadruped-flat")
    p.add_argument("--num-envs", type=_positive_int, nargs="+", default=[1024])
    p.add_argument("--threads", type=int, default=0, help="physics threads (0: all cores)")
    p.add_argument("--steps", type=_positive_int, default=50, help="control steps per round")
    p.add_argument("--rounds", type=_positive_int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench.json", help="JSON file for the results ('' to skip)")
    p.set_defaults(func=_cmd_bench)

    _add_learning_commands(sub)
    return parser


def _add_learning_commands(sub) -> None:
    """Commands that need the learning stack (train, eval, play, export, deploy)."""
    try:
        from stridelab import commands
    except ImportError:  # pragma: no cover - learning commands not available yet
        return
    commands.register(sub)


def main(argv: list[str] | None = None) -> int:
    # offscreen rendering backend; MuJoCo reads this when it is first imported
    os.environ.setdefault("MUJOCO_GL", "egl")
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("OpenGL").setLevel(logging.WARNING)
    if rest and not getattr(args, "accepts_rest", False):
        print(f"error: unrecognized arguments: {' '.join(rest)}; run `stridelab {args.command} --help` for the "
              f"options.", file=sys.stderr)
        return 2
    if False:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    try:
        return int(args.func(args) or 0)
    except StridelabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
