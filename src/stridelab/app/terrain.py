"""``stridelab terrain --preview PNG [--task TASK]``: a picture of what a task trains on."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import tyro

from stridelab.app.options import check
from stridelab.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Args:
    """Draw a task's terrain to a PNG: a grid top-down (types, levels, key figures, spawn origins), or a
    course's side elevation (key figures, spawn, finish line) over its lanes seen from above.

    Attributes:
        preview: the PNG to write.
        task: registered task with terrain (see `stridelab list`).
        dpi: resolution of the picture.
    """

    preview: Annotated[str, tyro.conf.arg(metavar="PNG")] = "terrain.png"
    task: str = "quadruped-rough"
    dpi: int = 100

    def __post_init__(self) -> None:
        check(10 <= self.dpi <= 1000, f"--dpi {self.dpi} is out of range; use 10 to 1000.")


def run(args: Args) -> int:
    """Write the task's terrain picture (a grid or a course) and say what it shows."""
    from stridelab.sim.terrain import build_terrain, preview
    from stridelab.tasks import make_env_cfg

    cfg = make_env_cfg(args.task)
    if cfg.terrain is None:
        raise ConfigError(f"task {args.task!r} has the flat floor and no terrain; give a task with terrain, such as "
                          f"--task quadruped-rough.")
    out = Path(args.preview)
    if out.is_dir():
        raise ConfigError(f"--preview {out} is a directory; give the path of a PNG file, e.g. {out / 'terrain.png'}.")
    terrain = build_terrain(cfg.terrain)
    path = preview(terrain, out, dpi=args.dpi)
    c = cfg.terrain
    course = getattr(terrain, "course", None)
    if course is not None:
        levels = f" (its last level); {c.num_rows} levels of" if c.num_rows > 1 else ";"
        print(f"wrote {path}: course {course.summary()}{levels} {c.num_cols} lanes of {c.tile_size:g} m")
        return 0
    print(f"wrote {path}: {c.num_rows} levels x {c.num_cols} columns of {c.tile_size:g} m tiles "
          f"({', '.join(dict.fromkeys(terrain.column_types))})")
    return 0
