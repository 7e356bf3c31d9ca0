"""How long an env takes to build, against MuJoCo compiling the same model.

    python benchmarks/env_build.py --out benchmarks/results/env_build.json

After one untimed build (imports), for each task ``--repeats`` builds of a 4-env, 1-thread env
(``stridelab.make``): the first (terrain generated, model compiled) and the best of the rest (the terrain comes from ``build_terrain``'s cache of recent configs: an
evaluation, a test suite or an ES population builds several envs on one terrain). The physical limit is
``MjSpec.compile`` of the env's own model (robot, terrain heightfield and boxes), timed the same way: the ratio
says how much of a build is our Python around MuJoCo. Run it on a quiet machine (``top`` idle).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import mujoco

import stridelab
from stridelab.files import write_atomic
from stridelab.robots.loader import add_terrain, build_mjspec
from stridelab.robots.registry import get_robot
from stridelab.sim.terrain import build_terrain
from stridelab.tasks import make_env_cfg

log = logging.getLogger("env_build")


def _best(fn, repeats: int) -> tuple[float, float]:
    """(first call's seconds, best of the other ``repeats - 1``)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times[0], min(times[1:])


def measure(task: str, repeats: int) -> dict:
    cfg = make_env_cfg(task, num_envs=4, num_threads=1)
    spec = get_robot(cfg.robot)

    def compile_only() -> None:
        mjspec = build_mjspec(spec)[0]
        if cfg.terrain is not None:
            add_terrain(mjspec, spec, build_terrain(cfg.terrain))
        mjspec.compile()

    first, best = _best(lambda: stridelab.make(task, num_envs=4, num_threads=1).close(), repeats)
    _, limit = _best(compile_only, repeats)
    return {"task": task, "first_s": round(first, 4), "again_s": round(best, 4), "compile_s": round(limit, 4),
            "ratio_again_to_compile": round(best / limit, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["quadruped-flat", "quadruped-rough", "quadruped-cave",
                                                        "biped-flat"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("stridelab").setLevel(logging.WARNING)
    stridelab.make("quadruped-flat", num_envs=4, num_threads=1).close()  # imports and first-use costs, not timed
    rows = [measure(task, args.repeats) for task in args.tasks]
    for r in rows:
        log.info("%-18s first %.3f s, again %.3f s; MuJoCo compile %.3f s (ratio %.2f)", r["task"], r["first_s"],
                 r["again_s"], r["compile_s"], r["ratio_again_to_compile"])
    result = {"machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
              "mujoco": mujoco.__version__, "rows": rows}
    if args.out:
        write_atomic(args.out, lambda f: f.write(json.dumps(result, indent=2)), binary=False)


if __name__ == "__main__":
    main()
