"""Implementations of the ``stridelab`` commands; their options are parsed in :mod:`stridelab.cli`.

Heavy modules (torch, MuJoCo, the learner, the deploy stack) are imported inside the commands, so that
parsing and ``stridelab list`` stay fast and an import error surfaces when the command that needs the
module runs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stridelab.config import EnvConfig, override, save_yaml
from stridelab.errors import ConfigError, StridelabError

if TYPE_CHECKING:
    from stridelab.cli import (BenchArgs, DeployArgs, EtgArgs, EvalArgs, ExportArgs, ListArgs, PlayArgs, RobotArgs,
                               TerrainArgs, TrainArgs)
    from stridelab.distributed.options import RayOptions
    from stridelab.learn.config import TrainConfig

log = logging.getLogger("stridelab")

# `stridelab train` options that --resume applies: budgets, checkpoint interval, stopping rules, and what
# happens after training. Any other option that differs from the run's stored config is refused.
RESUME_SAFE = frozenset({
    "resume", "log_dir", "verbose", "help", "max_iterations", "max_minutes", "eval", "video",
    "eval_envs_per_command", "eval_duration_s", "play_duration_s", "train.max_iterations", "train.max_minutes",
    "train.save_interval", "train.stop_when_walks", "train.check_every_s", "train.check_below_lin_vel_error",
    # where it runs, not what it learns (a run may move between a laptop and a cluster)
    "workers", "ray_address", "cpus_per_worker", "async_rollouts", "device"})
# shortcuts of `stridelab train` and the config field each one sets
SHORTCUTS = {"seed": "env.seed", "num_envs": "env.num_envs", "max_iterations": "train.max_iterations",
             "max_minutes": "train.max_minutes", "policy": "train.rnn_type"}
# `stridelab train --policy` and the train.rnn_type it sets
RNN_TYPE_OF_POLICY = {"mlp": "none", "lstm": "lstm", "gru": "gru"}


def cmd_list(opts: ListArgs) -> int:
    """Print the registered tasks and robots."""
    from stridelab.robots import ROBOTS
    from stridelab.tasks import list_tasks

    print("tasks:")
    for task in list_tasks():
        print(f"  {task.name:<22} {task.description}")
    print("robots:")
    for name, spec in sorted(ROBOTS.items()):
        print(f"  {name:<22} {spec.source}")
    return 0


def cmd_bench(opts: BenchArgs) -> int:
    """Measure env and raw throughput for each ``--num-envs``; print them and write ``--out`` if given."""
    from stridelab.bench import run_bench

    out = Path(opts.out) if opts.out else None
    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give the path of a JSON file, e.g. {out / 'bench.json'}.")
    results = []
    for n in opts.num_envs:
        r = run_bench(opts.task, n, opts.threads, opts.steps, opts.rounds, opts.seed, opts.robot)
        results.append(r)
        label = f"{r.task} ({r.robot})" if r.robot else r.task
        print(f"{label}: {r.num_envs} envs, {r.num_threads} threads, decimation {r.decimation}: "
              f"env {r.env_steps_per_s:,.0f} steps/s, raw mujoco.batch {r.raw_steps_per_s:,.0f} steps/s, "
              f"ratio {r.ratio:.3f}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text("[\n" + ",\n".join(r.to_json() for r in results) + "\n]\n")
        tmp.replace(out)
        print(f"wrote {out}")
    return 0


# ---- train ---------------------------------------------------------------------------------------

def _merged(given: dict[str, str], short: str, short_value: Any, value: Any) -> Any:
    """The value of a field that a shortcut also sets (``--seed`` for ``--env.seed``).

    The shortcut wins when given; the field's own option is used otherwise. Both given with different
    values is an error.
    """
    if short_value is None:
        return value
    field = SHORTCUTS[short]
    if field in given and value != short_value:
        raise ConfigError(f"--{short.replace('_', '-')} {short_value} and {given[field]} {value} disagree "
                          f"(--{short.replace('_', '-')} sets {field}); give one of them.")
    return short_value


def train_configs(opts: TrainArgs, given: dict[str, str]) -> tuple[EnvConfig, TrainConfig]:
    """The env and train configs of a new run: the task's, the options given, and the shortcuts.

    ``--seed`` sets the env and learner seed (``env.seed``); without it ``--env.seed`` (or the task's
    seed) is used. ``--num-envs``, ``--max-iterations``, ``--max-minutes`` and ``--policy`` set
    ``env.num_envs``, ``train.max_iterations``, ``train.max_minutes`` and ``train.rnn_type`` likewise
    (``--policy mlp`` is ``rnn_type none``).

    Raises:
        ConfigError: a shortcut and its field are both given with different values, or ``--env.task``
            names another task than the positional one.
    """
    env_cfg, train_cfg = opts.env, opts.train
    if env_cfg.task != opts.task and "env.task" in given:
        raise ConfigError(f"--env.task {env_cfg.task} differs from the task {opts.task}; give the task only as "
                          f"the positional argument.")
    env_cfg = override(env_cfg, task=opts.task,
                       seed=_merged(given, "seed", opts.seed, env_cfg.seed),
                       num_envs=_merged(given, "num_envs", opts.num_envs, env_cfg.num_envs))
    rnn_type = None if opts.policy is None else RNN_TYPE_OF_POLICY[opts.policy]
    train_cfg = override(train_cfg,
                         max_iterations=_merged(given, "max_iterations", opts.max_iterations, train_cfg.max_iterations),
                         max_minutes=_merged(given, "max_minutes", opts.max_minutes, train_cfg.max_minutes),
                         rnn_type=_merged(given, "policy", rnn_type, train_cfg.rnn_type))
    return env_cfg, train_cfg


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def resume_configs(opts: TrainArgs, given: dict[str, str], task_given: bool) -> tuple[Path, EnvConfig, TrainConfig]:
    """The checkpoint to resume and the configs stored with it, with the options that may change applied.

    Options in :data:`RESUME_SAFE` are applied (a budget, the save interval, the final evaluation);
    every other option given must agree with the stored config.

    Raises:
        ConfigError: options given that would change the stored config, named in one sentence.
        CheckpointError: no valid checkpoint at ``opts.resume``.
    """
    from stridelab.cli import flat_options
    from stridelab.learn.checkpoint import latest_checkpoint, load_checkpoint, run_dir_of
    from stridelab.learn.policy import configs_of

    ckpt = latest_checkpoint(Path(opts.resume))
    env_cfg, train_cfg = configs_of(load_checkpoint(ckpt), ckpt)
    stored = flat_options({"env": env_cfg, "train": train_cfg})
    parsed = flat_options(opts)
    refused = []
    if task_given and opts.task != env_cfg.task:
        refused.append(f"the task {opts.task} (stored: {env_cfg.task})")
    for name, spelling in given.items():
        if name in RESUME_SAFE:
            continue
        field = SHORTCUTS.get(name, name)
        mine, theirs = parsed.get(name), stored.get(field, "not set")
        if name == "policy" and RNN_TYPE_OF_POLICY.get(mine) == theirs:
            continue
        if mine is None or _shown(mine) != _shown(theirs):
            value = "" if isinstance(mine, bool) or mine is None else f" {_shown(mine)}"
            refused.append(f"{spelling}{value} (stored: {_shown(theirs)})")
    if refused:
        raise ConfigError(f"--resume continues {run_dir_of(ckpt)} with the configuration stored in its checkpoint, "
                          f"so it cannot apply {', '.join(refused)}; drop {'it' if len(refused) == 1 else 'them'} "
                          f"or start a new run without --resume.")
    over: dict[str, Any] = {}
    for name in given:
        if name.startswith("train.") and name in RESUME_SAFE:
            over[name.removeprefix("train.")] = getattr(opts.train, name.removeprefix("train."))
    for short in ("max_iterations", "max_minutes"):
        if short in given or f"train.{short}" in given:
            over[short] = _merged(given, short, getattr(opts, short), getattr(opts.train, short))
    return ckpt, env_cfg, override(train_cfg, **over) if over else train_cfg


def ray_options(opts: Any) -> RayOptions | None:
    """The Ray placement of ``stridelab train`` or ``stridelab etg`` (``None``: in-process, and Ray is never
    imported)."""
    if opts.workers == 0 and opts.ray_address is None:
        return None
    from stridelab.distributed.options import RayOptions

    return RayOptions(workers=opts.workers, address=opts.ray_address, cpus_per_worker=opts.cpus_per_worker or 1,
                      async_rollouts=getattr(opts, "async_rollouts", False))


def reserve_run_dir(parent: Path, stamp: str | None = None) -> Path:
    """Create a new, empty run directory ``parent/<stamp>`` atomically (``<stamp>-1``, ``-2``, ... when taken).

    ``stamp`` defaults to the local time (``20261123-101500``); two runs started in the same second get
    different directories.
    """
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    parent.mkdir(parents=True, exist_ok=True)
    for k in range(10_000):
        path = parent / (stamp if k == 0 else f"{stamp}-{k}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise StridelabError(f"could not create a new run directory in {parent} (10000 runs named {stamp}-*); "
                         f"pass another --log-dir.")


def _remove_empty(path: Path, keep: Path) -> None:
    """Remove ``path`` and its parents up to (not including) ``keep``, as long as they are empty."""
    for d in [path, *path.parents]:
        if d == keep or keep not in d.parents:
            return
        try:
            d.rmdir()
        except OSError:
            return


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def cmd_train(opts: TrainArgs, given: dict[str, str] | None = None, task_given: bool = False) -> int:
    """Train (or ``--resume``) a run, then evaluate, plot and render it unless ``--no-eval``.

    ``given`` maps the options on the command line to their spelling (see :func:`stridelab.cli.given_options`).
    """
    from stridelab.eval.grid import evaluate
    from stridelab.learn.trainer import Trainer

    given = {} if given is None else given
    if opts.resume:
        ckpt, env_cfg, train_cfg = resume_configs(opts, given, task_given)
    else:
        ckpt = None
        env_cfg, train_cfg = train_configs(opts, given)

    def walk_check(policy):
        return evaluate(policy, env_cfg, envs_per_command=2, duration_s=10.0, seed=env_cfg.seed + 1)

    placement = ray_options(opts)
    if ckpt is not None:
        from stridelab.learn.checkpoint import run_dir_of

        run_dir = run_dir_of(ckpt)
        trainer = Trainer(env_cfg, train_cfg, run_dir, seed=env_cfg.seed, walk_check=walk_check, ray=placement,
                          device=opts.device)
    else:
        # the name is taken atomically; if the env does not build (a bad robot file, an option), nothing stays
        parent = Path(opts.log_dir) / env_cfg.task
        keep = _existing_ancestor(parent)
        run_dir = reserve_run_dir(parent)
        try:
            trainer = Trainer(env_cfg, train_cfg, run_dir, seed=env_cfg.seed, walk_check=walk_check, ray=placement,
                              device=opts.device)
            if opts.init_from:
                trainer.init_from(Path(opts.init_from))
        except BaseException:
            _remove_empty(run_dir.absolute(), keep)
            raise
    try:
        save_yaml({"task": env_cfg.task, "seed": env_cfg.seed, "env": env_cfg, "train": train_cfg,
                   "placement": {"ray": placement, "device": opts.device}}, run_dir / "config.yaml")
        if ckpt is not None:
            trainer.load(ckpt)
        where = "" if placement is None else (f" on {placement.workers} Ray workers" if placement.workers
                                              else " on the Ray cluster's workers")
        log.info("training %s with %d envs%s in %s", env_cfg.task, env_cfg.num_envs, where, run_dir)
        result = trainer.train(fresh=ckpt is None, show_progress=sys.stderr.isatty())
    finally:
        trainer.close()  # stops the Ray workers before evaluation needs the cores
    log.info("stopped (%s) after %d iterations, %d env steps, %.0f s; checkpoint %s", result.stopped_because,
             result.iterations, result.env_steps, result.seconds, result.checkpoint)
    if result.walk_checks:
        (run_dir / "walk_checks.json").write_text(json.dumps(result.walk_checks, indent=2))
    if result.stopped_because == "interrupted":
        print(f"interrupted: checkpoint saved to {result.checkpoint}; continue with "
              f"`stridelab train {env_cfg.task} --resume {run_dir}`")
        return 130
    if not opts.eval:
        return 0
    report = run_eval(run_dir, opts.eval_envs_per_command, opts.eval_duration_s)
    run_play(run_dir, video=opts.video, duration_s=opts.play_duration_s)
    verdict = "WALKS" if report["walks"] else "does not walk yet"
    print(f"eval: lin vel error {report['lin_vel_error']:.3f} m/s, yaw rate error {report['yaw_rate_error']:.3f} rad/s, "
          f"falls {100 * report['fall_rate']:.1f}% -> the policy {verdict} "
          f"(criteria: <= 0.15 m/s, <= 0.2 rad/s, <= 2% falls); results in {run_dir}")
    gait = report.get("gait")
    if gait:
        missed = [name for name, ok in gait["checks"].items() if not ok]
        print(f"gait: {gait['step_frequency_hz_at_1ms']:.2f} Hz at 1 m/s, duty factors "
              f"{', '.join(f'{d:.2f}' for d in gait['duty_factor'])}, left/right asymmetry "
              f"{100 * gait['left_right_asymmetry']:.0f}%, all feet down at zero command "
              f"{100 * gait['all_feet_down_at_zero_command']:.0f}%, slip {gait['foot_slip']:.2f} m/s -> "
              + ("natural" if gait["natural"] else "not natural: " + ", ".join(missed)) + " (see gait_eval.png)")
    if "terrain" in report:
        from stridelab.eval.terrain import terrain_lines

        print("\n".join(terrain_lines(report["terrain"])) + " (see terrain_success.png)")
    return 0


# ---- eval, play, export, deploy ------------------------------------------------------------------

def run_eval(target: Path, envs_per_command: int = 4, duration_s: float = 10.0, out: Path | None = None,
             terrain_trials: int = 8, terrain_speed: float = 0.5, terrain_fraction: float = 0.5) -> dict:
    """Evaluate a run or checkpoint on the command grid; write eval.json and eval_grid.png. With terrain,
    also the success per terrain type and level (``report["terrain"]``, terrain_success.png)."""
    from stridelab.eval.grid import evaluate
    from stridelab.learn.checkpoint import run_dir_of
    from stridelab.learn.policy import load_policy
    from stridelab.viz.plots import plot_eval, plot_terrain_success

    loaded = load_policy(target)
    report = evaluate(loaded.policy, loaded.env_cfg, envs_per_command=envs_per_command, duration_s=duration_s,
                      seed=loaded.env_cfg.seed + 1000)
    if loaded.env_cfg.terrain is not None:
        from stridelab.eval.terrain import evaluate_terrain

        report["terrain"] = evaluate_terrain(loaded.policy, loaded.env_cfg, trials=terrain_trials, speed=terrain_speed,
                                             fraction=terrain_fraction, duration_s=duration_s,
                                             seed=loaded.env_cfg.seed + 2000)
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
    if "terrain" in report:
        plot_terrain_success(report["terrain"], out_dir)
    return report


def run_play(target: Path | list[Path], out: Path | None = None, video: bool = True, width: int = 320,
             height: int = 240, fps: int = 25, duration_s: float = 15.0) -> Path:
    """Record the policy through a command tour of ``duration_s``: video.mp4 and plots/*.png.

    Several targets play as one ensemble (their actions averaged) in the first one's task, by default into
    the first run's ``ensemble/`` folder.
    """
    from stridelab.eval.rollout import DEFAULT_SCHEDULE, record
    from stridelab.learn.checkpoint import run_dir_of
    from stridelab.learn.ensemble import load_policies
    from stridelab.viz.plots import plot_trajectory

    targets = list(target) if isinstance(target, (list, tuple)) else [target]
    loaded = load_policies(targets)
    out_dir = Path(out) if out else run_dir_of(loaded.checkpoint)
    if out is None and len(targets) > 1:
        out_dir = out_dir / "ensemble"
    holder: dict = {}

    def make_video(env):
        from stridelab.viz.video import VideoRecorder

        holder["rec"] = VideoRecorder(env.sim, env.robot.base_qpos_adr, width, height,
                                      robot_height=env.robot.spec.base_height_target)
        return holder["rec"]

    every = fps  # frames per second: record() turns it into a control-step stride
    tour = DEFAULT_SCHEDULE
    if loaded.env_cfg.terrain is not None and loaded.env_cfg.terrain.course:
        tour = ((1.0, 0.0, 0.0, 0.0), (14.0, 0.6, 0.0, 0.0))  # a course is one way: stand, then walk it forward
    total = sum(step[0] for step in tour)
    schedule = tuple((d * duration_s / total, *c) for d, *c in tour)
    traj = record(loaded.policy, loaded.env_cfg, schedule=schedule, video=make_video if video else None,
                  video_fps=every)
    plot_trajectory(traj, out_dir / "plots")
    if video:
        holder["rec"].save(out_dir / "video.mp4", fps=fps)
        holder["rec"].close()
    return out_dir


def cmd_eval(opts: EvalArgs) -> int:
    """Evaluate a run; print the headline metrics as JSON."""
    report = run_eval(Path(opts.target), opts.envs_per_command, opts.duration, Path(opts.out) if opts.out else None,
                      terrain_trials=opts.terrain_trials, terrain_speed=opts.terrain_speed,
                      terrain_fraction=opts.terrain_fraction)
    print(json.dumps({k: report[k] for k in ("lin_vel_error", "yaw_rate_error", "fall_rate", "power", "foot_slip",
                                             "walks")}, indent=2))
    if "terrain" in report:
        from stridelab.eval.terrain import terrain_lines

        print("\n".join(terrain_lines(report["terrain"])))
    return 0


def cmd_play(opts: PlayArgs) -> int:
    """Record video and plots of a run, or open the interactive viewer."""
    targets = [Path(t) for t in (opts.target, *opts.ensemble)]
    if opts.viewer:
        from stridelab.viz.viewer import run_viewer

        if len(targets) > 1:
            raise ConfigError("--viewer plays one policy; give one run, or drop --viewer to record the ensemble's "
                              "video and plots.")
        return run_viewer(targets[0])
    out = run_play(targets, Path(opts.out) if opts.out else None, video=opts.video, duration_s=opts.duration)
    what = f"the ensemble of {len(targets)} policies" if len(targets) > 1 else "the policy"
    print(f"wrote plots{' and video.mp4' if opts.video else ''} of {what} to {out}")
    return 0


def cmd_robot(opts: RobotArgs) -> int:
    """``stridelab robot check SPEC``: print what stridelab made of the robot and whether it stands."""
    from stridelab.robots.check import check_robot

    report = check_robot(spec_name=opts.spec, seconds=opts.seconds, image=Path(opts.out))
    print("\n".join(report.lines))
    return 0 if report.stands else 1


def cmd_terrain(opts: TerrainArgs) -> int:
    """``stridelab terrain --preview out.png [--task TASK]``: write the task's terrain picture (a grid or a course)."""
    from stridelab.sim.terrain import build_terrain, preview
    from stridelab.tasks import make_env_cfg

    cfg = make_env_cfg(opts.task)
    if cfg.terrain is None:
        raise ConfigError(f"task {opts.task!r} has the flat floor and no terrain; give a task with terrain, such as "
                          f"--task quadruped-rough.")
    out = Path(opts.preview)
    if out.is_dir():
        raise ConfigError(f"--preview {out} is a directory; give the path of a PNG file, e.g. {out / 'terrain.png'}.")
    terrain = build_terrain(cfg.terrain)
    path = preview(terrain, out, dpi=opts.dpi)
    c = cfg.terrain
    course = getattr(terrain, "course", None)
    if course is not None:
        print(f"wrote {path}: course {course.summary()}; {c.num_cols} lanes of {c.tile_size:g} m")
        return 0
    print(f"wrote {path}: {c.num_rows} levels x {c.num_cols} columns of {c.tile_size:g} m tiles "
          f"({', '.join(dict.fromkeys(terrain.column_types))})")
    return 0


def cmd_export(opts: ExportArgs) -> int:
    """Export a run's policy and check torch/onnxruntime parity."""
    from stridelab.deploy.export import check_parity, export_policy

    targets = [Path(t) for t in (opts.target, *opts.ensemble)]
    out = export_policy(targets if len(targets) > 1 else targets[0], Path(opts.out) if opts.out else None)
    err = check_parity(out)
    what = f" (an ensemble of {len(targets)} policies)" if len(targets) > 1 else ""
    print(f"exported policy.onnx, policy.pt and policy.json{what} to {out} (torch/onnxruntime max difference "
          f"{err:.1e})")
    return 0


def cmd_deploy(opts: DeployArgs) -> int:
    """Run an exported policy in the control loop (or write the sim2sim report); print the loop statistics."""
    import numpy as np

    from stridelab.deploy.backend import SimBackend, SimBackendConfig, robot_of
    from stridelab.deploy.runtime import ControlLoop, KeyboardCommand, OnnxPolicy, file_command

    backend_cfg = SimBackendConfig(latency_s=opts.latency, realtime=opts.realtime)
    if opts.sim2sim_report:
        from stridelab.deploy.sim2sim import run_sim2sim

        report = run_sim2sim(Path(opts.policy), Path(opts.sim2sim_report), repeats=opts.repeats,
                             backend_cfg=backend_cfg)
        print((Path(opts.sim2sim_report) / "sim2sim.md").read_text())
        return 0 if report["fall_rate"] <= 0.5 else 1
    policy = OnnxPolicy(Path(opts.policy))
    meta = policy.meta
    if opts.backend == "udp":
        from stridelab.deploy.bridge import UdpBackend

        backend = UdpBackend(len(meta["joint_names"]), opts.port)
    else:
        backend = SimBackend(robot_of(meta), backend_cfg.for_policy(meta))
    if opts.commands:
        command = file_command(opts.commands)
    elif opts.keyboard:
        c = meta["commands"]
        command = KeyboardCommand(np.array([c["lin_vel_x"], c["lin_vel_y"], c["ang_vel_yaw"]]))
    else:
        fixed = np.array(opts.command, dtype=np.float64)
        command = lambda t: fixed  # noqa: E731
    loop = ControlLoop(policy, backend, realtime=opts.realtime or opts.backend == "udp")
    loop.reset()
    try:
        stats = loop.run(opts.duration, command)
    finally:
        backend.close()
    summary = stats.summary()
    summary["safety_events"] = [dataclasses.asdict(e) for e in loop.safety.events]
    if isinstance(backend, SimBackend):
        summary["sim_latency_s"] = backend.cfg.latency_s
    print(json.dumps(summary, indent=2))
    return 0


def cmd_etg(opts: EtgArgs) -> int:
    """``stridelab etg TASK | pretrain TASK | export RUN`` (implemented in :mod:`stridelab.etg.commands`)."""
    from stridelab.etg.commands import run_etg

    return run_etg(opts)
