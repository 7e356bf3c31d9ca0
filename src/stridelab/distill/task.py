"""A student's task, made from its teacher's run: the same robot, terrain and randomization, with what a real robot
has instead of what the teacher read.

The student's env is the teacher's stored env config with

- ``extero``: the teacher's height scan with the exteroception noise model on (:data:`STUDENT_SCAN_NOISE`,
  :mod:`stridelab.mdp.scan_noise`), which the student reads;
- ``teacher_extero``: the same scan, clean, which the teacher reads (and the student's decoder reconstructs);
- the noise scheduled from a clean scan to the full model (:data:`NOISE_RAMP`, the curriculum term
  ``scan_noise``), and every domain randomization at its full range from the first step (the teacher's ramp
  removed: the student meets the robots the teacher learned to handle).

The training config is rsl-rl-lib's distillation with the belief student (:class:`DistillationConfig`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from stridelab.config import EnvConfig, TermCfg
from stridelab.errors import ConfigError
from stridelab.learn.config import DistillationConfig, TrainConfig
from stridelab.mdp.curriculum import without_schedules

#: the student's scan noise at level 1 (Miki et al. 2022's categories: noise, offsets, drift, outliers, holes, a
#: map that is gone); magnitudes in m and m per sqrt(s), probabilities per value and step, rates per s
STUDENT_SCAN_NOISE = {"point_noise": 0.02, "env_offset": 0.03, "drift_rate": 0.05, "drift_max": 0.1,
                      "outlier_prob": 0.01, "missing_prob": 0.02, "region_rate": 0.2, "region_radius": 0.3,
                      "blind_prob": 0.1, "blind_after_s": (1.0, 10.0)}
#: the noise level goes from 0 to 1 over these control steps per env (24 per iteration: iterations 0-400)
NOISE_RAMP = {"start_step": 0, "end_step": 9600}
#: a student's wall-clock budget [min] on 2 cores (the issue's goal)
STUDENT_MAX_MINUTES = 60.0


def teacher_run(path: str | Path) -> tuple[Path, EnvConfig, TrainConfig]:
    """The teacher's newest valid checkpoint and its configs.

    Raises:
        CheckpointError: no valid checkpoint there.
        ConfigError: the teacher reads no height scan (nothing to distil into a scan-reading student).
    """
    from stridelab.learn.checkpoint import latest_checkpoint, load_checkpoint
    from stridelab.learn.policy import configs_of

    ckpt = latest_checkpoint(Path(path))
    data = load_checkpoint(ckpt)
    env_cfg, train_cfg = configs_of(data, ckpt)
    groups = list(data["policy_obs_groups"])
    if groups != ["policy", "extero"] or "extero" not in env_cfg.observations:
        raise ConfigError(f"the teacher {ckpt} reads {groups}; distil a terrain teacher that reads ['policy', "
                          f"'extero'] (the height scan), e.g. a run of `stridelab train quadruped-rough`.")
    if train_cfg.distillation is not None:
        raise ConfigError(f"{ckpt} is a student, not a teacher; give the teacher's run.")
    return ckpt, env_cfg, train_cfg


def student_env_cfg(teacher: EnvConfig, noise: dict | None = None, ramp: dict | None = None) -> EnvConfig:
    """The student's env config from the teacher's (module docstring)."""
    scan_group = teacher.observations["extero"]
    names = [n for n, t in scan_group.terms.items() if t.func.rpartition(":")[2] == "height_scan"]
    if len(names) != 1:
        raise ConfigError(f"the teacher's extero group has {len(names)} height_scan terms; the student's noise model "
                          f"needs exactly one.")
    name = names[0]
    ramp = dict(NOISE_RAMP if ramp is None else ramp)
    scan = scan_group.terms[name]
    noisy = replace(scan, params={**scan.params, **(STUDENT_SCAN_NOISE if noise is None else noise),
                                  "noise_level": 0.0 if ramp.get("end_step") else 1.0})
    observations = {**teacher.observations, "extero": replace(scan_group, terms={**scan_group.terms, name: noisy}),
                    "teacher_extero": scan_group}
    base = without_schedules(teacher)  # every randomization at its full range from the first step
    return replace(base, observations=observations, curriculum={
        **base.curriculum, "scan_noise": TermCfg("scan_noise_level", {"group": "extero", **ramp})})


def student_train_cfg(teacher_path: str | Path, teacher_train: TrainConfig) -> TrainConfig:
    """Distillation with the belief student from the teacher at ``teacher_path`` (its rollout length and threads)."""
    return TrainConfig(num_steps_per_env=teacher_train.num_steps_per_env, max_iterations=100_000,
                       max_minutes=STUDENT_MAX_MINUTES, stop_when_walks=False, torch_threads=teacher_train.torch_threads,
                       save_interval=50, symmetry="off", runner_class="StridelabDistillationRunner",
                       distillation=DistillationConfig(teacher=str(teacher_path)))

