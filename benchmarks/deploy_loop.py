"""Deployment loop speed: compute time per control tick (observation + onnxruntime + safety) and the
sim-to-sim backend's simulation speed, against raw single-MjData stepping of the same model.

    python benchmarks/deploy_loop.py RUN_DIR --seconds 20

Exports the run's policy if needed, runs the ControlLoop on the SimBackend (not real time) and reports
the mean/max tick compute time, and the backend's physics speed relative to plain mujoco.mj_step.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import mujoco
import numpy as np

from stridelab.envs.throughput import machine_description
from stridelab.deploy.backend import SimBackend, SimBackendConfig, robot_of
from stridelab.deploy.export import export_policy
from stridelab.deploy.runtime import ControlLoop, OnnxPolicy
from stridelab.files import write_atomic


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--out", default="benchmarks/results/deploy_loop.json")
    args = p.parse_args()
    export = Path(args.run_dir) / "export"
    if not (export / "policy.onnx").exists():
        export_policy(Path(args.run_dir), export)
    policy = OnnxPolicy(export / "policy.onnx")
    robot = robot_of(policy.meta)
    backend = SimBackend(robot, SimBackendConfig().for_policy(policy.meta))
    loop = ControlLoop(policy, backend, realtime=False)
    loop.reset()
    t0 = time.perf_counter()
    stats = loop.run(args.seconds, lambda t: np.array([0.5, 0.0, 0.0]))
    total = time.perf_counter() - t0
    steps = int(round(args.seconds / backend.model.opt.timestep))
    # raw limit: the same model, timestep and integrator, stepped with constant controls
    model, data = backend.model, mujoco.MjData(backend.model)
    mujoco.mj_resetDataKeyframe(model, data, 0) if model.nkey else mujoco.mj_resetData(model, data)
    data.ctrl[:] = robot.spec.default_pose
    t1 = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(model, data)
    raw = time.perf_counter() - t1
    report = {**stats.summary(), "sim_seconds": args.seconds, "wall_seconds": round(total, 3),
              "real_time_factor": round(args.seconds / total, 1), "raw_mj_step_seconds": round(raw, 3),
              "loop_vs_raw_physics": round(raw / total, 3), "machine": machine_description()}
    write_atomic(Path(args.out), lambda f: f.write(json.dumps(report, indent=2)), binary=False)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
