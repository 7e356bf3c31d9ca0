"""Issue 34's figures for a distilled student, beside its teacher (and a student without a decoder, a BC student).

    python benchmarks/distill_student.py runs/quadruped-rough-student/<stamp> \\
        --no-decoder runs/quadruped-rough-student/<stamp2> --bc runs/quadruped-rough-bc/<stamp3> \\
        --trials 128 --out benchmarks/results/distill_student.json

On one row of fixed figures (as ``benchmarks/rough_teacher.py``): stairs up and stairs down with 10 cm risers and
the rough type at 5 cm, ``--trials`` per type, legged_gym's success rule (no fall, half the commanded distance at
0.5 m/s in 10 s), every randomization at its full training range, under the scan conditions of
:mod:`stridelab.eval.student` (clean, training noise, twice the noise, the scan removed 3 s in) for the student,
its teacher (reading the same noisy scan) and the optional no-decoder student; the BC student (proprioception
only) on the same terrain. Reports the issue's ratios: the student's success against the teacher's (the student
at training noise, the teacher on a clean scan), survival with the scan removed, and the loss of success at twice
the noise (the student from its training noise, the teacher from its clean scan).
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

log = logging.getLogger("distill_student")
TYPES = ("stairs_up", "stairs_down", "rough")


def fixed_terrain(cfg):
    """One row: 10 cm stairs up, 10 cm stairs down, 5 cm rough ground."""
    return replace(cfg.terrain, num_rows=1, num_cols=3, levels=(0.0, 0.0), step_height=(0.10, 0.10),
                   rough_amplitude=(0.05, 0.05), types={t: 1.0 for t in TYPES})


def run_info(loaded) -> dict:
    return {"checkpoint": str(loaded.checkpoint), "iterations": int(loaded.data.get("iteration", 0)),
            "env_steps": int(loaded.data.get("env_steps", 0)),
            "minutes": round(float(loaded.data.get("train_seconds", 0.0)) / 60, 1)}


def figures(student: Path, no_decoder: Path | None, bc: Path | None, trials: int, seed: int) -> dict:
    from stridelab.eval.student import side_by_side
    from stridelab.eval.terrain import evaluate_terrain
    from stridelab.learn.policy import load_policy

    s = load_policy(student)
    t = load_policy(s.train_cfg.distillation.teacher)
    policies = {"student": s.policy, "teacher": t.policy}
    out: dict = {"student": run_info(s), "teacher": run_info(t), "trials_per_type": trials,
                 "machine": machine_description()}
    if no_decoder is not None:
        nd = load_policy(no_decoder)
        policies["no_decoder"] = nd.policy
        out["no_decoder"] = run_info(nd)
    t0 = time.perf_counter()
    table = side_by_side(policies, s.env_cfg, trials=trials, seed=seed, terrain=fixed_terrain(s.env_cfg))
    out["conditions"] = {cond: {name: {"success": r["success_rate_by_type"], "survival": r["survival_by_type"]}
                                for name, r in rows.items()} for cond, rows in table["conditions"].items()}
    c = out["conditions"]
    out["summary"] = {
        "student_over_teacher": {k: c["training noise"]["student"]["success"][k]
                                 / max(c["clean"]["teacher"]["success"][k], 1e-9) for k in TYPES},
        "survival_scan_removed": {name: {k: c["scan removed"][name]["survival"][k] for k in ("rough", "stairs_down")}
                                  for name in policies},
        "loss_at_twice_the_noise": {
            "student": {k: c["training noise"]["student"]["success"][k] - c["twice the noise"]["student"]["success"][k]
                        for k in TYPES},
            "teacher": {k: c["clean"]["teacher"]["success"][k] - c["twice the noise"]["teacher"]["success"][k]
                        for k in TYPES}},
    }
    if bc is not None:
        b = load_policy(bc)
        table = evaluate_terrain(b.policy, replace(b.env_cfg, terrain=fixed_terrain(b.env_cfg)), trials=trials,
                                 seed=seed)
        info = json.loads((Path(bc) / "bc.json").read_text()) if (Path(bc) / "bc.json").exists() else {}
        out["bc"] = {**run_info(b), "groups": list(b.obs_groups), "success": table["success_rate_by_type"],
                     "fall_rate": {cell["type"]: cell["fall_rate"] for cell in table["cells"]},
                     "bc_minutes": round(info.get("seconds", 0.0) / 60, 2), "samples": info.get("samples")}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("student", type=Path, help="a student's run directory (stridelab distill)")
    p.add_argument("--no-decoder", type=Path, default=None, help="a student distilled with reconstruction_coef 0")
    p.add_argument("--bc", type=Path, default=None, help="a behaviour-cloned student's run (stridelab bc)")
    p.add_argument("--trials", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/distill_student.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = figures(args.student, args.no_decoder, args.bc, args.trials, args.seed)
    write_atomic(args.out, lambda f: f.write(json.dumps(result, indent=2)), binary=False)
    print(json.dumps(result["summary"], indent=2))
    if "bc" in result:
        print(json.dumps({"bc": result["bc"]}, indent=2))


if __name__ == "__main__":
    main()
