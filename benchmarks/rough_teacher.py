"""Issue 9's figures for a trained rough-terrain teacher: stairs and rough ground, pushes, actuation latency.

    python benchmarks/rough_teacher.py runs/quadruped-rough/<stamp> --out benchmarks/results/rough_teacher.json

1. **Terrain** (:func:`stridelab.eval.terrain.evaluate_terrain`, legged_gym's success rule: no fall and at least
   half the commanded distance walked in 10 s at 0.5 m/s) on one row of fixed figures: stairs up and stairs down
   with 10 cm risers (30 cm treads), and the rough type at its hardest training amplitude (5 cm), ``--trials``
   each; then the same on the nominal robot (``terrain_nominal``: the task's reset randomizations dropped).
2. **Pushes** (:func:`stridelab.eval.push.evaluate_pushes`): ``--push-trials`` robots walking at 0.5 m/s on flat
   tiles each get one 0.5 m/s horizontal shove, directions spread around the heading; success is still
   standing 5 s later.
3. **Latency**: the exported policy (``stridelab export``) on the deploy simulation's tracking grid
   (:func:`stridelab.deploy.sim2sim.run_sim2sim`: 45 commands, ``--repeats`` runs each, flat floor) with the
   actuation latency at 0 and at 20 ms: the ratio of the linear-velocity errors.
4. **Stairs-up profile** (a diagnosis, not a goal): success on stairs up with risers of 5, 7, 9, 11 and 13 cm,
   ``--trials`` // 2 each, with the task's reset-time randomizations (as in 1) and without them (the nominal
   robot: the same masses, gains, friction and latency every trial).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

from stridelab.envs.throughput import machine_description
from stridelab.files import write_atomic

log = logging.getLogger("rough_teacher")


def figures(run: Path, trials: int, push_trials: int, repeats: int, seed: int, export_dir: Path) -> dict:
    from stridelab.deploy.export import export_policy
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
    # an actor that also reads the randomized values: dropping the randomizations would change its input, and a
    # deployed policy cannot read them (stridelab export refuses it), so its nominal and deploy figures are skipped
    deployable = "privileged" not in loaded.obs_groups
    if deployable:
        plain = evaluate_terrain(loaded.policy, replace(cfg, terrain=fixed, events=nominal_events(cfg)),
                                 trials=trials, seed=seed)
        out["terrain_nominal"] = {"success_rate_by_type": plain["success_rate_by_type"],
                                  "fall_rate_by_type": {c["type"]: c["fall_rate"] for c in plain["cells"]}}
        log.info("terrain, nominal robot: %s", out["terrain_nominal"]["success_rate_by_type"])
    else:
        out["skipped"] = ("the actor reads the privileged group: the nominal robot (randomizations dropped) would "
                          "change its input, and the deploy simulation cannot feed it")
        log.warning("skipping the nominal robot and the deploy-sim latency check: %s", out["skipped"])
    out["push"] = evaluate_pushes(loaded.policy, cfg, trials=push_trials, seed=seed)
    if deployable:
        out["latency"] = latency_figures(export_policy(run, export_dir), export_dir, repeats)
    out["stairs_up_profile"] = stairs_up_profile(loaded.policy, cfg, max(1, trials // 2), seed, nominal=deployable)
    out["seconds"] = time.perf_counter() - t0
    return out


def latency_figures(exported: Path, export_dir: Path, repeats: int) -> dict:
    """The exported policy on the deploy simulation's grid with 0 and 20 ms of actuation latency, and the ratio of
    the linear-velocity errors."""
    from stridelab.deploy.backend import SimBackendConfig
    from stridelab.deploy.sim2sim import run_sim2sim

    latency = {}
    for delay in (0.0, 0.02):
        report = run_sim2sim(exported / "policy.onnx", export_dir / f"sim2sim_{delay * 1000:.0f}ms", repeats=repeats,
                             backend_cfg=SimBackendConfig(latency_s=delay))
        latency[f"{delay * 1000:.0f}ms"] = {k: report[k] for k in ("lin_vel_error", "yaw_rate_error", "fall_rate")}
        log.info("deploy sim, latency %.0f ms: %s", delay * 1000, latency[f"{delay * 1000:.0f}ms"])
    latency["lin_vel_error_ratio"] = latency["20ms"]["lin_vel_error"] / max(latency["0ms"]["lin_vel_error"], 1e-9)
    return latency


def nominal_events(cfg) -> dict:
    """``cfg``'s events without its randomizations: the nominal robot (masses, gains, friction, no latency)."""
    return {k: v for k, v in cfg.events.items() if not v.func.startswith("randomize")}


def stairs_up_profile(policy, cfg, trials: int, seed: int, nominal: bool = True) -> dict:
    """Stairs-up success per riser height [m], randomized and (``nominal``) without the reset randomizations."""
    from stridelab.eval.terrain import evaluate_terrain
    from stridelab.sim.terrain.config import lerp

    ladder = replace(cfg.terrain, num_rows=5, num_cols=1, levels=(0.0, 1.0), step_height=(0.05, 0.13),
                     types={"stairs_up": 1.0})
    out: dict = {"trials_per_riser": trials}
    variants = (("randomized", cfg.events), ("nominal", nominal_events(cfg))) if nominal else (("randomized", cfg.events),)
    for name, events in variants:
        table = evaluate_terrain(policy, replace(cfg, terrain=ladder, events=events), trials=trials, seed=seed)
        by_riser = {f"{lerp(ladder.step_height, cell['level']) * 100:.0f}cm": cell["success_rate"]
                    for cell in table["cells"]}
        out[name] = by_riser
        log.info("stairs up, %s: %s", name, by_riser)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run directory or checkpoint of a terrain task")
    parser.add_argument("--trials", type=int, default=32, help="trials per terrain type")
    parser.add_argument("--push-trials", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="deploy-sim runs per grid command")
    parser.add_argument("--export-dir", type=Path, default=None, help="where the policy is exported (default: RUN/export)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/rough_teacher.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    export_dir = args.export_dir or (args.run if args.run.is_dir() else args.run.parent.parent) / "export"
    result = figures(args.run, args.trials, args.push_trials, args.repeats, args.seed, export_dir)
    write_atomic(args.out, lambda f: f.write(json.dumps(result, indent=2)), binary=False)
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
