"""Checkpoints: written atomically (temporary file + rename), read with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors and plain Python values: the actor, critic and optimizer state, the
adaptive learning rate, the completed iteration count, the torch and numpy RNG states and the env's
full state, so that training resumes exactly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from stridelab.errors import CheckpointError

FORMAT_VERSION = 1
_NAME = re.compile(r"model_(\d+)\.pt$")


def save_checkpoint(data: dict[str, Any], path: Path) -> Path:
    """Write ``data`` to ``path`` atomically: a crash leaves the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format_version": FORMAT_VERSION, **data}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; a missing or corrupt file raises :class:`CheckpointError`."""
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
    if not isinstance(data, dict) or "actor_state_dict" not in data:
        raise CheckpointError(f"checkpoint {str(path)!r} holds no policy; pass a checkpoint written by stridelab train.")
    return data


def latest_checkpoint(run_dir: Path) -> Path:
    """The checkpoint with the highest iteration in ``run_dir/checkpoints`` (or ``run_dir`` itself)."""
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return run_dir
    if not run_dir.exists():
        raise CheckpointError(f"run directory {str(run_dir)!r} does not exist; pass a directory made by stridelab train.")
    found = [(int(m.group(1)), p) for p in list(run_dir.glob("checkpoints/model_*.pt")) + list(run_dir.glob("model_*.pt"))
             if (m := _NAME.search(p.name))]
    if not found:
        raise CheckpointError(f"no checkpoint (checkpoints/model_*.pt) in {str(run_dir)!r}; train first or pass a "
                              f"checkpoint file.")
    return max(found)[1]


def run_dir_of(checkpoint: Path) -> Path:
    """The run directory a checkpoint belongs to (``RUN/checkpoints/model_*.pt`` -> ``RUN``)."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def checkpoint_name(iteration: int) -> str:
    return f"model_{iteration:06d}.pt"
