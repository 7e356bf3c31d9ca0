"""Time to walk: train a task from scratch with its default settings until it walks, for several seeds.

    python benchmarks/time_to_walk.py --seeds 0 1 2 --max-minutes 20 --out benchmarks/results/time_to_walk.json

Every --check-every-s seconds of training (once the training policy's own error is below the task's gate) the
policy is evaluated on the command grid exactly as ``stridelab eval`` evaluates a run
(:func:`stridelab.eval.report.grid_verdict`: 4 envs per command, 10 s each, the run's evaluation seed);
training stops at the first check that passes "walks" (linear error <= 0.15 m/s, yaw error <= 0.2 rad/s,
falls <= 2 %). Reports, per seed, wall-clock seconds (including the checks) and env steps until then, the
evaluation of the final checkpoint (the same evaluation: it agrees with the check that stopped the run),
and the median and spread over the seeds. Seeds run one after another. Run it alone: a second job on a
2-core machine slows torch 10-20x.

With --workers N the rollouts run on N Ray workers (a local Ray instance), synchronously or with
--async-rollouts: what asynchronous PPO costs in learning (time and env steps to walk) next to its throughput
(benchmarks/ray_throughput.py). The env count stays the task's total, split over the workers.

With --init-from RUN each seed fine-tunes RUN's policy (``stridelab train --init-from``: its actor and critic,
a fresh optimizer) instead of starting from scratch, e.g. under changed rewards; times and env steps then
count from the fine-tuning's start, so add the first run's to state the whole budget.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

from stridelab.envs.throughput import machine_description
from stridelab.config import override
from stridelab.eval.report import grid_verdict
from stridelab.files import write_atomic
from stridelab.learn.policy import load_policy
from stridelab.learn.trainer import Trainer
from stridelab.tasks import get_task, make_env_cfg

METRICS = ("lin_vel_error", "yaw_rate_error", "fall_rate", "power", "foot_slip", "walks")


def run_seed(task: str, seed: int, max_minutes: float, check_every_s: float | None, log_dir: Path,
             train_overrides: dict | None = None, env_overrides: dict | None = None, ray: object = None,
             init_from: str | None = None) -> dict:
    env_cfg = make_env_cfg(task, seed=seed, **(env_overrides or {}))
    train_cfg = override(get_task(task).train_cfg(), **(train_overrides or {}))
    train_cfg = override(train_cfg, max_minutes=max_minutes, stop_when_walks=True, max_iterations=100_000,
                         check_every_s=train_cfg.check_every_s if check_every_s is None else check_every_s)
    run_dir = log_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-seed{seed}"
    env = None
    if ray is not None:
        from stridelab.distributed.vec_env import RayVecEnv

        env = RayVecEnv(env_cfg, ray)
    trainer = Trainer(env_cfg, train_cfg, run_dir, seed=seed, env=env,
                      walk_check=lambda pol: grid_verdict(pol, env_cfg))
    if init_from:
        trainer.init_from(Path(init_from))
    t0 = time.monotonic()
    try:
        result = trainer.train(show_progress=False)
    finally:
        trainer.close()
    wall = time.monotonic() - t0
    final = grid_verdict(load_policy(result.checkpoint).policy, env_cfg)
    walked = result.stopped_because == "walks"
    return {
        "seed": seed, "walked": walked, "init_from": init_from,
        "seconds_to_walk": round(result.seconds, 1) if walked else None,
        "env_steps_to_walk": result.env_steps if walked else None,
        "wall_seconds": round(wall, 1), "iterations": result.iterations, "stopped_because": result.stopped_because,
        "checks": result.walk_checks, "final_eval": {k: final[k] for k in METRICS},
        "gait": final.get("gait"),
        "num_envs": env_cfg.num_envs, "num_steps_per_env": train_cfg.num_steps_per_env, "run_dir": str(run_dir),
    }


def summarize(runs: list[dict]) -> dict:
    """Median and spread (min, max) of the time to walk; a seed that did not walk counts as infinite."""
    times = [r["seconds_to_walk"] if r["walked"] else float("inf") for r in runs]
    steps = [r["env_steps_to_walk"] if r["walked"] else float("inf") for r in runs]
    return {"seeds": [r["seed"] for r in runs], "walked": sum(r["walked"] for r in runs),
            "median_seconds_to_walk": statistics.median(times), "min_seconds": min(times), "max_seconds": max(times),
            "median_env_steps_to_walk": statistics.median(steps)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="quadruped-flat")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--max-minutes", type=float, default=20.0)
    p.add_argument("--check-every-s", type=float, default=None, help="default: the task's TrainConfig")
    p.add_argument("--log-dir", default="runs/time_to_walk")
    p.add_argument("--out", default="benchmarks/results/time_to_walk.json")
    p.add_argument("--train-overrides", default="{}", help='JSON of TrainConfig changes, e.g. \'{"symmetry": "off"}\'')
    p.add_argument("--env-overrides", default="{}", help="JSON of EnvConfig changes (nested dicts)")
    p.add_argument("--init-from", default=None,
                   help="run dir or checkpoint to fine-tune from (times then count from the fine-tuning's start)")
    p.add_argument("--workers", type=int, default=0, help="Ray rollout workers (0: in-process)")
    p.add_argument("--cpus-per-worker", type=int, default=1)
    p.add_argument("--async-rollouts", action="store_true")
    args = p.parse_args()
    ray = None
    if args.workers:
        from stridelab.distributed.options import RayOptions

        ray = RayOptions(workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                         async_rollouts=args.async_rollouts)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    runs = []
    for seed in args.seeds:
        runs.append(run_seed(args.task, seed, args.max_minutes, args.check_every_s, Path(args.log_dir),
                             json.loads(args.train_overrides), json.loads(args.env_overrides), ray, args.init_from))
        logging.info("seed %d: %s", seed, {k: v for k, v in runs[-1].items() if k != "checks"})
    report = {"task": args.task, "init_from": args.init_from, "train_overrides": json.loads(args.train_overrides),
              "env_overrides": json.loads(args.env_overrides), "workers": args.workers,
              "async_rollouts": args.async_rollouts, "summary": summarize(runs), "runs": runs,
              "machine": machine_description()}
    write_atomic(Path(args.out), lambda f: f.write(json.dumps(report, indent=2)), binary=False)
    print(json.dumps({"summary": report["summary"],
                      "runs": [{k: v for k, v in r.items() if k != "checks"} for r in runs]}, indent=2))


if __name__ == "__main__":
    main()
