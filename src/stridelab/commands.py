"""Implementations of ``stridelab train | eval | play`` (registered into the CLI parser)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import tyro

from stridelab.config import EnvConfig, override, save_yaml
from stridelab.errors import ConfigError
from stridelab.learn.checkpoint import run_dir_of
from stridelab.learn.config import TrainConfig

log = logging.getLogger("stridelab")


@dataclasses.dataclass(frozen=True)
class TrainArgs:
    """Train a policy with PPO (rsl-rl-lib); writes runs/<task>/<timestamp>/.

    Attributes:
        task: registered task name (see `stridelab list`).
        seed: seed of the env and the learner.
        num_envs: parallel environments (overrides env.num_envs).
        max_iterations: iteration budget (overrides train.max_iterations).
        max_minutes: wall-clock budget in minutes, 0 for none (overrides train.max_minutes).
        log_dir: root of the run directories.
        resume: run directory (or checkpoint) to continue exactly where it stopped.
        eval: evaluate, plot and render after training (--no-eval skips it).
        eval_envs_per_command: envs per grid command in the final evaluation.
        eval_duration_s: seconds each grid command is held in the final evaluation.
        play_duration_s: length of the recorded command tour (video and plots) [s].
        video: render video.mp4 after training.
        env: environment configuration.
        train: training configuration.
    """

    task: tyro.conf.Positional[str]
    seed: int = 0
    num_envs: int | None = None
    max_iterations: int | None = None
    max_minutes: float | None = None
    log_dir: str = "runs"
    resume: str | None = None
    eval: bool = True
    eval_envs_per_command: int = 4
    eval_duration_s: float = 10.0
    play_duration_s: float = 15.0
    video: bool = True
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


def _parse_train_args(argv: list[str]) -> TrainArgs:
    from stridelab.tasks import get_task

    positional = [a for a in argv if not a.startswith("-")]
    task_name = positional[0] if positional else "quadruped-flat"
    if any(a in ("-h", "--help") for a in argv) and not positional:
        task_name = "quadruped-flat"
    task = get_task(task_name)
    default = TrainArgs(task=task_name, env=task.env_cfg(), train=task.train_cfg())
    try:
        parsed = tyro.cli(TrainArgs, args=argv, default=default, prog="stridelab train")
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise ConfigError("invalid arguments to `stridelab train` (see the message above); run "
                              "`stridelab train --help` for the options.") from None
        raise
    return parsed


def cmd_train(args: argparse.Namespace) -> int:
    from stridelab.eval.grid import evaluate
    from stridelab.learn.checkpoint import latest_checkpoint, load_checkpoint
    from stridelab.learn.policy import configs_of
    from stridelab.learn.trainer import Trainer

    a = _parse_train_args(args.rest)
    env_cfg, train_cfg = a.env, a.train
    if a.task != env_cfg.task:
        env_cfg = dataclasses.replace(env_cfg, task=a.task)
    if a.resume:
        ckpt = latest_checkpoint(Path(a.resume))
        env_cfg, train_cfg = configs_of(load_checkpoint(ckpt), ckpt)
        run_dir = run_dir_of(ckpt)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = Path(a.log_dir) / a.task / stamp
    env_cfg = override(env_cfg, seed=a.seed if not a.resume else env_cfg.seed,
                       **({"num_envs": a.num_envs} if a.num_envs else {}))
    train_over = {k: v for k, v in (("max_iterations", a.max_iterations), ("max_minutes", a.max_minutes))
                  if v is not None}
    train_cfg = override(train_cfg, **train_over) if train_over else train_cfg

    def walk_check(policy):
        return evaluate(policy, env_cfg, envs_per_command=2, duration_s=10.0, seed=env_cfg.seed + 1)

    # build first (a bad robot file or option fails here), then create the run directory
    trainer = Trainer(env_cfg, train_cfg, run_dir, seed=env_cfg.seed, walk_check=walk_check)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_yaml({"task": a.task, "seed": env_cfg.seed, "env": env_cfg, "train": train_cfg}, run_dir / "config.yaml")
    if a.resume:
        trainer.load(ckpt)
    log.info("training %s with %d envs in %s", a.task, env_cfg.num_envs, run_dir)
    result = trainer.train(fresh=not a.resume, show_progress=sys.stderr.isatty())
    log.info("stopped (%s) after %d iterations, %d env steps, %.0f s; checkpoint %s", result.stopped_because,
             result.iterations, result.env_steps, result.seconds, result.checkpoint)
    if result.walk_checks:
        (run_dir / "walk_checks.json").write_text(json.dumps(result.walk_checks, indent=2))
    if result.stopped_because == "interrupted":
        print(f"interrupted: checkpoint saved to {result.checkpoint}; continue with "
              f"`stridelab train {a.task} --resume {run_dir}`")
        return 130
    if not a.eval:
        return 0
    report = run_eval(run_dir, a.eval_envs_per_command, a.eval_duration_s)
    run_play(run_dir, video=a.video, duration_s=a.play_duration_s)
    verdict = "WALKS" if report["walks"] else "does not walk yet"
    print(f"eval: lin vel error {report['lin_vel_error']:.3f} m/s, yaw rate error {report['yaw_rate_error']:.3f} rad/s, "
          f"falls {100 * report['fall_rate']:.1f}% -> the policy {verdict} "
          f"(criteria: <= 0.15 m/s, <= 0.2 rad/s, <= 2% falls); results in {run_dir}")
    return 0


def run_eval(target: Path, envs_per_command: int = 4, duration_s: float = 10.0, out: Path | None = None) -> dict:
    """Evaluate a run or checkpoint on the command grid; write eval.json and eval_grid.png."""
    from stridelab.eval.grid import evaluate
    from stridelab.learn.policy import load_policy
    from stridelab.viz.plots import plot_eval

    loaded = load_policy(target)
    report = evaluate(loaded.policy, loaded.env_cfg, envs_per_command=envs_per_command, duration_s=duration_s,
                      seed=loaded.env_cfg.seed + 1000)
    report["checkpoint"] = str(loaded.checkpoint)
    report["iteration"] = int(loaded.data.get("iteration", 0))
    report["env_steps"] = int(loaded.data.get("env_steps", 0))
    report["train_seconds"] = float(loaded.data.get("train_seconds", 0.0))
    out_dir = Path(out) if out else run_dir_of(loaded.checkpoint)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".eval.json.tmp"
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(out_dir / "eval.json")
    plot_eval(report, out_dir)
    return report


def run_play(target: Path, out: Path | None = None, video: bool = True, width: int = 320, height: int = 240,
             fps: int = 25, duration_s: float = 15.0) -> Path:
    """Record the policy through a command tour of ``duration_s``: video.mp4 and plots/*.png."""
    from stridelab.eval.rollout import DEFAULT_SCHEDULE, record
    from stridelab.learn.policy import load_policy
    from stridelab.viz.plots import plot_trajectory

    loaded = load_policy(target)
    out_dir = Path(out) if out else run_dir_of(loaded.checkpoint)
    holder: dict = {}

    def make_video(env):
        from stridelab.viz.video import VideoRecorder

        holder["rec"] = VideoRecorder(env.sim, env.robot.base_qpos_adr, width, height)
        return holder["rec"]

    every = max(1, round(1.0 / (fps * loaded.env_cfg.decimation * loaded.env.robot.model.opt.timestep)))
    total = sum(step[0] for step in DEFAULT_SCHEDULE)
    schedule = tuple((d * duration_s / total, *c) for d, *c in DEFAULT_SCHEDULE)
    traj = record(loaded.policy, loaded.env_cfg, schedule=schedule, video=make_video if video else None,
                  video_every=every)
    plot_trajectory(traj, out_dir / "plots")
    if video:
        holder["rec"].save(out_dir / "video.mp4", fps=fps)
        holder["rec"].close()
    return out_dir


def cmd_eval(args: argparse.Namespace) -> int:
    report = run_eval(Path(args.target), args.envs_per_command, args.duration, Path(args.out) if args.out else None)
    print(json.dumps({k: report[k] for k in ("lin_vel_error", "yaw_rate_error", "fall_rate", "power", "foot_slip",
                                             "walks")}, indent=2))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    if args.viewer:
        from stridelab.viz.viewer import run_viewer

        return run_viewer(Path(args.target))
    out = run_play(Path(args.target), Path(args.out) if args.out else None, video=not args.no_video,
                   duration_s=args.duration)
    print(f"wrote plots{'' if args.no_video else ' and video.mp4'} to {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from stridelab.deploy.export import check_parity, export_policy

    out = export_policy(Path(args.target), Path(args.out) if args.out else None)
    err = check_parity(out)
    print(f"exported policy.onnx, policy.pt and policy.json to {out} (torch/onnxruntime max difference {err:.1e})")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    import numpy as np

    from stridelab.deploy.backend import SimBackend, SimBackendConfig, robot_of
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
        robot = robot_of(meta)
        backend = SimBackend(robot, backend_cfg)
    if args.commands:
        command = file_command(args.commands)
    elif args.keyboard:
        c = meta["commands"]
        command = KeyboardCommand(np.array([c["lin_vel_x"], c["lin_vel_y"], c["ang_vel_yaw"]]))
    else:
        fixed = np.array(args.command, dtype=np.float64)
        command = lambda t: fixed  # noqa: E731
    loop = ControlLoop(policy, backend, realtime=args.realtime or args.backend == "udp")
    loop.reset()
    try:
        stats = loop.run(args.duration, command)
    finally:
        backend.close()
    summary = stats.summary()
    summary["safety_events"] = [dataclasses.asdict(e) for e in loop.safety.events]
    print(json.dumps(summary, indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train a policy (options: stridelab train --help)", add_help=False)
    p.set_defaults(func=cmd_train, accepts_rest=True)

    p = sub.add_parser("eval", help="evaluate a run on the command grid; writes eval.json", allow_abbrev=False)
    p.add_argument("target", help="run directory or checkpoint file")
    p.add_argument("--envs-per-command", type=int, default=4)
    p.add_argument("--duration", type=float, default=10.0, help="seconds each command is held")
    p.add_argument("--out", default=None, help="output directory (default: the run directory)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("play", help="render an mp4 and plots of a run; --viewer for the interactive viewer",
                       allow_abbrev=False)
    p.add_argument("target", help="run directory or checkpoint file")
    p.add_argument("--out", default=None, help="output directory (default: the run directory)")
    p.add_argument("--no-video", action="store_true", help="plots only")
    p.add_argument("--duration", type=float, default=15.0, help="length of the command tour [s]")
    p.add_argument("--viewer", action="store_true", help="open the interactive MuJoCo viewer (needs a display)")
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("export", help="write policy.onnx, policy.pt and policy.json for a robot", allow_abbrev=False)
    p.add_argument("target", help="run directory or checkpoint file")
    p.add_argument("--out", default=None, help="output directory (default: RUN_DIR/export)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("deploy", help="run an exported policy in the safe control loop", allow_abbrev=False)
    p.add_argument("policy", help="policy.onnx (with policy.json beside it) or the export directory")
    p.add_argument("--backend", choices=("sim", "udp"), default="sim",
                   help="sim: a separate MuJoCo simulation; udp: a robot process on localhost (see deploy/bridge.py)")
    p.add_argument("--sim2sim-report", default=None, metavar="DIR",
                   help="run the evaluation grid in the deploy simulation and write a side-by-side report")
    p.add_argument("--repeats", type=int, default=2, help="runs per grid command in the sim2sim report")
    p.add_argument("--duration", type=float, default=10.0, help="seconds to run")
    p.add_argument("--command", type=float, nargs=3, default=(0.5, 0.0, 0.0), metavar=("VX", "VY", "YAW"))
    p.add_argument("--commands", default=None, help="CSV/JSON file of rows t,vx,vy,yaw_rate")
    p.add_argument("--keyboard", action="store_true", help="arrow keys change the command")
    p.add_argument("--latency", type=float, default=0.01, help="actuation latency of the sim backend [s]")
    p.add_argument("--realtime", action="store_true", help="run the sim backend at wall-clock speed")
    p.add_argument("--port", type=int, default=9870, help="UDP port of the robot process")
    p.set_defaults(func=cmd_deploy)
