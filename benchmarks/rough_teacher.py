"""Issue 9's figures for a trained rough-terrain teacher: stairs and rough ground, pushes, actuation latency.

    python benchmarks/rough_teacher.py runs/quadruped-rough/<stamp> --out benchmarks/results/rough_teacher.json

1. **Terrain** (:func:`stridelab.eval.terrain.evaluate_terrain`, legged_gym's success rule: no fall and at least
   half the commanded distance walked in 10 s at 0.5 m/s) on one row of fixed figures: stairs up and stairs down
   with 10 cm risers (30 cm treads), and the rough type at its hardest training amplitude (5 cm), ``--trials``
   each.
2. **Pushes** (:func:`stridelab.eval.push.evaluate_pushes`): ``--push-trials`` robots walking at 0.5 m/s on flat
   tiles each get one 0.5 m/s horizontal shove, directions spread around the heading; success is still
   standing 5 s later.
3. **Latency**: the tracking grid (:func:`stridelab.eval.grid.evaluate`, 45 commands) on flat tiles with the
   action latency fixed at 0 and at 20 ms (in 5 ms physics substeps; every other randomization as trained):
   the ratio of the linear-velocity errors. This runs in the training simulator, not the deploy backend:
   the deploy runtime builds no height scan, which the teacher reads (docs/benchmarks.md says so too).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

from stridelab.bench import machine_description
from stridelab.config import override

log = logging.getLogger("rough_teacher")


def figures(run: Path, trials: int, push_trials: int, envs_per_command: int, seed: int) -> dict:
    from stridelab.eval.grid import evaluate
    from stridelab.eval.push import evaluate_pushes
    from stridelab.eval.terrain import evaluate_terrain
    from stridelab.learn.policy import load_policy

    loaded = load_policy(run)
    cfg = loaded.env_cfg
    if cfg.terrain is None:
        raise SystemExit(f"{run} was trained on the flat floor; give a quadruped-rough (or course) run.")
    out: dict = {"run": str(run), "checkpoint": str(loaded.checkpoint), "env_steps": int(loaded.data.get("env_steps", 0)),
                 "train_seconds": float(loaded.data.get("train_seconds", 0.0)), "machine": machine_description()}
    t0 = time.perf_counter()
    fixed = replace(cfg.terrain, num_rows=1, num_cols=3, levels=(0.0, 0.0), step_height=(0.10, 0.10),
                    rough_amplitude=(0.05, 0.05), types={"stairs_up": 1.0, "stairs_down": 1.0, "rough": 1.0})
    terrain = evaluate_terrain(loaded.policy, replace(cfg, terrain=fixed), trials=trials, seed=seed)
    out["terrain"] = {"success_rate_by_type": terrain["success_rate_by_type"],
                      "fall_rate_by_type": {c["type"]: c["fall_rate"] for c in terrain["cells"]},
                      "trials_per_type": trials, "step_height_m": 0.10, "rough_amplitude_m": 0.05,
                      "speed": terrain["speed"], "fraction": terrain["fraction"], "duration_s": terrain["duration_s"]}
    log.info("terrain: %s", out["terrain"]["success_rate_by_type"])
    flat = replace(cfg, terrain=replace(cfg.terrain, types={"flat": 1.0}, num_cols=1))
    out["push"] = evaluate_pushes(loaded.policy, cfg, trials=push_trials, seed=seed)
    latency = {}
    for delay in (0.0, 0.02):
        lat_cfg = override(flat, events={"latency": {"params": {"delay_s": (delay, delay)}}})
        report = evaluate(loaded.policy, lat_cfg, envs_per_command=envs_per_command, seed=seed)
        latency[f"{delay * 1000:.0f}ms"] = {k: report[k] for k in ("lin_vel_error", "yaw_rate_error", "fall_rate")}
        log.info("latency %.0f ms: %s", delay * 1000, latency[f"{delay * 1000:.0f}ms"])
    latency["lin_vel_error_ratio"] = latency["20ms"]["lin_vel_error"] / max(latency["0ms"]["lin_vel_error"], 1e-9)
    out["latency"] = latency
    out["seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run directory or checkpoint of a terrain task")
    parser.add_argument("--trials", type=int, default=32, help="trials per terrain type")
    parser.add_argument("--push-trials", type=int, default=64)
    parser.add_argument("--envs-per-command", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/rough_teacher.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = figures(args.run, args.trials, args.push_trials, args.envs_per_command, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
