"""Run directories: ``<log_dir>/<task>/<timestamp>/`` made atomically, and removed again if nothing was written."""

from __future__ import annotations

import time
from pathlib import Path

from stridelab.errors import StridelabError


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


def existing_ancestor(path: Path) -> Path:
    """The nearest existing directory at or above ``path`` (absolute)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def remove_empty(path: Path, keep: Path) -> None:
    """Remove ``path`` and its parents up to (not including) ``keep``, as long as they are empty."""
    for d in [path, *path.parents]:
        if d == keep or keep not in d.parents:
            return
        try:
            d.rmdir()
        except OSError:
            return
