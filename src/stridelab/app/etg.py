"""``stridelab etg train|pretrain|export``: ETG-RL, a gait generator evolved by ES with a PPO residual (docs/etg.md)."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Union

import tyro

from stridelab.app.options import check, check_budget
from stridelab.distributed.options import RayOptions
from stridelab.etg.config import ETGConfig
from stridelab.files import write_atomic

log = logging.getLogger("stridelab")

_Etg = Annotated[ETGConfig, tyro.conf.OmitArgPrefixes]
_Ray = Annotated[RayOptions, tyro.conf.OmitArgPrefixes]


def _check_common(num_envs: int | None, max_minutes: float | None, ray: RayOptions, etg_path: str) -> None:
    check_budget(num_envs, max_minutes=max_minutes)
    check(not ray.async_rollouts, "--async-rollouts is for PPO rollouts on Ray; ETG puts its ES populations on the "
                                  "workers and keeps PPO in-process, so drop it.")
    if etg_path.lower() != "none":
        from stridelab.mdp.etg_generator import load_generator

        load_generator(etg_path)  # a missing or corrupt file fails here, before anything is built


@dataclasses.dataclass(frozen=True)
class TrainArgs:
    """Dual training: ES phases evolve the generator, PPO phases train the residual policy on top of it.

    Attributes:
        task: a quadruped task (see `stridelab list`).
        etg: the generator, the evolution strategy and the alternation with PPO.
        etg_path: the generator to start from: generator.json (or a run directory holding one), or `none` for
            the fit of the prior trajectory.
        seed: seed of the env, the learner and the ES.
        num_envs: PPO envs (default: the task's).
        max_iterations: PPO iteration budget (default: the task's).
        max_minutes: wall-clock budget in minutes, ES included (default: the task's; 0: none).
        log_dir: root of the run directories.
        eval: evaluate on the command grid after training.
        ray: evaluate the ES populations on Ray workers (PPO stays in-process).
    """

    task: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="TASK")]
    etg: _Etg = dataclasses.field(default_factory=ETGConfig)
    etg_path: str = "none"
    seed: int = 0
    num_envs: int | None = None
    max_iterations: int | None = None
    max_minutes: float | None = None
    log_dir: str = "runs"
    eval: bool = True
    ray: _Ray = dataclasses.field(default_factory=RayOptions)

    def __post_init__(self) -> None:
        _check_common(self.num_envs, self.max_minutes, self.ray, self.etg_path)
        check_budget(max_iterations=self.max_iterations)


@dataclasses.dataclass(frozen=True)
class PretrainArgs:
    """Evolve the generator alone (zero residual): one ES phase of ``--generations`` generations.

    Attributes:
        task: a quadruped task (see `stridelab list`).
        etg: the generator and the evolution strategy.
        etg_path: the generator to start from (generator.json or a run directory), or `none` for the prior's fit.
        generations: ES generations.
        seed: seed of the env and the ES.
        num_envs: envs of the task config (default: the task's).
        max_minutes: wall-clock budget in minutes (default: none).
        log_dir: root of the run directories.
        ray: evaluate the populations on Ray workers.
    """

    task: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="TASK")]
    etg: _Etg = dataclasses.field(default_factory=ETGConfig)
    etg_path: str = "none"
    generations: int = 30
    seed: int = 0
    num_envs: int | None = None
    max_minutes: float | None = None
    log_dir: str = "runs"
    ray: _Ray = dataclasses.field(default_factory=RayOptions)

    def __post_init__(self) -> None:
        _check_common(self.num_envs, self.max_minutes, self.ray, self.etg_path)
        check(self.generations >= 1, f"--generations {self.generations} is out of range; use 1 or more.")


@dataclasses.dataclass(frozen=True)
class ExportArgs:
    """Export an ETG run: policy.onnx/.pt/.json, robot.xml and the generator as a lookup table (etg_table.npy).

    Attributes:
        run: the run directory (or checkpoint).
        out: export directory (default: RUN/export).
        table_size: rows of the lookup table (phase grid; default: the run's).
    """

    run: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN")]
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    table_size: int | None = None

    def __post_init__(self) -> None:
        check(self.table_size is None or 16 <= self.table_size <= 1_000_000,
              f"--table-size {self.table_size} is out of range; use 16 to 1000000 rows.")


# tyro needs a typing.Union of annotated subcommands
Verb = Union[Annotated[TrainArgs, tyro.conf.subcommand("train")],  # noqa: UP007
             Annotated[PretrainArgs, tyro.conf.subcommand("pretrain")],
             Annotated[ExportArgs, tyro.conf.subcommand("export")]]


@dataclasses.dataclass(frozen=True)
class Args:
    """ETG-RL: a gait generator evolved by ES, with a PPO residual on top (docs/etg.md)."""

    verb: Annotated[Verb, tyro.conf.arg(name="")]


def run(args: Args) -> int:
    verb = args.verb
    if isinstance(verb, ExportArgs):
        return export(verb)
    if isinstance(verb, PretrainArgs):
        return pretrain(verb)
    return train(verb)


def _env_overrides(num_envs: int | None) -> dict:
    return {"num_envs": num_envs} if num_envs is not None else {}


def pretrain(args: PretrainArgs) -> int:
    from stridelab.etg.dual import pretrain_generator
    from stridelab.learn.rundir import reserve_run_dir
    from stridelab.tasks import get_task

    get_task(args.task)  # an unknown task: the registry's sentence
    run_dir = reserve_run_dir(Path(args.log_dir) / "etg-pretrain" / args.task)
    result = pretrain_generator(args.task, args.etg, run_dir, args.generations, seed=args.seed, etg_path=args.etg_path,
                                max_minutes=args.max_minutes or 0.0, env_overrides=_env_overrides(args.num_envs),
                                ray=args.ray if args.ray.distributed else None)
    info = json.loads((run_dir / "etg_log.json").read_text())
    print(f"evolved the generator of {args.task} for {result.generations} generations ({result.es_env_steps:,} env "
          f"steps, {result.seconds:.0f} s): fitness {info['fitness_before']:.2f} before, {info['fitness_after']:.2f} "
          f"after (one batch, same commands); wrote {result.generator} and plots/etg_fitness.png, "
          f"plots/etg_feet.png in {run_dir}")
    return 130 if result.stopped_because == "interrupted" else 0


def train(args: TrainArgs) -> int:
    from stridelab.etg.dual import train_etg
    from stridelab.eval.report import evaluate_run
    from stridelab.learn.rundir import reserve_run_dir
    from stridelab.tasks import get_task

    get_task(args.task)
    train_over = {k: v for k, v in (("max_iterations", args.max_iterations), ("max_minutes", args.max_minutes))
                  if v is not None}
    run_dir = reserve_run_dir(Path(args.log_dir) / f"{args.task}-etg")
    cfg = args.etg
    log.info("ETG training of %s (%s, act bound %.2f rad) in %s", args.task, cfg.alg, cfg.act_bound, run_dir)
    result = train_etg(args.task, cfg, run_dir, seed=args.seed, etg_path=args.etg_path,
                       env_overrides=_env_overrides(args.num_envs), train_overrides=train_over,
                       show_progress=sys.stderr.isatty(), ray=args.ray if args.ray.distributed else None)
    if result.walk_checks:
        write_atomic(run_dir / "walk_checks.json", lambda f: f.write(json.dumps(result.walk_checks, indent=2)),
                     binary=False)
    info = json.loads((run_dir / "etg_log.json").read_text())
    print(f"stopped ({result.stopped_because}) after {result.iterations} PPO iterations and {result.generations} ES "
          f"generations: {result.env_steps:,} env steps ({result.es_env_steps:,} in ES), {result.seconds:.0f} s; "
          f"generator fitness with the final policy {info['fitness_before']:.2f} before evolution, "
          f"{info['fitness_after']:.2f} after; checkpoint {result.checkpoint}, generator {result.generator}")
    if result.stopped_because == "interrupted":
        return 130
    if args.eval:
        report = evaluate_run(run_dir)
        terrain = report.get("terrain") or {}
        success = (f"; terrain success {100 * terrain['overall_success_rate']:.0f}%"
                   if "overall_success_rate" in terrain else "")
        print(f"eval: lin vel error {report['lin_vel_error']:.3f} m/s, yaw rate error {report['yaw_rate_error']:.3f} "
              f"rad/s, falls {100 * report['fall_rate']:.1f}% -> "
              + ("WALKS" if report["walks"] else "does not walk yet") + f"{success}; results in {run_dir}")
    return 0


def export(args: ExportArgs) -> int:
    """Export policy.onnx/.pt/.json, robot.xml and etg_table.npy; check the ONNX parity and the table."""
    from stridelab.config import override
    from stridelab.deploy.export import check_parity, export_policy
    from stridelab.envs import make_env
    from stridelab.errors import ConfigError
    from stridelab.learn.policy import load_policy
    from stridelab.mdp.etg import TABLE_FILE, etg_residual, etg_table_residual, table_error

    loaded = load_policy(Path(args.run))
    if loaded.env_cfg.action.func.rpartition(":")[2] != "etg_residual":
        raise ConfigError(f"run {args.run!r} was not trained with ETG (its action is {loaded.env_cfg.action.func!r}); "
                          f"export it with `stridelab export RUN`.")
    env_cfg = loaded.env_cfg
    if args.table_size is not None:
        env_cfg = override(env_cfg, action={"params": {"table_size": args.table_size}})
    out = export_policy(Path(args.run), Path(args.out) if args.out else None)
    env = make_env(override(env_cfg, num_envs=1, num_threads=1))
    term: etg_residual = env.action_term
    if args.table_size is not None:  # export_policy wrote the run's table size; write the requested one
        term.export_files(out)
        meta_path = out / "policy.json"
        meta = json.loads(meta_path.read_text())
        meta["action"] = term.describe()
        write_atomic(meta_path, lambda f: f.write(json.dumps(meta, indent=2)), binary=False)
    err = check_parity(out)
    table_err = table_error(term, etg_table_residual(term.default.tolist(), out / TABLE_FILE, term.joint_foot.tolist(),
                                                     term.act_bound, term.min_command))
    print(f"exported policy.onnx, policy.pt, policy.json and {TABLE_FILE} ({term.table_size} phases) to {out} "
          f"(torch/onnxruntime max difference {err:.1e}; table/generator max difference {table_err:.1e} rad)")
    return 0
