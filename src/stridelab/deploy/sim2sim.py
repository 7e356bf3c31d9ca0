"""Sim-to-sim check: the exported policy on the evaluation grid in the deploy simulation.

The deploy backend differs from training (integrator, timestep, latency, sensor noise, friction);
the metrics are the ones ``stridelab eval`` writes, so the two can be compared side by side.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from stridelab.deploy.backend import SimBackend, SimBackendConfig, robot_of
from stridelab.deploy.runtime import ControlLoop, OnnxPolicy
from stridelab.deploy.safety import SafetyConfig
from stridelab.eval.grid import WalkCriteria, command_grid

log = logging.getLogger(__name__)


def run_sim2sim(policy_path: Path, out_dir: Path, repeats: int = 2, duration_s: float = 10.0, settle_s: float = 1.0,
                backend_cfg: SimBackendConfig = SimBackendConfig(), commands: np.ndarray | None = None,
                criteria: WalkCriteria = WalkCriteria()) -> dict:
    """Run every grid command ``repeats`` times (different headings and noise seeds); write the report."""
    policy = OnnxPolicy(policy_path)
    meta = policy.meta
    robot = robot_of(meta)
    grid = command_grid() if commands is None else np.asarray(commands, dtype=np.float64)
    rows, all_power, all_slip, falls_total = [], [], [], 0
    for i, cmd in enumerate(grid):
        errs, yerrs, falls, power, slip = [], [], 0, [], []
        for r in range(repeats):
            cfg = replace(backend_cfg, seed=backend_cfg.seed + 1000 * i + r)
            backend = SimBackend(robot, cfg, init_yaw=float(np.random.default_rng(cfg.seed).uniform(-np.pi, np.pi)))
            loop = ControlLoop(policy, backend, SafetyConfig(), realtime=False)
            loop.reset()
            acc = {"lin": [], "yaw": [], "power": [], "slip": [], "fell": False}

            def on_tick(t, s, c, acc=acc, loop=loop):
                if loop.safety.damping or s.extra.get("terminate_contact"):
                    acc["fell"] = True
                if acc["fell"] or t < settle_s:
                    return
                acc["lin"].append(float(np.linalg.norm(c[:2] - s.base_lin_vel[:2])))
                acc["yaw"].append(abs(float(c[2] - s.base_ang_vel[2])))
                acc["power"].append(float(np.sum(np.abs(s.joint_torque * s.joint_vel))))
                contact = s.foot_contact
                fv = np.linalg.norm(s.extra["foot_vel"][:, :2], axis=1) * contact
                acc["slip"].append(float(fv.sum() / max(contact.sum(), 1)))

            loop.run(duration_s, lambda t, cmd=cmd: cmd, on_tick=on_tick)
            falls += int(acc["fell"])
            errs.append(np.mean(acc["lin"]) if acc["lin"] else np.nan)
            yerrs.append(np.mean(acc["yaw"]) if acc["yaw"] else np.nan)
            power += acc["power"]
            slip += acc["slip"]
        falls_total += falls
        all_power += power
        all_slip += slip
        rows.append({"vx": cmd[0], "vy": cmd[1], "yaw_rate": cmd[2], "lin_vel_error": float(np.nanmean(errs)),
                     "yaw_rate_error": float(np.nanmean(yerrs)), "fall_rate": falls / repeats,
                     "power": float(np.mean(power)) if power else float("nan")})
    report = {
        "lin_vel_error": float(np.nanmean([r["lin_vel_error"] for r in rows])),
        "yaw_rate_error": float(np.nanmean([r["yaw_rate_error"] for r in rows])),
        "fall_rate": falls_total / (len(grid) * repeats),
        "power": float(np.mean(all_power)) if all_power else float("nan"),
        "foot_slip": float(np.mean(all_slip)) if all_slip else float("nan"),
    }
    report["walks"] = bool(report["lin_vel_error"] <= criteria.max_lin_vel_error
                           and report["yaw_rate_error"] <= criteria.max_yaw_rate_error
                           and report["fall_rate"] <= criteria.max_fall_rate)
    report["backend"] = asdict(backend_cfg)
    report["settings"] = {"repeats": repeats, "duration_s": duration_s, "settle_s": settle_s,
                          "num_commands": len(grid)}
    report["rows"] = rows
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_eval = _find_train_eval(Path(policy_path))
    if train_eval is not None:
        report["train_eval"] = {k: train_eval[k] for k in ("lin_vel_error", "yaw_rate_error", "fall_rate", "power",
                                                           "foot_slip", "walks")}
        report["ratio_lin_vel_error"] = report["lin_vel_error"] / max(train_eval["lin_vel_error"], 1e-9)
    (out_dir / "sim2sim.json").write_text(json.dumps(report, indent=2))
    (out_dir / "sim2sim.md").write_text(side_by_side(report))
    log.info("sim2sim report written to %s", out_dir)
    return report


def _find_train_eval(policy_path: Path) -> dict | None:
    folder = policy_path.parent if policy_path.suffix else policy_path
    for candidate in (folder / "train_eval.json", folder.parent / "eval.json"):
        if candidate.is_file():
            return json.loads(candidate.read_text())
    return None


def side_by_side(report: dict) -> str:
    """A Markdown table of the deploy metrics next to the training simulator's eval."""
    train = report.get("train_eval")
    lines = ["| metric | training sim (eval) | deploy sim (sim2sim) |", "| --- | --- | --- |"]
    for key, unit in (("lin_vel_error", "m/s"), ("yaw_rate_error", "rad/s"), ("fall_rate", ""), ("power", "W"),
                      ("foot_slip", "m/s"), ("walks", "")):
        a = "n/a" if train is None else _fmt(train[key])
        lines.append(f"| {key} {f'[{unit}]' if unit else ''} | {a} | {_fmt(report[key])} |")
    if "ratio_lin_vel_error" in report:
        lines.append(f"\nLinear tracking error ratio deploy / training: {report['ratio_lin_vel_error']:.2f}")
    b = report["backend"]
    lines.append(f"\nDeploy sim: integrator {b['integrator']}, timestep {b['timestep']} s, latency {b['latency_s']} s, "
                 f"sensor noise (q {b['noise_joint_pos']} rad, dq {b['noise_joint_vel']} rad/s, gyro {b['noise_gyro']} "
                 f"rad/s), foot friction {b['friction']}.")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    return str(v) if isinstance(v, bool) else f"{v:.3f}"
