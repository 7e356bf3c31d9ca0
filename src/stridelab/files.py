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
