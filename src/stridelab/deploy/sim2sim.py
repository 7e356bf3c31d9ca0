"""Sim-to-sim check: the exported policy on the evaluation grid in the deploy simulation.

The deploy backend differs from training (integrator, timestep, sensor noise, friction); its actuation
latency is, unless given, the middle of the range the policy was trained with (``policy.json["latency"]``).
The metrics are the ones ``stridelab eval`` writes, so the two can be compared side by side.
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
from stridelab.eval.metrics import GridMetrics, WalkCriteria, command_grid
from stridelab.files import write_atomic

log = logging.getLogger(__name__)


def run_sim2sim(policy_path: Path, out_dir: Path, repeats: int = 2, duration_s: float = 10.0, settle_s: float = 1.0,
                backend_cfg: SimBackendConfig = SimBackendConfig(), commands: np.ndarray | None = None,
                criteria: WalkCriteria = WalkCriteria()) -> dict:
    """Run every grid command ``repeats`` times (different headings and noise seeds); write the report.

    ``backend_cfg.latency_s`` None (the default): the middle of the policy's trained latency range."""
    policy = OnnxPolicy(policy_path)
    robot = robot_of(policy.meta)
    backend_cfg = backend_cfg.for_policy(policy.meta)
    ranges = policy.meta.get("commands") or None  # the trained command ranges, as eval uses them
    grid = command_grid(ranges) if commands is None else np.asarray(commands, dtype=np.float64)
    metrics = GridMetrics(grid, repeats)
    for env_id, cmd in enumerate(metrics.commands):
        cfg = replace(backend_cfg, seed=backend_cfg.seed + 1000 * (env_id // repeats) + env_id % repeats)
        backend = SimBackend(robot, cfg, init_yaw=float(np.random.default_rng(cfg.seed).uniform(-np.pi, np.pi)))
        loop = ControlLoop(policy, backend, SafetyConfig(), realtime=False)
        loop.reset()
        ids = np.array([env_id])

        def on_tick(t, s, c, loop=loop, ids=ids):
            fell = bool(loop.safety.damping or s.extra.get("terminate_contact"))
            metrics.add(ids, np.array([fell]), t >= settle_s, s.base_lin_vel[None], s.base_ang_vel[None],
                        s.joint_torque[None], s.joint_vel[None], s.foot_contact[None], s.extra["foot_vel"][None])

        loop.run(duration_s, lambda t, cmd=cmd: cmd, on_tick=on_tick)
    report = metrics.result(criteria)
    report["backend"] = asdict(backend_cfg)
    report["trained_latency"] = policy.meta.get("latency")
    report["settings"] = {"repeats": repeats, "duration_s": duration_s, "settle_s": settle_s,
                          "num_commands": len(grid)}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_eval = _find_train_eval(Path(policy_path))
    if train_eval is not None:
        report["train_eval"] = {k: train_eval[k] for k in ("lin_vel_error", "yaw_rate_error", "fall_rate", "power",
                                                           "foot_slip", "walks")}
        report["ratio_lin_vel_error"] = report["lin_vel_error"] / max(train_eval["lin_vel_error"], 1e-9)
    write_atomic(out_dir / "sim2sim.json", lambda f: f.write(json.dumps(report, indent=2)), binary=False)
    write_atomic(out_dir / "sim2sim.md", lambda f: f.write(side_by_side(report)), binary=False)
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
    b, trained = report["backend"], report.get("trained_latency")
    within = "" if not trained else f" (trained with {trained['range_s'][0]:g}-{trained['range_s'][1]:g} s)"
    lines.append(f"\nDeploy sim: integrator {b['integrator']}, timestep {b['timestep']} s, latency {b['latency_s']:g} s"
                 f"{within}, "
                 f"sensor noise (q {b['noise_joint_pos']} rad, dq {b['noise_joint_vel']} rad/s, gyro {b['noise_gyro']} "
                 f"rad/s), foot friction {b['friction']}.")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    return str(v) if isinstance(v, bool) else f"{v:.3f}"
