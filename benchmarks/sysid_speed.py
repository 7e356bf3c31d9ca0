"""Issue 35's speed figures: batched replay against one simulation at a time, and each optimizer on the self-test.

    python benchmarks/sysid_speed.py --out benchmarks/results/sysid_speed.json

1. **Batched evaluation.** One least-squares central-difference Jacobian's candidates (2 D = 8 for friction,
   damping, motor strength and kp) over the self-test's 96 windows of 0.2 s, the robot on the self-test's stand:
   one ``Replay`` batch of 8 x 96 envs, against the same 768 replays as one-env simulations called one after
   another (each a ``Replay`` of one window and
   one candidate: the same code, unbatched). Both on 1 physics thread, and the batch also on every core. Best of
   ``--rounds`` rounds each, alternating; the simulations are built before timing. Also the raw ``mujoco.batch``
   stepping of the same model, envs and substeps (the physical limit) against the batched replay.
2. **The optimizers on the self-test** (``stridelab sysid --self-test --method M``, the default 20 s log):
   wall-clock, candidate evaluations, each parameter's recovery error and the verdict.

Time nothing while another job runs (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from mujoco import batch as mjbatch

from stridelab.app.sysid import STAND_CLEARANCE
from stridelab.envs.throughput import machine_description
from stridelab.files import write_atomic

log = logging.getLogger("sysid_speed")
NAMES = ("friction", "damping", "motor_strength", "kp", "latency")


def batched_against_serial(rounds: int, threads: int) -> dict:
    from stridelab.robots import get_robot, load_robot
    from stridelab.sysid.replay import SOLVER, Replay, windows
    from stridelab.sysid.selftest import HIDDEN, synthetic_log

    spec = get_robot("quadruped")
    robot = load_robot(spec, stand_height=spec.init_height + STAND_CLEARANCE)
    log_ = synthetic_log(robot, HIDDEN, seconds=20.0, seed=0)
    length, starts = 10, windows(log_, 10, 96)
    truth = np.array([HIDDEN[n] for n in NAMES])
    rows = np.repeat(truth[None], 8, axis=0)
    rows[:, :4] *= 1.0 + 0.1 * np.concatenate([np.eye(4), -np.eye(4)])  # a central Jacobian's points
    batched = {t: Replay(robot, log_, NAMES, starts, length, capacity=8, num_threads=t) for t in (1, threads)}
    serial = [Replay(robot, log_, NAMES, starts[w:w + 1], length, capacity=1, num_threads=1)
              for w in range(len(starts))]
    raw = mjbatch.Batch(robot.model, len(rows) * len(starts), threads)
    for name, value in SOLVER.items():  # the replay's converged solves
        raw.expand(f"opt.{name}")[:] = value
    raw.forward()
    dec = batched[1].sim.decimation
    times: dict[str, list[float]] = {"batched_1_thread": [], f"batched_{threads}_threads": [], "serial": [], "raw": []}
    check = {}
    for r in range(rounds + 1):  # round 0 warms up
        for t, replay in batched.items():
            t0 = time.perf_counter()
            check[t] = replay.residual(rows, per_window=True)
            if r:
                times[f"batched_{t}_thread" + ("s" if t > 1 else "")].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        one = np.stack([np.concatenate([s.residual(rows[c:c + 1], per_window=True)[0] for s in serial])
                        for c in range(len(rows))])
        if r:
            times["serial"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(length):
            raw.step(nstep=dec)
        if r:
            times["raw"].append(time.perf_counter() - t0)
    same = float(np.abs(one - check[1]).max())
    env_steps = len(rows) * len(starts) * length
    best = {k: float(min(v)) for k, v in times.items()}
    return {"candidates": len(rows), "windows": len(starts), "steps_per_window": length, "decimation": dec,
            "env_steps_per_evaluation": env_steps, "seconds": best,
            "env_steps_per_s": {k: env_steps / v for k, v in best.items()},
            "speedup_batched_1_thread": best["serial"] / best["batched_1_thread"],
            f"speedup_batched_{threads}_threads": best["serial"] / best[f"batched_{threads}_threads"],
            f"batched_{threads}_threads_vs_raw": best["raw"] / best[f"batched_{threads}_threads"],
            "max_residual_difference_batched_vs_serial": same, "rounds": rounds}


def optimizers(methods: list[str]) -> dict:
    from stridelab.app.cli import main

    out: dict = {}
    for method in methods:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            code = main(["sysid", "--self-test", "--method", method, "--params", ",".join(NAMES), "--out", tmp])
            seconds = time.perf_counter() - t0
            found = yaml.safe_load((Path(tmp) / "params.yaml").read_text())["params"]
            hidden = yaml.safe_load((Path(tmp) / "hidden.yaml").read_text())["params"]
            trace = json.loads((Path(tmp) / "trace.json").read_text())
        errors = {n: (found[n]["value"] - hidden[n]["value"]) / abs(hidden[n]["value"]) for n in NAMES
                  if n != "latency"}
        out[method] = {"seconds_total": seconds, "seconds_fit": sum(f["seconds"] for f in trace),
                       "evaluations": sum(f["evaluations"] for f in trace), "recovered": code == 0,
                       "relative_error": errors, "latency": {"found": found["latency"]["value"],
                                                             "hidden": hidden["latency"]["value"]},
                       "cost": {"before": trace[-1]["cost_before"], "after": trace[-1]["cost_after"]}}
        log.info("%s: %.0f s, %d evaluations, %s, errors %s", method, seconds, out[method]["evaluations"],
                 "RECOVERED" if code == 0 else "NOT RECOVERED",
                 ", ".join(f"{n} {100 * e:+.1f}%" for n, e in errors.items()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="physics threads of the batched replay on every core")
    parser.add_argument("--methods", nargs="*", default=["least-squares", "es"])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sysid_speed.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    speed = batched_against_serial(args.rounds, args.threads)
    log.info("batched: %.1fx one simulation at a time on 1 thread, %.1fx on %d; %.2fx the raw mujoco.batch limit; "
             "max residual difference %.2g", speed["speedup_batched_1_thread"],
             speed[f"speedup_batched_{args.threads}_threads"], args.threads,
             speed[f"batched_{args.threads}_threads_vs_raw"], speed["max_residual_difference_batched_vs_serial"])
    result = {"command": "python benchmarks/sysid_speed.py", "machine": machine_description(),
              "date": time.strftime("%Y-%m-%d"), "batched_evaluation": speed, "optimizers": optimizers(args.methods)}
    write_atomic(args.out, lambda f: f.write(json.dumps(result, indent=2)), binary=False)
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
