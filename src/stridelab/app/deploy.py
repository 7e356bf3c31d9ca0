"""``stridelab deploy POLICY``: an exported policy in the safe control loop (sim or a robot over UDP), or the
sim-to-sim report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Literal

import tyro

from stridelab.app.options import check, check_seconds


@dataclasses.dataclass(frozen=True)
class Args:
    """Run an exported policy in the safe control loop.

    Attributes:
        policy: policy.onnx (with policy.json beside it) or the export directory.
        backend: sim: a separate MuJoCo simulation; udp: a robot process on localhost (see deploy/bridge.py).
        sim2sim_report: run the evaluation grid in the deploy simulation and write a side-by-side report here.
        repeats: runs per grid command in the sim2sim report.
        duration: seconds to run.
        command: fixed velocity command (vx [m/s], vy [m/s], yaw rate [rad/s]).
        commands: CSV/JSON file of rows t,vx,vy,yaw_rate.
        keyboard: arrow keys change the command.
        latency: actuation latency of the sim backend [s]; default: the middle of the latency range the policy
            was trained with (policy.json's latency).
        realtime: run the sim backend at wall-clock speed.
        port: UDP port of the robot process.
        terrain: run the sim backend on one tile of this terrain type of the policy's training terrain (e.g.
            stairs_down), or for a policy trained on an ETG-RL course the course's name (one lane, from its
            start); the height scan (and the cave's ceiling scan) reads it. Reports the distance walked and
            whether the robot fell.
        terrain_level: the tile's difficulty, 0 to 1 (as in training: stairs_down 0.5 = the middle riser height).
        scan_noise: level of the height scan's noise model in the sim backend (a student's training noise is 1;
            0: a clean scan).
        log: write the run as a robot log (.npz, docs/sysid.md) that `stridelab sysid` fits to.
    """

    policy: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="POLICY")]
    backend: Literal["sim", "udp"] = "sim"
    sim2sim_report: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    repeats: int = 2
    duration: float = 10.0
    command: Annotated[tuple[float, float, float], tyro.conf.arg(metavar="VX VY YAW")] = (0.5, 0.0, 0.0)
    commands: Annotated[str | None, tyro.conf.arg(metavar="FILE")] = None
    keyboard: bool = False
    latency: float | None = None
    realtime: bool = False
    port: int = 9870
    terrain: Annotated[str | None, tyro.conf.arg(metavar="TYPE")] = None
    terrain_level: float = 0.5
    scan_noise: float = 0.0
    log: Annotated[str | None, tyro.conf.arg(metavar="FILE")] = None

    def __post_init__(self) -> None:
        check(self.repeats >= 1, f"--repeats {self.repeats} is out of range; use 1 or more runs per command.")
        check_seconds("duration", self.duration)
        check(self.latency is None or self.latency >= 0,
              f"--latency {self.latency} is out of range; give 0 or more seconds.")
        check(1 <= self.port <= 65535, f"--port {self.port} is out of range; use 1 to 65535.")
        check(self.scan_noise >= 0, f"--scan-noise {self.scan_noise} is out of range; give a level of 0 or more.")
        check(self.terrain is None or self.backend == "sim", "--terrain runs the sim backend on a terrain tile; drop "
                                                             "it, or use --backend sim.")


def run(args: Args) -> int:
    """Run an exported policy in the control loop (or write the sim2sim report); print the loop statistics."""
    import numpy as np

    from stridelab.deploy.backend import SimBackend, SimBackendConfig, robot_of, terrain_tile
    from stridelab.deploy.runtime import ControlLoop, KeyboardCommand, OnnxPolicy, file_command

    backend_cfg = SimBackendConfig(latency_s=args.latency, realtime=args.realtime)
    if args.sim2sim_report:
        from stridelab.deploy.sim2sim import run_sim2sim

        report = run_sim2sim(Path(args.policy), Path(args.sim2sim_report), repeats=args.repeats,
                             backend_cfg=backend_cfg)
        print((Path(args.sim2sim_report) / "sim2sim.md").read_text())
        return 0 if report["fall_rate"] <= 0.5 else 1
    policy = OnnxPolicy(Path(args.policy))
    meta = policy.meta
    if args.backend == "udp":
        from stridelab.deploy.bridge import UdpBackend

        backend = UdpBackend(len(meta["joint_names"]), args.port)
    else:
        terrain = terrain_tile(meta, args.terrain, args.terrain_level) if args.terrain else None
        backend = SimBackend(robot_of(meta, terrain), backend_cfg.for_policy(meta))
    if args.commands:
        command = file_command(args.commands)
    elif args.keyboard:
        c = meta["commands"]
        command = KeyboardCommand(np.array([c["lin_vel_x"], c["lin_vel_y"], c["ang_vel_yaw"]]))
    else:
        fixed = np.array(args.command, dtype=np.float64)
        command = lambda t: fixed  # noqa: E731
    loop = ControlLoop(policy, backend, realtime=args.realtime or args.backend == "udp", scan_noise=args.scan_noise)
    loop.reset()
    fell = []
    recorder = None
    if args.log:
        from stridelab.deploy.robot_log import LogRecorder

        recorder = LogRecorder(meta["robot"]["name"], list(meta["joint_names"]), 1.0 / float(meta["control_dt"]),
                               list(meta["robot"].get("feet", [])), source=f"stridelab deploy --backend {args.backend}")

    def watch(t, state, action) -> None:
        if state.extra.get("terminate_contact"):
            fell.append(t)
        if recorder is not None:
            recorder.add(t, state, loop.sent)

    try:
        stats = loop.run(args.duration, command, on_tick=watch)
        end = backend.read_state()
    finally:
        backend.close()
    summary = stats.summary()
    if recorder is not None:
        from stridelab.deploy.robot_log import save_log

        summary["log"] = str(save_log(args.log, recorder.log()))
    if args.terrain:
        walked = float(np.linalg.norm(end.extra["base_pos"][:2] - backend.spawn[:2]))
        summary["terrain"] = {"type": args.terrain, "level": args.terrain_level, "scan_noise": args.scan_noise,
                              "distance_m": round(walked, 3), "fell": bool(fell),
                              "fell_at_s": round(fell[0], 2) if fell else None}
    summary["safety_events"] = [dataclasses.asdict(e) for e in loop.safety.events]
    if isinstance(backend, SimBackend):
        summary["sim_latency_s"] = backend.cfg.latency_s
    print(json.dumps(summary, indent=2))
    return 0
