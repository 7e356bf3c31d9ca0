"""Behaviour cloning (ETG-RL's route to a deployable student): record a teacher's rollouts into a dataset file,
then fit a student to the teacher's actions by supervised learning.

The dataset (``.npz``, :data:`DATASET_FORMAT`), ``T`` control steps of ``N`` envs:

=================== ================ ==============================================================================
array               shape, dtype     meaning
=================== ================ ==============================================================================
``obs/<group>``     (T, N, D) f16    every observation group of the task at step t, as the env gave it (its sensor
                                     noise times ``meta.obs_noise``), values masked (zeroed) with ``meta.mask_prob``
``actions``         (T, N, A) f32    the teacher's (deterministic) actions at step t
``dones``           (T, N) bool      the episode ended at step t (the env reset; step t + 1 starts a new one)
``time_outs``       (T, N) bool      of those, the ones that ran out of time (not a failure)
``meta``            () str           JSON: format, task, teacher checkpoint, groups and sizes, control_dt [s],
                                     obs_noise, mask_prob, seed, steps, num_envs
=================== ================ ==============================================================================

The student is an rsl-rl-lib model (``MLPModel`` or a GRU ``RNNModel``) reading any groups (a blind student:
``policy`` only) with its own input normalization, fitted with MSE to the teacher's actions: an MLP on shuffled
mini-batches, a GRU over the recorded sequences (truncated BPTT, state reset where episodes ended). It is
written as a normal checkpoint (``policy_model`` ``"student"``) that ``eval``, ``play`` and ``export`` load.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensordict import TensorDict
from torch import nn

from stridelab.config import EnvConfig, override
from stridelab.errors import StridelabError
from stridelab.files import read_npz_with_meta, write_atomic

log = logging.getLogger(__name__)

DATASET_FORMAT = "stridelab-bc-dataset/1"


class DatasetError(StridelabError):
    """A behaviour-cloning dataset file is missing, corrupt or incomplete."""


@dataclass
class Dataset:
    """Recorded teacher rollouts (module docstring for the arrays). ``meta`` is a dict."""

    obs: dict[str, np.ndarray]
    actions: np.ndarray
    dones: np.ndarray
    time_outs: np.ndarray
    meta: dict[str, Any]

    @property
    def steps(self) -> int:
        return int(self.actions.shape[0])

    @property
    def num_envs(self) -> int:
        return int(self.actions.shape[1])


def save_dataset(path: Path | str, ds: Dataset) -> Path:
    """Write ``ds`` as one ``.npz`` file, atomically."""
    arrays = {f"obs/{g}": v.astype(np.float16) for g, v in ds.obs.items()}
    arrays.update(actions=ds.actions.astype(np.float32), dones=ds.dones.astype(bool),
                  time_outs=ds.time_outs.astype(bool), meta=np.array(json.dumps(ds.meta)))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_atomic(path, lambda f: f.write(buf.getvalue()))


def load_dataset(path: Path | str) -> Dataset:
    """Read a dataset written by :func:`save_dataset`.

    Raises:
        DatasetError: the file is missing, not a dataset, of another format, or its arrays do not fit together.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset {str(path)!r} does not exist; record one with `stridelab bc TEACHER_RUN`.")
    try:
        arrays, meta = read_npz_with_meta(path)
    except ValueError as exc:
        raise DatasetError(f"dataset {str(path)!r} is corrupt or not a stridelab dataset ({exc}); "
                           f"record it again with `stridelab bc TEACHER_RUN`.") from None
    if meta.get("format") != DATASET_FORMAT:
        raise DatasetError(f"dataset {str(path)!r} has format {meta.get('format')!r}, not {DATASET_FORMAT!r}; "
                           f"record it again with this stridelab.")
    missing = [k for k in ("actions", "dones", "time_outs") if k not in arrays]
    obs = {k.removeprefix("obs/"): v.astype(np.float32) for k, v in arrays.items() if k.startswith("obs/")}
    if missing or not obs:
        raise DatasetError(f"dataset {str(path)!r} is incomplete (no {', '.join(missing) or 'observations'}); record "
                           f"it again.")
    shape = arrays["actions"].shape[:2]
    bad = [g for g, v in obs.items() if v.shape[:2] != shape] + [k for k in ("dones", "time_outs")
                                                                  if arrays[k].shape != shape]
    if bad:
        raise DatasetError(f"dataset {str(path)!r}: {', '.join(bad)} do not have the actions' {shape} steps x envs; "
                           f"record it again.")
    return Dataset(obs, arrays["actions"].astype(np.float32), arrays["dones"], arrays["time_outs"], meta)


def record(teacher: Path | str, steps: int, num_envs: int, seed: int = 0, obs_noise: float = 1.0,
           mask_prob: float = 0.0, num_threads: int = 0) -> Dataset:
    """Roll the teacher out (deterministic) in its own task, every randomization at full range, and record it.

    Args:
        teacher: the teacher's run directory or checkpoint.
        steps, num_envs: ``T`` and ``N``.
        obs_noise: multiplier of every observation group's sensor noise (the task's noise model; 0: none).
        mask_prob: probability that a recorded observation value is zeroed (masking; the teacher acts unmasked).
    """
    from stridelab.envs import make_env
    from stridelab.learn.policy import load_policy
    from stridelab.mdp.curriculum import without_schedules

    loaded = load_policy(teacher)
    groups = {name: {"noise": g.noise * obs_noise} for name, g in loaded.env_cfg.observations.items()}
    cfg = override(without_schedules(loaded.env_cfg), num_envs=num_envs, seed=seed, num_threads=num_threads,
                   observations=groups)
    env = make_env(cfg)
    rng = np.random.default_rng(seed + 31)
    obs = env.get_observations()
    out = {g: np.empty((steps, num_envs, v.shape[-1]), dtype=np.float32) for g, v in obs.items()}
    actions = np.empty((steps, num_envs, env.num_actions), dtype=np.float32)
    dones = np.empty((steps, num_envs), dtype=bool)
    time_outs = np.empty((steps, num_envs), dtype=bool)
    policy = loaded.policy
    policy.reset()
    t0 = time.monotonic()
    with torch.inference_mode():
        for t in range(steps):
            for g, v in obs.items():
                out[g][t] = v.numpy()
            act = policy(obs)
            actions[t] = act.numpy()
            obs, _, done, extras = env.step(act)
            policy.reset(done)
            dones[t], time_outs[t] = done.numpy(), extras["time_outs"].numpy()
    if mask_prob > 0:
        for v in out.values():
            v[rng.random(v.shape) < mask_prob] = 0.0
    log.info("recorded %d steps of %d envs of the teacher in %.0f s", steps, num_envs, time.monotonic() - t0)
    meta = {"format": DATASET_FORMAT, "task": cfg.task, "teacher": str(loaded.checkpoint),
            "groups": {g: int(v.shape[-1]) for g, v in out.items()}, "control_dt": float(env.dt),
            "obs_noise": float(obs_noise), "mask_prob": float(mask_prob), "seed": int(seed), "steps": int(steps),
            "num_envs": int(num_envs), "env_cfg": json.loads(json.dumps(_plain(cfg)))}
    return Dataset(out, actions, dones, time_outs, meta)


def _plain(cfg: EnvConfig) -> dict:
    from stridelab.config import to_dict

    return to_dict(cfg)


@dataclass(frozen=True)
class FitSettings:
    """How the student is fitted.

    Attributes:
        groups: the observation groups it reads, in order (``("policy",)``: blind, proprioception only).
        model: ``mlp`` or ``gru``.
        hidden_dims: the MLP (after the GRU for ``gru``).
        rnn_hidden_dim: the GRU's state size.
        epochs: passes over the dataset.
        batch_size: samples per mini-batch (MLP) or envs per batch of sequences (GRU).
        seq_len: control steps per truncated-BPTT window (GRU).
        learning_rate: Adam's step size.
        seed: torch seed of the initial weights and the shuffling.
    """

    groups: tuple[str, ...] = ("policy",)
    model: str = "mlp"
    hidden_dims: tuple[int, ...] = (256, 128, 64)
    rnn_hidden_dim: int = 128
    epochs: int = 30
    batch_size: int = 4096
    seq_len: int = 24
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in ("mlp", "gru"):
            raise StridelabError(f"bc model {self.model!r} is unknown; use mlp or gru.")
        if min(self.epochs, self.batch_size, self.seq_len, self.rnn_hidden_dim) < 1 or not self.groups:
            raise StridelabError("bc epochs, batch size, sequence length and GRU size must be at least 1, and the "
                                 "student must read at least one group.")

    def model_cfg(self) -> dict:
        """The rsl-rl model config (``class_name`` + constructor kwargs) of the student."""
        cfg: dict[str, Any] = {"class_name": "MLPModel", "hidden_dims": list(self.hidden_dims), "activation": "elu",
                               "obs_normalization": True}
        if self.model == "gru":
            cfg.update(class_name="RNNModel", rnn_type="gru", rnn_hidden_dim=self.rnn_hidden_dim, rnn_num_layers=1)
        return cfg


def fit(ds: Dataset, settings: FitSettings) -> tuple[nn.Module, list[float]]:
    """Fit a student to the dataset's teacher actions. Returns the model (eval mode) and the loss per epoch."""
    from stridelab.learn.models import model_class

    missing = [g for g in settings.groups if g not in ds.obs]
    if missing:
        raise DatasetError(f"the dataset has no observation group {missing[0]!r}; give --groups from "
                           f"{', '.join(ds.obs)}.")
    torch.manual_seed(settings.seed)
    obs = {g: torch.from_numpy(ds.obs[g]) for g in settings.groups}
    target = torch.from_numpy(ds.actions)
    cfg = settings.model_cfg()
    cls = model_class(cfg.pop("class_name"))
    sample = TensorDict({g: v[0, :1] for g, v in obs.items()}, batch_size=[1])
    model = cls(sample, {"student": list(settings.groups)}, "student", ds.actions.shape[-1], **cfg)
    model.train()
    flat = TensorDict({g: v.flatten(0, 1) for g, v in obs.items()}, batch_size=[ds.steps * ds.num_envs])
    model.update_normalization(flat)  # the dataset's statistics, once
    model.obs_normalizer.eval()
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    gen = torch.Generator().manual_seed(settings.seed)
    losses = []
    for epoch in range(settings.epochs):
        if settings.model == "mlp":
            loss = _mlp_epoch(model, optimizer, flat, target.flatten(0, 1), settings.batch_size, gen)
        else:
            loss = _gru_epoch(model, optimizer, obs, target, torch.from_numpy(ds.dones), settings, gen)
        losses.append(loss)
        log.info("bc epoch %d/%d: action MSE %.5f", epoch + 1, settings.epochs, loss)
    return model.eval(), losses


def _mlp_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, obs: TensorDict, target: torch.Tensor,
               batch_size: int, gen: torch.Generator) -> float:
    order = torch.randperm(len(target), generator=gen)
    total, count = 0.0, 0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        loss = nn.functional.mse_loss(model(obs[idx]), target[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, count = total + loss.item() * len(idx), count + len(idx)
    return total / count


def _gru_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, obs: dict[str, torch.Tensor], target: torch.Tensor,
               dones: torch.Tensor, settings: FitSettings, gen: torch.Generator) -> float:
    """Batches of envs; each walks the recorded time axis in windows of ``seq_len`` steps (state carried, detached,
    from window to window; reset where an episode ended)."""
    steps, n = target.shape[:2]
    total, count = 0.0, 0
    for envs in torch.randperm(n, generator=gen).split(settings.batch_size):
        model.reset()
        for start in range(0, steps, settings.seq_len):
            loss = 0
            window = range(start, min(start + settings.seq_len, steps))
            for t in window:
                step = TensorDict({g: v[t, envs] for g, v in obs.items()}, batch_size=[len(envs)])
                loss = loss + nn.functional.mse_loss(model(step), target[t, envs])
                model.reset(dones[t, envs])
            loss = loss / len(window)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.detach_hidden_state()
            total, count = total + loss.item() * len(window), count + len(window)
    return total / count


def write_student(run_dir: Path, model: nn.Module, settings: FitSettings, ds: Dataset, seconds: float,
                  losses: list[float]) -> Path:
    """The fitted student as a checkpoint of a run directory (``checkpoints/model_000001.pt``), loadable by
    ``stridelab eval``, ``play`` and ``export``, and ``bc.json`` with the fit's figures."""
    from stridelab.config import from_dict
    from stridelab.learn.checkpoint import FORMAT_VERSION, checkpoint_name, config_dict, save_checkpoint
    from stridelab.learn.config import TrainConfig

    env_cfg = from_dict(EnvConfig, ds.meta["env_cfg"], "env")
    train_cfg = replace(TrainConfig(), actor_obs_groups=tuple(settings.groups), actor_hidden_dims=settings.hidden_dims,
                        rnn_type="gru" if settings.model == "gru" else "none", rnn_hidden_dim=settings.rnn_hidden_dim,
                        max_iterations=settings.epochs)
    data = {"format_version": FORMAT_VERSION, "algorithm": "BehaviourCloning", "policy_model": "student",
            "policy_cfg": settings.model_cfg(), "policy_obs_groups": {g: int(ds.obs[g].shape[-1]) for g in
                                                                      settings.groups},
            "num_actions": int(ds.actions.shape[-1]), "algorithm_state": {"student_state_dict": model.state_dict()},
            "iteration": settings.epochs, "env_steps": ds.steps * ds.num_envs, "train_seconds": float(seconds),
            "seed": settings.seed, "config": config_dict(env_cfg, train_cfg)}
    path = save_checkpoint(data, Path(run_dir) / "checkpoints" / checkpoint_name(1))
    info = {"teacher": ds.meta["teacher"], "dataset_steps": ds.steps, "dataset_envs": ds.num_envs,
            "samples": ds.steps * ds.num_envs, "groups": list(settings.groups), "model": settings.model,
            "epochs": settings.epochs, "loss_per_epoch": losses, "seconds": round(seconds, 1),
            "obs_noise": ds.meta["obs_noise"], "mask_prob": ds.meta["mask_prob"]}
    write_atomic(Path(run_dir) / "bc.json", lambda f: f.write(json.dumps(info, indent=2)), binary=False)
    return path
