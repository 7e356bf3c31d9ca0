"""What ``stridelab eval`` and ``stridelab play`` do to a run: evaluate it and write ``eval.json`` with its plots,
or record it through a command tour (video and plots). Training uses the same grid evaluation for its walk
checks (:func:`grid_verdict`), so "walks" means one thing wherever it is printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from stridelab.config import EnvConfig
from stridelab.eval.grid import evaluate
from stridelab.eval.metrics import GRID_DURATION_S, GRID_ENVS_PER_COMMAND, GRID_SEED_OFFSET
from stridelab.files import write_atomic


def grid_verdict(policy: Callable, env_cfg: EnvConfig, envs_per_command: int = GRID_ENVS_PER_COMMAND,
                 duration_s: float = GRID_DURATION_S) -> dict[str, Any]:
    """The command-grid evaluation of ``policy`` on ``env_cfg`` (:func:`stridelab.eval.grid.evaluate` with the
    run's evaluation seed): the one "walks" verdict, used by training's walk checks and by ``stridelab eval``.

    A walk check that passes at an iteration therefore reads exactly what ``eval`` reads on the checkpoint of
    that iteration (same grid, same trials, same seed, deterministic policy)."""
    return evaluate(policy, env_cfg, envs_per_command=envs_per_command, duration_s=duration_s,
                    seed=env_cfg.seed + GRID_SEED_OFFSET)


def evaluate_run(target: Path, envs_per_command: int = GRID_ENVS_PER_COMMAND, duration_s: float = GRID_DURATION_S,
                 out: Path | None = None, terrain_trials: int = 8, terrain_speed: float = 0.5,
                 terrain_fraction: float = 0.5, env_change: Callable[[EnvConfig], EnvConfig] | None = None) -> dict:
    """Evaluate a run or checkpoint on the command grid; write eval.json and eval_grid.png (into ``out``, by
    default the run directory). With terrain, also the success per terrain type and level
    (``report["terrain"]``, terrain_success.png). ``env_change`` evaluates in a changed task (e.g. another
    simulator's dynamics) instead of the run's own."""
    from stridelab.learn.checkpoint import run_dir_of
    from stridelab.learn.policy import load_policy
    from stridelab.viz.plots import plot_eval, plot_terrain_success

    loaded = load_policy(target)
    if env_change is not None:
        loaded = replace(loaded, env_cfg=env_change(loaded.env_cfg))
    report = grid_verdict(loaded.policy, loaded.env_cfg, envs_per_command, duration_s)
    if loaded.env_cfg.terrain is not None:
        from stridelab.eval.terrain import evaluate_terrain

        report["terrain"] = evaluate_terrain(loaded.policy, loaded.env_cfg, trials=terrain_trials, speed=terrain_speed,
                                             fraction=terrain_fraction, duration_s=duration_s,
                                             seed=loaded.env_cfg.seed + 2000)
    distillation = loaded.train_cfg.distillation
    if distillation is not None and loaded.env_cfg.terrain is not None:  # a student: beside its teacher
        from stridelab.eval.student import side_by_side

        teacher = load_policy(distillation.teacher)
        report["student"] = side_by_side({"student": loaded.policy, "teacher": teacher.policy}, loaded.env_cfg,
                                         trials=terrain_trials, speed=terrain_speed, fraction=terrain_fraction,
                                         duration_s=duration_s, seed=loaded.env_cfg.seed + 2000)
        report["student"]["teacher"] = str(teacher.checkpoint)
    report["checkpoint"] = str(loaded.checkpoint)
    report["iteration"] = int(loaded.data.get("iteration", 0))
    report["env_steps"] = int(loaded.data.get("env_steps", 0))
    report["train_seconds"] = float(loaded.data.get("train_seconds", 0.0))
    out_dir = Path(out) if out else run_dir_of(loaded.checkpoint)
    write_atomic(out_dir / "eval.json", lambda f: f.write(json.dumps(report, indent=2)), binary=False)
    plot_eval(report, out_dir)
    if "terrain" in report:
        plot_terrain_success(report["terrain"], out_dir)
    return report


def play_run(target: Path | list[Path], out: Path | None = None, video: bool = True, width: int = 320,
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

    tour = DEFAULT_SCHEDULE
    if loaded.env_cfg.terrain is not None and loaded.env_cfg.terrain.course:
        tour = ((1.0, 0.0, 0.0, 0.0), (14.0, 0.6, 0.0, 0.0))  # a course is one way: stand, then walk it forward
    total = sum(step[0] for step in tour)
    schedule = tuple((d * duration_s / total, *c) for d, *c in tour)
    traj = record(loaded.policy, loaded.env_cfg, schedule=schedule, video=make_video if video else None,
                  video_fps=fps)  # frames per second: record() turns it into a control-step stride
    plot_trajectory(traj, out_dir / "plots")
    if video:
        holder["rec"].save(out_dir / "video.mp4", fps=fps)
        holder["rec"].close()
    return out_dir
