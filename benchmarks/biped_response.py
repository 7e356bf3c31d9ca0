"""Touchdown force peaks and speed step response of trained policies (``stridelab.eval.response``).

    python benchmarks/biped_response.py RUN [RUN ...] --out benchmarks/results/biped_response.json

Per run: the median, 95th percentile and largest vertical foot-force peak per contact phase at 0.5 m/s, in body
weights (issue 37's goal: <= 1.5), and the time a 0 -> 1 m/s step command takes to reach 90 % of 1 m/s
(trailing 0.5 s average of the forward speed, from a fresh stand; goal: <= 1.5 s), and how many envs fall while
walking, when the command stops, and during the step. 32 envs each, the task's evaluation env.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from stridelab.envs.throughput import machine_description
from stridelab.eval.response import measure_response
from stridelab.files import write_atomic
from stridelab.learn.policy import load_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--envs", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = {"machine": machine_description(), "runs": {}}
    for run in args.runs:
        loaded = load_policy(run)
        result = measure_response(loaded.policy, loaded.env_cfg, num_envs=args.envs)
        results["runs"][str(run)] = result
        peak, rise = result["touchdown_peak_bw"], result["rise_time_s"]
        logging.info("%s: touchdown peaks median %.2f / p95 %.2f / max %.2f body weights (%d phases); rise to 90 %% "
                     "of 1 m/s median %s s (p90 %s s, reached by %.0f %%); falls of %d envs: walking %d, "
                     "stopping %d, stepping %d", run, peak["median"], peak["p95"], peak["max"], peak["count"],
                     rise["median"], rise["p90"], 100 * rise["reached"], result["envs"], result["walk_falls"],
                     result["stop_falls"], result["step_falls"])
    if args.out:
        write_atomic(args.out, lambda f: f.write(json.dumps(results, indent=2)), binary=False)


if __name__ == "__main__":
    main()
