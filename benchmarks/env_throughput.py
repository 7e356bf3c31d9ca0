"""Env throughput against the raw mujoco.batch limit, for several env counts.

    python benchmarks/env_throughput.py --num-envs 256 1024 4096 --out benchmarks/results/env_throughput.json

Same measurement as `stridelab bench`: alternating rounds of LocomotionEnv.step and raw Batch.step
(same compiled model, threads, decimation, PD targets), medians, ratio. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path

from stridelab.envs.throughput import run_bench
from stridelab.files import write_atomic
from stridelab.tasks import make_env_cfg


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="quadruped-flat")
    p.add_argument("--num-envs", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/env_throughput.json")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO)
    results = []
    for n in args.num_envs:
        r = run_bench(make_env_cfg(args.task, num_envs=n, num_threads=args.threads), args.steps, args.rounds)
        results.append(asdict(r))
        logging.info("%d envs: env %.0f steps/s, raw %.0f steps/s, ratio %.3f", n, r.env_steps_per_s,
                     r.raw_steps_per_s, r.ratio)
    out = Path(args.out)
    write_atomic(out, lambda f: f.write(json.dumps(results, indent=2)), binary=False)
    print("| envs | env steps/s | raw mujoco.batch steps/s | ratio |\n| --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['num_envs']} | {r['env_steps_per_s']:,.0f} | {r['raw_steps_per_s']:,.0f} | {r['ratio']:.3f} |")
    print(f"machine: {results[0]['machine']}")


if __name__ == "__main__":
    main()
