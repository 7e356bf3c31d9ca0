"""Time to walk: train quadruped-flat from scratch with the default settings until it walks.

    python benchmarks/time_to_walk.py --max-minutes 20 --out benchmarks/results/time_to_walk.json

Every --check-every-s seconds of training the policy is evaluated on the command grid on a short
budget (2 envs per command, 10 s each); training stops at the first check that passes "walks"
(linear error <= 0.15 m/s, yaw error <= 0.2 rad/s, falls <= 2 %). Reports wall-clock seconds
(including the checks) and env steps until then, then runs the full evaluation (4 envs per command)
of the final policy. Run it alone: a second job on a 2-core machine slows torch 10-20x.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from stridelab.bench import machine_description
from stridelab.config import override
from stridelab.eval.grid import evaluate
from stridelab.learn.trainer import Trainer
from stridelab.tasks import get_task, make_env_cfg


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="quadruped-flat")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=20.0)
    p.add_argument("--check-every-s", type=float, default=60.0)
    p.add_argument("--log-dir", default="runs/time_to_walk")
    p.add_argument("--out", default="benchmarks/results/time_to_walk.json")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    env_cfg = make_env_cfg(args.task, seed=args.seed)
    train_cfg = override(get_task(args.task).train_cfg(), max_minutes=args.max_minutes, stop_when_walks=True,
                         check_every_s=args.check_every_s, max_iterations=100_000)
    run_dir = Path(args.log_dir) / time.strftime("%Y%m%d-%H%M%S")
    trainer = Trainer(env_cfg, train_cfg, run_dir, seed=args.seed,
                      walk_check=lambda pol: evaluate(pol, env_cfg, envs_per_command=2, seed=args.seed + 1))
    t0 = time.monotonic()
    result = trainer.train(show_progress=False)
    wall = time.monotonic() - t0
    final = evaluate(trainer.runner.get_inference_policy(), env_cfg, envs_per_command=4, seed=args.seed + 1000)
    report = {
        "task": args.task, "seed": args.seed, "walked": result.stopped_because == "walks",
        "seconds_to_walk": round(result.seconds, 1) if result.stopped_because == "walks" else None,
        "env_steps_to_walk": result.env_steps if result.stopped_because == "walks" else None,
        "wall_seconds": round(wall, 1), "iterations": result.iterations, "stopped_because": result.stopped_because,
        "checks": result.walk_checks,
        "final_eval": {k: final[k] for k in ("lin_vel_error", "yaw_rate_error", "fall_rate", "power", "foot_slip",
                                             "walks")},
        "num_envs": env_cfg.num_envs, "num_steps_per_env": train_cfg.num_steps_per_env,
        "machine": machine_description(), "run_dir": str(run_dir),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "checks"}, indent=2))


if __name__ == "__main__":
    main()
