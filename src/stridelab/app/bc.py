"""``stridelab bc TEACHER_RUN``: behaviour cloning of a student from the teacher's recorded rollouts.

Records the teacher (its task, every randomization at full range) into ``dataset.npz`` (or reads ``--dataset``),
fits a student (``--model mlp|gru``, reading ``--groups``, by default proprioception only: a blind student, as
ETG-RL clones one) and writes ``runs/<task>-bc/<timestamp>/``: ``checkpoints/model_000001.pt`` (``eval``,
``play`` and ``export`` accept it), ``bc.json`` and, unless ``--no-eval``, ``eval.json``. The dataset's arrays
are documented in :mod:`stridelab.distill.bc`.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Literal

import tyro

from stridelab.app.options import check


@dataclasses.dataclass(frozen=True)
class Args:
    """Behaviour cloning: record the teacher, fit a student (MLP or GRU) to its actions.

    Attributes:
        teacher: the teacher's run directory or checkpoint.
        dataset: fit on this recorded dataset (.npz) instead of recording one.
        steps: control steps recorded per env.
        num_envs: envs recorded at once.
        obs_noise: multiplier of the task's sensor noise while recording (0: none).
        mask_prob: probability that a recorded observation value is zeroed (masking).
        groups: the observation groups the student reads (policy: blind, proprioception only).
        model: mlp, or gru (a recurrent student trained over the recorded sequences).
        epochs: passes over the dataset.
        seed: seed of the recording env and of the fit.
        log_dir: root of the run directories.
        eval: evaluate the student on the command grid and its terrain after fitting.
        terrain_trials: trials per terrain type and level in that evaluation.
    """

    teacher: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="TEACHER_RUN")]
    dataset: Annotated[str | None, tyro.conf.arg(metavar="FILE")] = None
    steps: int = 400
    num_envs: int = 256
    obs_noise: float = 1.0
    mask_prob: float = 0.0
    groups: tuple[str, ...] = ("policy",)
    model: Literal["mlp", "gru"] = "mlp"
    epochs: int = 30
    seed: int = 0
    log_dir: str = "runs"
    eval: bool = True
    terrain_trials: int = 8

    def __post_init__(self) -> None:
        check(self.steps >= 1 and self.num_envs >= 1, f"--steps {self.steps} and --num-envs {self.num_envs} must be "
                                                      f"1 or more.")
        check(self.obs_noise >= 0, f"--obs-noise {self.obs_noise} is out of range; give 0 or more.")
        check(0 <= self.mask_prob < 1, f"--mask-prob {self.mask_prob} is out of range; give a probability in [0, 1).")
        check(self.epochs >= 1, f"--epochs {self.epochs} is out of range; use 1 or more.")


def run(args: Args) -> int:
    from stridelab.distill.bc import FitSettings, fit, load_dataset, record, save_dataset, write_student
    from stridelab.eval.report import evaluate_run
    from stridelab.learn.rundir import reserve_run_dir

    settings = FitSettings(groups=tuple(args.groups), model=args.model, epochs=args.epochs, seed=args.seed)
    t0 = time.monotonic()
    if args.dataset:
        ds = load_dataset(args.dataset)
        run_dir = reserve_run_dir(Path(args.log_dir) / f"{ds.meta['task']}-bc")
    else:
        ds = record(args.teacher, args.steps, args.num_envs, seed=args.seed, obs_noise=args.obs_noise,
                    mask_prob=args.mask_prob)
        run_dir = reserve_run_dir(Path(args.log_dir) / f"{ds.meta['task']}-bc")
        save_dataset(run_dir / "dataset.npz", ds)
    model, losses = fit(ds, settings)
    seconds = time.monotonic() - t0
    checkpoint = write_student(run_dir, model, settings, ds, seconds, losses)
    print(f"fitted a {args.model} student reading {', '.join(args.groups)} on {ds.steps * ds.num_envs:,} teacher "
          f"samples in {seconds:.0f} s (recording included): action MSE {losses[0]:.4f} -> {losses[-1]:.4f}; "
          f"checkpoint {checkpoint}")
    if args.eval:
        from stridelab.app.eval import print_report

        print_report(evaluate_run(run_dir, terrain_trials=args.terrain_trials), run_dir)
    return 0
