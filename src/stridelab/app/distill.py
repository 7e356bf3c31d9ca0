"""``stridelab distill TEACHER_RUN [OPTIONS]``: a deployable student distilled from a terrain teacher.

The student reads proprioception and a height scan corrupted by the exteroception noise model; a GRU belief
encoder with a learned gate decides how much of the scan to trust, and a decoder reconstructs the clean scan and
the privileged state (Miki et al. 2022). rsl-rl-lib's DistillationRunner trains it (DAgger: the student acts, the
teacher labels). The options' defaults come from the teacher's run (``--env.*``: its env with the noise model,
``--train.distillation.*``: the student); ``--resume RUN`` continues a student exactly. Writes
``runs/<task>-student/<timestamp>/`` like ``stridelab train`` (checkpoints, TensorBoard, eval.json, video).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import tyro

from stridelab.app.options import check, check_budget
from stridelab.app.train import resumed, run_training, with_shortcuts
from stridelab.config import EnvConfig
from stridelab.distributed.options import RayOptions
from stridelab.eval.metrics import GRID_DURATION_S, GRID_ENVS_PER_COMMAND
from stridelab.learn.config import DistillationConfig, TrainConfig


@dataclasses.dataclass(frozen=True)
class Args:
    """Distil a deployable student (belief encoder/decoder, noisy height scan) from a terrain teacher.

    Attributes:
        teacher: the teacher's run directory or checkpoint (e.g. runs/quadruped-rough/<stamp>); its configs are
            the defaults of --env.* and --train.*.
        seed: seed of the env and the learner (sets env.seed).
        num_envs: parallel environments (sets env.num_envs).
        max_iterations: iteration budget (sets train.max_iterations).
        max_minutes: wall-clock budget in minutes, 0 for none (sets train.max_minutes; default 60).
        log_dir: root of the run directories.
        resume: a student's run directory (or checkpoint) to continue exactly where it stopped.
        eval: evaluate, plot and render after training (--no-eval skips it).
        eval_envs_per_command: envs per grid command in the final evaluation.
        eval_duration_s: seconds each grid command is held in the final evaluation.
        play_duration_s: length of the recorded command tour (video and plots) [s].
        video: render video.mp4 after training.
        device: where the learner's networks run: cpu, cuda or cuda:N.
        ray: rollouts on Ray workers (synchronous).
        env: the student's environment (the teacher's, with the scan noise model).
        train: the distillation (--train.distillation.*) and its budget.
    """

    teacher: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="TEACHER_RUN")] = ""
    seed: int | None = None
    num_envs: int | None = None
    max_iterations: int | None = None
    max_minutes: float | None = None
    log_dir: str = "runs"
    resume: Annotated[str | None, tyro.conf.arg(metavar="RUN")] = None
    eval: bool = True
    eval_envs_per_command: int = GRID_ENVS_PER_COMMAND
    eval_duration_s: float = GRID_DURATION_S
    play_duration_s: float = 15.0
    video: bool = True
    device: str = "cpu"
    ray: Annotated[RayOptions, tyro.conf.OmitArgPrefixes] = dataclasses.field(default_factory=RayOptions)
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_budget(self.num_envs, self.max_iterations, self.max_minutes)


def teacher_defaults(teacher: str) -> Args:
    """The options of ``stridelab distill TEACHER`` before any is given: the student's configs from the teacher."""
    from stridelab.distill.task import student_env_cfg, student_train_cfg, teacher_run

    ckpt, env_cfg, train_cfg = teacher_run(teacher)
    return Args(teacher=teacher, env=student_env_cfg(env_cfg), train=student_train_cfg(ckpt, train_cfg))


def default_args(tokens: list[str]) -> Args:
    """The defaults of the first parse: the student of the teacher named by the first argument; without one (as
    for ``--resume`` alone, whose run's stored configs are parsed against next) a student's options with no
    teacher, so that ``--train.distillation.*`` parses."""
    first = tokens[0] if tokens and not tokens[0].startswith("-") else ""
    return teacher_defaults(first) if first else Args(train=TrainConfig(distillation=DistillationConfig()))


def resolve(args: Args, reparse: Callable[[Args], Args]) -> Args:
    """The final options: the teacher's student defaults (or the stored run's with ``--resume``), shortcuts applied.

    Raises:
        ConfigError: no teacher given, a teacher that reads no height scan, options that would change a resumed
            student, a shortcut disagreeing with its field.
        CheckpointError: no valid checkpoint at the teacher's run or at ``--resume``.
    """
    if args.resume:
        return resumed(args, reparse, lambda env_cfg, train_cfg: Args(
            teacher=train_cfg.distillation.teacher if train_cfg.distillation else "", env=env_cfg, train=train_cfg),
            "teacher")
    check(bool(args.teacher), "`stridelab distill` needs the teacher's run: stridelab distill TEACHER_RUN (e.g. "
                              "runs/quadruped-rough/<stamp>), or --resume RUN to continue a student.")
    defaults = teacher_defaults(args.teacher)
    if args.train.distillation is None or args.train.distillation.teacher != defaults.train.distillation.teacher:
        args = reparse(defaults)  # the teacher stood among the options: parse against its student
    return with_shortcuts(args, defaults)


def run(args: Args) -> int:
    """Distil (or ``--resume``) a student, then evaluate, plot and render it unless ``--no-eval``."""
    return run_training(args, Path(args.log_dir) / f"{args.env.task}-student", f"stridelab distill {args.teacher}")
