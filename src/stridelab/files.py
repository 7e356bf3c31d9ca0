"""Atomic file writes: a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to (by a library that wants a file name: ffmpeg, ONNX, MuJoCo);
    on leaving the block it is fsynced and renamed over ``path``. If the block raises, it is removed and
    ``path`` is left as it was.

        with atomic_path(out / "video.mp4") as tmp:
            write_video(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the suffix: some writers choose the format by it (``.mp4``, ``.png``)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_atomic(path: Path | str, write: Callable[[IO[Any]], None], binary: bool = True) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path`` (:func:`atomic_path`).

    The temporary file is removed if ``write`` fails.
    """
    with atomic_path(path) as tmp, open(tmp, "wb" if binary else "w") as f:
        write(f)
        f.flush()
    return Path(path)


def read_npz_with_meta(path: Path | str) -> tuple[dict, dict]:
    """The arrays of an ``.npz`` file and its ``meta`` entry (a JSON string), as written by the robot-log and
    dataset writers. Returns ``(arrays without meta, meta)``.

    Raises:
        ValueError: the file is truncated, not an npz, or has no JSON ``meta`` (the message names the exception's
            type, for the caller's one-sentence error).
    """
    import json

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except Exception as exc:  # numpy raises many types for truncated or foreign files
        raise ValueError(type(exc).__name__) from None
    return arrays, meta
