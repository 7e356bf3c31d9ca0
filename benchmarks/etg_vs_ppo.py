"""ETG+RL against plain PPO: time to walk on flat ground, success on ETG-RL's courses after the same budget.

    # flat: env steps and wall-clock until "walks" (the same walk check for both), several seeds
    python benchmarks/etg_vs_ppo.py flat --seeds 0 1 2 --max-minutes 20 --out benchmarks/results/etg_vs_ppo_flat.json

    # courses: success rate of each method after the same wall-clock budget (needs the course tasks)
    python benchmarks/etg_vs_ppo.py courses --tasks quadruped-stairstair quadruped-balancebeam --seeds 0 \
        --minutes 30 --out benchmarks/results/etg_vs_ppo_courses.json

Both methods train the task with its own TrainConfig (same envs, PPO settings, walk check and budgets);
ETG differs only by the action (generator + residual), its observation terms and its ES phases
(``--alg``, ``--es-generations`` per ``--rl-iterations``; the ES env steps and seconds count in its budget).
"walks" is stridelab's criterion on the command grid (linear error <= 0.15 m/s, yaw error <= 0.2 rad/s,
falls <= 2 %), checked every ``check_every_s`` of training once the training error is below 0.3 m/s; a
run that does not walk within the budget counts as infinite. Course success is
``stridelab.eval.terrain.evaluate_terrain``: the base crosses the finish line without a fall within the time
the commanded speed allows; course progress is the mean distance walked towards the finish line (until a
fall or the time limit) as a fraction of the course, which still ranks two methods when neither finishes.
``--reevaluate REPORT.json`` evaluates the checkpoints of an earlier course report again without training.
Runs go one after another; run the script alone on the machine (a second busy process slows torch 10-20x
on two cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import statistics
import time
from pathlib import Path

from stridelab.envs.throughput import machine_description
from stridelab.config import override
from stridelab.eval.grid import evaluate
from stridelab.etg.config import ETGConfig
from stridelab.etg.dual import train_etg
from stridelab.learn.policy import load_policy
from stridelab.learn.trainer import Trainer
from stridelab.tasks import get_task, make_env_cfg
from stridelab.files import write_atomic

METRICS = ("lin_vel_error", "yaw_rate_error", "fall_rate", "walks")


def run_ppo(task: str, seed: int, minutes: float, stop_when_walks: bool, log_dir: Path) -> dict:
    """Plain PPO on ``task`` (its default action and configs)."""
    env_cfg = make_env_cfg(task, seed=seed)
    train_cfg = override(get_task(task).train_cfg(), max_minutes=minutes, stop_when_walks=stop_when_walks,
                         max_iterations=100_000)
    run_dir = log_dir / f"{task}-ppo-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    check = (lambda pol: evaluate(pol, env_cfg, envs_per_command=2, duration_s=10.0, seed=seed + 1))
    trainer = Trainer(env_cfg, train_cfg, run_dir, seed=seed, walk_check=check if stop_when_walks else None)
    result = trainer.train(show_progress=False)
    return {"method": "ppo", "task": task, "seed": seed, "run_dir": str(run_dir), "checkpoint": str(result.checkpoint),
            "stopped_because": result.stopped_because, "walked": result.stopped_because == "walks",
            "seconds": round(result.seconds, 1), "env_steps": result.env_steps, "es_env_steps": 0,
            "iterations": result.iterations, "checks": result.walk_checks}


def run_etg(task: str, seed: int, minutes: float, stop_when_walks: bool, log_dir: Path, cfg: ETGConfig,
            etg_path: str | None) -> dict:
    """ETG dual training on ``task`` with the same budget."""
    run_dir = log_dir / f"{task}-etg-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    result = train_etg(task, cfg, run_dir, seed=seed, etg_path=etg_path,
                       train_overrides={"max_minutes": minutes, "stop_when_walks": stop_when_walks,
                                        "max_iterations": 100_000}, walk_check=stop_when_walks)
    info = json.loads((run_dir / "etg_log.json").read_text())
    return {"method": "etg", "task": task, "seed": seed, "run_dir": str(run_dir), "checkpoint": str(result.checkpoint),
            "stopped_because": result.stopped_because, "walked": result.stopped_because == "walks",
            "seconds": round(result.seconds, 1), "env_steps": result.env_steps, "es_env_steps": result.es_env_steps,
            "iterations": result.iterations, "generations": result.generations, "checks": result.walk_checks,
            "generator_fitness_before_after": [info.get("fitness_before"), info.get("fitness_after")]}


def _final_grid(run: dict, seed: int) -> dict:
    loaded = load_policy(Path(run["checkpoint"]))
    report = evaluate(loaded.policy, loaded.env_cfg, envs_per_command=4, seed=seed + 1000)
    return {k: report[k] for k in METRICS}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize_flat(runs: list[dict]) -> dict:
    """Median seconds and env steps to walk per method (a run that did not walk counts as infinite), and the
    ETG / PPO ratios (below 1: ETG is faster)."""
    out: dict = {}
    for method in ("ppo", "etg"):
        rs = [r for r in runs if r["method"] == method]
        inf = float("inf")
        out[method] = {"walked": sum(r["walked"] for r in rs), "runs": len(rs),
                       "median_seconds_to_walk": _median([r["seconds"] if r["walked"] else inf for r in rs]),
                       "median_env_steps_to_walk": _median([r["env_steps"] if r["walked"] else inf for r in rs])}
    for key in ("median_seconds_to_walk", "median_env_steps_to_walk"):
        ppo, etg = out["ppo"][key], out["etg"][key]
        out[f"ratio_etg_over_ppo_{key.removeprefix('median_')}"] = (etg / ppo if ppo not in (0, float("inf"))
                                                                   and etg != float("inf") else None)
    return out


def flat(args: argparse.Namespace, cfg: ETGConfig) -> dict:
    runs = []
    for seed in args.seeds:
        for method in args.methods:
            logging.info("flat, %s, seed %d", method, seed)
            run = (run_ppo(args.task, seed, args.max_minutes, True, Path(args.log_dir)) if method == "ppo" else
                   run_etg(args.task, seed, args.max_minutes, True, Path(args.log_dir), cfg, args.etg_path))
            run["final_eval"] = _final_grid(run, seed)
            runs.append(run)
            logging.info("%s seed %d: %s", method, seed, {k: v for k, v in run.items() if k != "checks"})
    return {"kind": "flat", "task": args.task, "budget_minutes": args.max_minutes, "runs": runs,
            "summary": summarize_flat(runs)}


def courses(args: argparse.Namespace, cfg: ETGConfig) -> dict:
    runs = []
    for task in args.tasks:
        get_task(task)  # an unknown task stops here, before any training
        for seed in args.seeds:
            for method in args.methods:
                logging.info("%s, %s, seed %d", task, method, seed)
                run = (run_ppo(task, seed, args.minutes, False, Path(args.log_dir)) if method == "ppo" else
                       run_etg(task, seed, args.minutes, False, Path(args.log_dir), cfg, args.etg_path))
                runs.append(evaluate_course(run, args))
    return {"kind": "courses", "budget_minutes": args.minutes, "trials_per_course": args.trials,
            "speed": args.speed, "runs": runs, "summary": summarize_courses(runs, args.tasks, args.methods)}


def evaluate_course(run: dict, args: argparse.Namespace) -> dict:
    """The course figures of a run's checkpoint: success rate, progress (mean distance walked towards the finish
    line before a fall or the time limit, as a fraction of the course) and fall rate (``--trials`` trials)."""
    from stridelab.eval.terrain import evaluate_terrain

    loaded = load_policy(Path(run["checkpoint"]))
    report = evaluate_terrain(loaded.policy, loaded.env_cfg, trials=args.trials, speed=args.speed,
                              seed=run["seed"] + 1000)
    (cell,) = report["cells"]  # a course is one cell
    run["success_rate"] = report["overall_success_rate"]
    run["progress"] = float(min(cell["mean_distance"], cell["required_distance"]) / cell["required_distance"])
    run["fall_rate"] = cell["fall_rate"]
    run["terrain_eval"] = {k: v for k, v in report.items() if k not in ("cells",)}
    logging.info("%s %s seed %d: success %.2f, progress %.2f, falls %.2f", run["task"], run["method"], run["seed"],
                 run["success_rate"], run["progress"], run["fall_rate"])
    return run


def summarize_courses(runs: list[dict], tasks: list[str], methods: list[str]) -> dict:
    """Per task and method: mean success, progress and fall rate; ratios ETG / PPO (None where PPO's is 0)."""
    summary = {}
    for task in tasks:
        row: dict = {}
        for method in methods:
            mine = [r for r in runs if r["task"] == task and r["method"] == method]
            row[method] = {f"mean_{key}": statistics.mean(r[key] for r in mine) if mine else None
                           for key in ("success_rate", "progress", "fall_rate")}
            row[method]["rates"] = [r["success_rate"] for r in mine]
        for key in ("success_rate", "progress"):
            ppo, etg = (row.get(m, {}).get(f"mean_{key}") for m in ("ppo", "etg"))
            row[f"ratio_etg_over_ppo_{key}"] = etg / ppo if ppo and etg is not None else None
        summary[task] = row
    return summary


def reevaluate(args: argparse.Namespace) -> dict:
    """The course figures of every run of an earlier report again (its checkpoints; e.g. after adding a figure)."""
    report = json.loads(Path(args.reevaluate).read_text())
    if report.get("kind") != "courses":
        raise SystemExit(f"{args.reevaluate} is not a course report of this benchmark; give the JSON of `courses`.")
    args.trials, args.speed = report["trials_per_course"], report["speed"]
    runs = [evaluate_course(run, args) for run in report["runs"]]
    tasks = list(dict.fromkeys(r["task"] for r in runs))
    methods = list(dict.fromkeys(r["method"] for r in runs))
    report.update(runs=runs, summary=summarize_courses(runs, tasks, methods))
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=("flat", "courses"))
    p.add_argument("--task", default="quadruped-flat", help="flat: the task")
    p.add_argument("--tasks", nargs="+", default=["quadruped-stairstair", "quadruped-balancebeam"],
                   help="courses: the course tasks")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--methods", nargs="+", choices=("ppo", "etg"), default=["ppo", "etg"])
    p.add_argument("--max-minutes", type=float, default=20.0, help="flat: budget per run (ES included)")
    p.add_argument("--minutes", type=float, default=30.0, help="courses: budget per run (ES included)")
    p.add_argument("--trials", type=int, default=16, help="courses: evaluation trials per course")
    p.add_argument("--speed", type=float, default=0.5, help="courses: forward command of the trials [m/s]")
    p.add_argument("--alg", default="cma")
    p.add_argument("--act-bound", type=float, default=0.5)
    p.add_argument("--es-generations", type=int, default=5)
    p.add_argument("--rl-iterations", type=int, default=50)
    p.add_argument("--popsize", type=int, default=16)
    p.add_argument("--envs-per-member", type=int, default=4)
    p.add_argument("--es-episode-s", type=float, default=5.0, help="ES episode length [s] (courses: 10, ETG-RL's 400 "
                                                                     "steps of 26 ms)")
    p.add_argument("--etg-path", default=None, help="a pretrained generator.json (default: from the prior)")
    p.add_argument("--log-dir", default="runs/etg_vs_ppo")
    p.add_argument("--out", default=None)
    p.add_argument("--reevaluate", default=None, metavar="JSON",
                   help="courses: evaluate the checkpoints of an earlier course report again (no training)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = ETGConfig(alg=args.alg, act_bound=args.act_bound, es_generations=args.es_generations,
                    rl_iterations=args.rl_iterations, popsize=args.popsize, envs_per_member=args.envs_per_member,
                    episode_s=args.es_episode_s)
    if args.reevaluate:
        report = reevaluate(args)
        report.update(reevaluated=" ".join(sys.argv))
    else:
        report = flat(args, cfg) if args.kind == "flat" else courses(args, cfg)
        report.update(machine=machine_description(),
                      etg=json.loads(json.dumps(cfg.__dict__, default=lambda o: o.__dict__)), etg_path=args.etg_path,
                      command=" ".join(sys.argv))
    out = Path(args.out or f"benchmarks/results/etg_vs_ppo_{args.kind}.json")
    write_atomic(out, lambda f: f.write(json.dumps(report, indent=2, default=str)), binary=False)
    print(json.dumps(report["summary"], indent=2, default=str))


if __name__ == "__main__":
    main()
