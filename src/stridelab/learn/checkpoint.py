"""The checkpoint format (version 2): the one module that writes, reads and checks checkpoints.

A checkpoint is a dict of tensors and plain Python values only, written atomically (temporary file,
fsync, ``os.replace``) and read with ``torch.load(weights_only=True)``:

==================== =========================================================================
key                  value
==================== =========================================================================
format_version       ``2``
algorithm            rsl-rl algorithm class that wrote it: ``"PPO"`` or ``"Distillation"``
policy_model         which model of ``algorithm_state`` is the deployable policy: ``"actor"`` (PPO)
                     or ``"student"`` (distillation)
policy_cfg           rsl-rl model config of that model (``class_name`` + constructor kwargs)
policy_obs_groups    observation groups it reads, in order, with their sizes, e.g. ``{"policy": 45}``
num_actions          size of its output (actions per env)
algorithm_state      ``alg.save()``: ``<model>_state_dict`` per model + ``optimizer_state_dict``
learning_rate        the adaptive learning rate when saved
iteration            completed learning iterations
env_steps            env transitions collected so far (iterations x steps per env x envs)
train_seconds        wall-clock training time so far [s]
seed                 the run's seed
torch_rng            ``torch.get_rng_state()`` (uint8 tensor)
env_state            :func:`stridelab.envs.snapshot.env_state_dict` of the training env
config               ``{"env": ..., "train": ...}``: the configs as plain dicts
rollout_state        (optional) the recurrent models' hidden states that the next rollout starts
                     from: ``{"actor": [tensor, ...] or None, "critic": ...}`` (h, or h and c for an LSTM)
==================== =========================================================================

The first six keys after ``format_version`` are enough to rebuild the policy without an env or a
runner (:mod:`stridelab.learn.models`); the rest makes training resume bit for bit.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch

from stridelab.config import EnvConfig, from_dict, to_dict
from stridelab.errors import CheckpointError, ConfigError
from stridelab.files import write_atomic
from stridelab.learn.config import TrainConfig

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
POLICY_KEYS = ("algorithm", "policy_model", "policy_cfg", "policy_obs_groups", "num_actions", "algorithm_state")
TRAINING_KEYS = ("learning_rate", "iteration", "env_steps", "train_seconds", "seed", "torch_rng", "env_state",
                 "config")
_NAME = re.compile(r"model_(\d+)\.pt$")


# ---- writing -------------------------------------------------------------------------------------
def training_checkpoint(*, algorithm: str, policy_model: str, policy_cfg: dict, policy_obs_groups: dict[str, int],
                        num_actions: int, algorithm_state: dict, learning_rate: float | None, iteration: int,
                        env_steps: int, train_seconds: float, seed: int, torch_rng: torch.Tensor, env_state: dict,
                        env_cfg: EnvConfig, train_cfg: TrainConfig, rollout_state: dict | None = None
                        ) -> dict[str, Any]:
    """The checkpoint dict of a training run (see the module docstring for each key)."""
    if f"{policy_model}_state_dict" not in algorithm_state:
        raise ValueError(f"algorithm_state has no {policy_model}_state_dict (keys: {sorted(algorithm_state)})")
    return {
        "format_version": FORMAT_VERSION,
        "algorithm": algorithm,
        "policy_model": policy_model,
        "policy_cfg": policy_cfg,
        "policy_obs_groups": {str(k): int(v) for k, v in policy_obs_groups.items()},
        "num_actions": int(num_actions),
        "algorithm_state": algorithm_state,
        "learning_rate": None if learning_rate is None else float(learning_rate),
        "iteration": int(iteration),
        "env_steps": int(env_steps),
        "train_seconds": float(train_seconds),
        "seed": int(seed),
        "torch_rng": torch_rng,
        "env_state": env_state,
        "config": config_dict(env_cfg, train_cfg),
        "rollout_state": rollout_state,
    }


def rollout_state(alg: Any) -> dict[str, list[torch.Tensor] | None]:
    """The hidden states of an algorithm's recurrent models (PPO's ``actor`` and ``critic``, distillation's
    ``student`` and ``teacher``) that the next rollout continues from; None for a model that has none (an MLP, or
    before the first step). Tensors are copied."""
    out: dict[str, list[torch.Tensor] | None] = {}
    for name in ("actor", "critic", "student", "teacher"):
        model = getattr(alg, name, None)
        if model is None:
            continue
        state = model.get_hidden_state() if model is not None and hasattr(model, "get_hidden_state") else None
        if state is not None:
            state = [t.detach().clone() for t in (state if isinstance(state, tuple) else (state,))]
        out[name] = state
    twin = getattr(getattr(alg, "symmetry", None), "twin", None)  # the recurrent mirror loss's twin states
    if twin is not None and twin.state is not None:
        out["mirror_twin"] = [t.detach().clone() for t in twin.state]
    return out


def load_rollout_state(alg: Any, state: dict | None) -> None:
    """Give an algorithm's recurrent models the hidden states :func:`rollout_state` recorded (nothing for None).

    Distillation also starts its next update from them (rsl-rl's ``last_hidden_states``: the states its
    update ended with, which the next rollout continues from)."""
    twin = getattr(getattr(alg, "symmetry", None), "twin", None)
    for name, tensors in (state or {}).items():
        if name == "mirror_twin":
            if twin is not None:
                twin.state = [t.clone() for t in tensors]
            continue
        model = getattr(alg, name, None)
        if tensors is None or model is None or not getattr(model, "is_recurrent", False):
            continue
        model.reset(hidden_state=tuple(t.clone() for t in tensors) if len(tensors) > 1 else tensors[0].clone())
    if hasattr(alg, "last_hidden_states") and state:
        alg.last_hidden_states = tuple(
            getattr(alg, name).get_hidden_state() if state.get(name) is not None else None
            for name in ("student", "teacher"))


def save_checkpoint(data: dict[str, Any], path: Path) -> Path:
    """Write ``data`` to ``path`` atomically: a crash leaves the old file or the new one, never half of one."""
    return write_atomic(path, lambda f: torch.save(data, f))


# ---- reading -------------------------------------------------------------------------------------
def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read and check a checkpoint (``weights_only=True``).

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, foreign (not written by stridelab),
            of another format version, or incomplete; the message names the problem and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; pass a run directory or a model_*.pt file.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or not a stridelab checkpoint ({reason}); use another "
            f"checkpoint from the run's checkpoints/ folder or retrain."
        ) from None
    _check(data, path)
    return data


def _check(data: Any, path: Path) -> None:
    where = f"checkpoint {str(path)!r}"
    if not isinstance(data, dict) or "format_version" not in data:
        raise CheckpointError(f"{where} is not a stridelab checkpoint (it has no format_version); pass a checkpoint "
                              f"written by stridelab train.")
    if data["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{where} has format version {data['format_version']!r} but this stridelab reads "
                              f"version {FORMAT_VERSION}; retrain, or use the stridelab version that wrote it.")
    missing = [k for k in POLICY_KEYS if k not in data]
    if missing:
        raise CheckpointError(f"{where} is incomplete (no {', '.join(missing)}); use another checkpoint from the "
                              f"run's checkpoints/ folder or retrain.")
    if not isinstance(data["algorithm_state"], dict) or f"{data['policy_model']}_state_dict" not in \
            data["algorithm_state"]:
        raise CheckpointError(f"{where} holds no weights for its policy model {data['policy_model']!r}; use another "
                              f"checkpoint from the run's checkpoints/ folder or retrain.")


def check_training_state(data: dict[str, Any], path: Path) -> None:
    """Raise :class:`CheckpointError` unless ``data`` also holds what resuming training needs."""
    missing = [k for k in TRAINING_KEYS if k not in data]
    if missing:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot resume training (no {', '.join(missing)}); "
                              f"start a new run or pass a checkpoint written by stridelab train.")


def policy_state_dict(data: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The state dict of the deployable policy model (``algorithm_state[<policy_model>_state_dict]``)."""
    return data["algorithm_state"][f"{data['policy_model']}_state_dict"]


# ---- configs -------------------------------------------------------------------------------------
def config_dict(env_cfg: EnvConfig, train_cfg: TrainConfig) -> dict:
    """The configs as plain data for a checkpoint: ``{"env": {...}, "train": {...}}``."""
    return {"env": to_dict(env_cfg), "train": to_dict(train_cfg)}


def configs_of(data: dict, path: Path) -> tuple[EnvConfig, TrainConfig]:
    """The env and train configs stored in a checkpoint."""
    if "config" not in data:
        raise CheckpointError(f"checkpoint {str(path)!r} has no stored config; pass a checkpoint written by stridelab.")
    try:
        return (from_dict(EnvConfig, data["config"]["env"], "env"),
                from_dict(TrainConfig, data["config"]["train"], "train"))
    except ConfigError as err:
        raise CheckpointError(f"checkpoint {str(path)!r} was written by another stridelab version ({err})") from None


# ---- run directories -----------------------------------------------------------------------------
def checkpoint_name(iteration: int) -> str:
    """``model_000042.pt`` for iteration 42."""
    return f"model_{iteration:06d}.pt"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """The ``model_*.pt`` files of ``run_dir/checkpoints`` (or ``run_dir`` itself), newest iteration first."""
    run_dir = Path(run_dir)
    found = [(int(m.group(1)), p) for p in [*run_dir.glob("checkpoints/model_*.pt"), *run_dir.glob("model_*.pt")]
             if (m := _NAME.search(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def latest_checkpoint(run_dir: Path, valid_only: bool = True) -> Path:
    """The checkpoint with the highest iteration in ``run_dir/checkpoints`` (``run_dir`` may be the file itself).

    With ``valid_only``, a newest checkpoint that does not load (truncated by a crash, corrupt, foreign)
    is skipped with a warning naming it and why, and the newest one that loads is returned. When none
    loads, the newest one's :class:`CheckpointError` is raised.
    """
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return run_dir
    if not run_dir.exists():
        raise CheckpointError(f"run directory {str(run_dir)!r} does not exist; pass a directory made by stridelab train.")
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"no checkpoint (checkpoints/model_*.pt) in {str(run_dir)!r}; train first or pass a "
                              f"checkpoint file.")
    if not valid_only:
        return found[0]
    skipped: list[tuple[Path, CheckpointError]] = []
    for path in found:
        try:
            load_checkpoint(path)
        except CheckpointError as err:
            skipped.append((path, err))
            continue
        for bad, err in skipped:
            log.warning("skipping checkpoint %s: %s", bad.name, err)
        return path
    raise skipped[0][1]


def run_dir_of(checkpoint: Path) -> Path:
    """The run directory a checkpoint belongs to (``RUN/checkpoints/model_*.pt`` -> ``RUN``)."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
