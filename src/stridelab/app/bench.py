"""``stridelab bench``: env throughput against the raw ``mujoco.batch`` limit of the same model."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import tyro

from stridelab.app.options import check
from stridelab.errors import ConfigError

DEFAULT_TASK = "quadruped-flat"


@dataclasses.dataclass(frozen=True)
class Args:
    """Env throughput against the raw mujoco.batch limit (control steps/s, best of alternating rounds).

    Attributes:
        task: registered task name (see `stridelab list`).
        num_envs: parallel environments; several sizes run one after the other.
        threads: physics threads (0: all cores).
        steps: control steps per round.
        rounds: measured rounds (after one warm-up round).
        seed: seed of the env and of the random actions.
        out: JSON file for the results (default: none, the results are only printed).
        robot: a registered robot name or a RobotSpec YAML file in place of the task's robot.
    """

    task: str = DEFAULT_TASK
    num_envs: tuple[int, ...] = (1024,)
    threads: int = 0
    steps: int = 50
    rounds: int = 5
    seed: int = 0
    out: Annotated[str | None, tyro.conf.arg(metavar="FILE")] = None
    robot: Annotated[str | None, tyro.conf.arg(metavar="SPEC")] = None

    def __post_init__(self) -> None:
        check(bool(self.num_envs) and all(n >= 1 for n in self.num_envs),
              f"--num-envs {' '.join(map(str, self.num_envs))} is out of range; give 1 or more environments.")
        check(self.threads >= 0, f"--threads {self.threads} is out of range; use 0 (all cores) or more.")
        check(self.steps >= 1, f"--steps {self.steps} is out of range; use 1 or more control steps per round.")
        check(self.rounds >= 1, f"--rounds {self.rounds} is out of range; use 1 or more rounds.")


def run(args: Args) -> int:
    """Measure env and raw throughput for each ``--num-envs``; print them and write ``--out`` if given."""
    import json

    from stridelab.envs.throughput import run_bench
    from stridelab.files import write_atomic
    from stridelab.tasks import make_env_cfg

    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give the path of a JSON file, e.g. {out / 'bench.json'}.")
    results = []
    for n in args.num_envs:
        over = {"robot": args.robot} if args.robot else {}
        cfg = make_env_cfg(args.task, num_envs=n, num_threads=args.threads, seed=args.seed, **over)
        r = run_bench(cfg, args.steps, args.rounds, robot=args.robot)
        results.append(r)
        label = f"{r.task} ({r.robot})" if r.robot else r.task
        print(f"{label}: {r.num_envs} envs, {r.num_threads} threads, decimation {r.decimation}: "
              f"env {r.env_steps_per_s:,.0f} steps/s, raw mujoco.batch {r.raw_steps_per_s:,.0f} steps/s, "
              f"ratio {r.ratio:.3f}")
    if out is not None:
        write_atomic(out, lambda f: f.write(json.dumps([dataclasses.asdict(r) for r in results], indent=2) + "\n"),
                     binary=False)
        print(f"wrote {out}")
    return 0
