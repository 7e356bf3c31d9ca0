"""Does a cave policy crouch only where the ceiling is low? Base height above the ground outside and under the cave.

    python benchmarks/course_crouch.py runs/courses2/quadruped-cave/RUN --trials 32 \
        --out benchmarks/results/course_crouch.json

Runs the policy on the course's last level (ETG-RL's 18 cm ceiling; ``eval.grid.at_course_figures``) with the
terrain evaluation's setup (forward at ``--speed``, steered along the lane, seeded spawns, every randomization of
training), ``--trials`` envs for the time the evaluation allows, and bins every control step of every env that has
not fallen by where its base is: before the cave (the run-up), under the ceiling, after it. Per bin: the mean and
5th-95th percentile of the base's height above the ground under it, and the mean clearance between the ceiling and
the base. A policy that sees the ceiling walks tall before the cave and low under it; one that crouches everywhere
has the same height in both bins.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from stridelab.envs import make_env
from stridelab.eval.grid import at_course_figures
from stridelab.eval.terrain import terrain_eval_cfg
from stridelab.learn.policy import load_policy
from stridelab.mdp.terrain import tiles_of
from stridelab.sim.terrain.courses import course_plan
from stridelab.files import write_atomic

log = logging.getLogger("course_crouch")


def crouch_profile(run: Path, trials: int, speed: float, seed: int) -> dict:
    """Base height above the ground per bin (before / under / after the ceiling) of ``run``'s policy on its cave."""
    loaded = load_policy(run)
    env_cfg = at_course_figures(loaded.env_cfg)
    env = None
    try:
        course = course_plan(env_cfg.terrain)
        cave = [s for s in course.segments if s.kind == "cave"]
        if not cave:
            raise SystemExit(f"{run} was not trained on the cave course (course {course.name!r}).")
        x0, x1 = cave[0].x0, cave[0].x1
        duration = course.distance / (0.5 * speed)
        env = make_env(terrain_eval_cfg(env_cfg, trials, speed, duration, seed))
        tiles = tiles_of(env, "course_crouch")
        tiles.rows[:] = 0
        tiles.cols[:] = np.arange(trials) % env_cfg.terrain.num_cols
        obs = env.reset_all()
        terrain = env.robot.terrain
        alive = np.ones(trials, dtype=bool)  # trials not yet ended
        bins: dict[str, list[np.ndarray]] = {"before": [], "under": [], "after": []}
        clearance: list[np.ndarray] = []
        start = time.perf_counter()
        steps = int(round(duration / env.dt))
        with torch.inference_mode():
            for _ in range(steps):
                obs, _, dones, _ = env.step(loaded.policy(obs))
                pos = env.last_state.base_pos
                done = dones.numpy()
                ok = alive & ~done  # each env until its trial ends (a fall or the finish line), that step excluded
                ground = terrain.height_at(pos[:, 0], pos[:, 1])
                height = pos[:, 2] - ground
                where = np.where(pos[:, 0] < x0, "before", np.where(pos[:, 0] < x1, "under", "after"))
                for name in bins:
                    bins[name].append(height[ok & (where == name)])
                under = ok & (where == "under")
                clearance.append(terrain.ceiling_at(pos[under, 0], pos[under, 1]) - pos[under, 2])
                alive &= ~done
        seconds = time.perf_counter() - start
    finally:
        if env is not None:
            env.close()
    out = {"run": str(run), "trials": trials, "speed_m_s": speed, "cave_x_m": [x0, x1],
           "ceiling_above_ground_m": cave[0].clearance, "rollout_s": seconds, "control_steps": steps}
    for name, parts in bins.items():
        h = np.concatenate(parts) if parts else np.zeros(0)
        out[name] = ({"samples": int(h.size), "mean_m": float(h.mean()), "p05_m": float(np.percentile(h, 5)),
                      "p95_m": float(np.percentile(h, 95))} if h.size else {"samples": 0})
    c = np.concatenate(clearance) if clearance else np.zeros(0)
    out["ceiling_minus_base_under_m"] = float(c.mean()) if c.size else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--speed", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = crouch_profile(args.run, args.trials, args.speed, args.seed)
    for name in ("before", "under", "after"):
        b = result[name]
        if b["samples"]:
            log.info("%-6s the cave: base %.3f m above the ground (5-95 %%: %.3f-%.3f), %d samples", name,
                     b["mean_m"], b["p05_m"], b["p95_m"], b["samples"])
        else:
            log.info("%-6s the cave: no samples", name)
    log.info("under the ceiling (%.2f m above the ground): ceiling - base = %s m", result["ceiling_above_ground_m"],
             result["ceiling_minus_base_under_m"])
    if args.out:
        write_atomic(args.out, lambda f: f.write(json.dumps(result, indent=1).encode()))


if __name__ == "__main__":
    main()
