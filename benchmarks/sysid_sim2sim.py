"""Issue 35's sim-to-sim gain: a policy trained around identified dynamics against one trained on the nominal
model, both evaluated in a "real" simulator with the hidden parameters.

    python benchmarks/sysid_sim2sim.py --seeds 0 1 --iterations 200 --out benchmarks/results/sysid_sim2sim.json

1. ``stridelab sysid --self-test``: a log of the robot with hidden dynamics (friction, damping, motor strength,
   kp, latency: ``stridelab.sysid.selftest.HIDDEN``), identified; writes ``params.yaml`` and ``hidden.yaml``.
2. Per seed, two trainings of the same budget (``--iterations`` PPO iterations, no early stop):
   ``stridelab train TASK`` (nominal) and ``stridelab train TASK --dynamics params.yaml`` (identified).
3. Each final policy evaluated on the command grid (``stridelab eval``) twice: in the nominal simulator and in
   the "real" one (``--dynamics hidden.yaml``). Tracking errors and falls side by side.

Every step is the user's command, one after another (run it alone: docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from stridelab.envs.throughput import machine_description
from stridelab.files import write_atomic

log = logging.getLogger("sysid_sim2sim")
METRICS = ("lin_vel_error", "yaw_rate_error", "fall_rate", "walks")


def stridelab(*args: str) -> None:
    """Run one ``stridelab`` command in a fresh process; raise if it fails."""
    cmd = [str(Path(sys.executable).parent / "stridelab"), *args]  # the console script beside this Python
    log.info("$ stridelab %s", " ".join(args))
    subprocess.run(cmd, check=True)


def only_run(log_dir: Path, task: str) -> Path:
    runs = sorted((log_dir / task).iterdir())
    if len(runs) != 1:
        raise RuntimeError(f"expected one run in {log_dir / task}, found {len(runs)}")
    return runs[0]


def evaluate(run: Path, name: str, dynamics: Path | None) -> dict:
    out = run / f"eval_{name}"
    stridelab("eval", str(run), "--out", str(out), *(["--dynamics", str(dynamics)] if dynamics else []))
    report = json.loads((out / "eval.json").read_text())
    return {k: report[k] for k in METRICS if k in report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="quadruped-flat")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path("runs/sysid_sim2sim"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sysid_sim2sim.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    work = args.work / time.strftime("%Y%m%d-%H%M%S")
    sysid = work / "sysid"
    stridelab("sysid", "--self-test", "--out", str(sysid))
    params, hidden = sysid / "params.yaml", sysid / "hidden.yaml"
    rows = []
    for seed in args.seeds:
        for variant, extra in (("nominal", []), ("identified", ["--dynamics", str(params)])):
            log_dir = work / f"{variant}-seed{seed}"
            t0 = time.monotonic()
            stridelab("train", args.task, "--seed", str(seed), "--max-iterations", str(args.iterations),
                      "--max-minutes", "0", "--train.no-stop-when-walks", "--no-eval", "--log-dir", str(log_dir),
                      *extra)
            minutes = (time.monotonic() - t0) / 60
            run = only_run(log_dir, args.task)
            row = {"seed": seed, "variant": variant, "run": str(run), "train_minutes": round(minutes, 2),
                   "in_nominal": evaluate(run, "nominal", None), "in_real": evaluate(run, "real", hidden)}
            rows.append(row)
            log.info("seed %d %-10s real: lin err %.3f m/s, yaw err %.3f rad/s, falls %.1f %% | nominal: lin err "
                     "%.3f m/s", seed, variant, row["in_real"]["lin_vel_error"], row["in_real"]["yaw_rate_error"],
                     100 * row["in_real"]["fall_rate"], row["in_nominal"]["lin_vel_error"])
    result = {"command": " ".join(["python benchmarks/sysid_sim2sim.py", *sys.argv[1:]]), "machine":
              machine_description(), "date": time.strftime("%Y-%m-%d"), "task": args.task,
              "iterations": args.iterations, "sysid": {k: v for k, v in json.loads((sysid / "trace.json").read_text())[-1].items()
                                         if k != "trace"},
              "params": str(params), "hidden": str(hidden), "runs": rows}
    write_atomic(args.out, lambda f: f.write(json.dumps(result, indent=2)), binary=False)
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
