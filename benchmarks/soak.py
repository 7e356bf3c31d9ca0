"""Random-action soak of quadruped-rough with every domain randomization on: does anything crash or go unstable?

    python benchmarks/soak.py                      # 1M env steps (256 envs x 3907 steps), all threads
    python benchmarks/soak.py --env-steps 20000 --num-envs 64 --out /tmp/soak.json

Actions are uniform in [-action_range, action_range] (policy units: 0.25 rad each at the default scale), a new
draw every control step, and episodes last ``episode_length_s`` (5 s instead of the task's 20 s), so the robots
fall, get pushed, stumble on stairs and reset often, each time with freshly sampled friction, masses, inertias,
gains, joint dynamics, gravity tilt and action latency, at their full ranges from the first step. Reported: env steps,
wall time, env steps per second (on a busy machine: a lower bound), episodes ended, the unstable simulations the
env reset (``env.unstable_total``) and whether every observation stayed finite. The JSON goes to
``benchmarks/results/soak.json``. It raises (non-zero exit) on a non-finite observation or reward.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from stridelab.envs.throughput import machine_description
from stridelab.config import to_dict
from stridelab.mdp.curriculum import without_schedules
from stridelab.envs import make_env
from stridelab.tasks import make_env_cfg
from stridelab.files import write_atomic
log = logging.getLogger("soak")


def soak(task: str, env_steps: int, num_envs: int, num_threads: int, seed: int, action_range: float,
         episode_length_s: float, log_every_s: float = 30.0) -> dict:
    """Run ``env_steps`` env steps (rounded up to whole control steps of all envs); return the report."""
    # the full ranges from the first step: quadruped-rough's ramp would start from the nominal robot
    cfg = make_env_cfg(task, num_envs=num_envs, num_threads=num_threads, seed=seed, episode_length_s=episode_length_s)
    env = make_env(without_schedules(cfg))
    rng = np.random.default_rng(seed)
    steps = math.ceil(env_steps / num_envs)
    episodes = 0
    start = last_log = time.perf_counter()
    for i in range(steps):
        actions = torch.from_numpy(rng.uniform(-action_range, action_range, (num_envs, env.num_actions))
                                   .astype(np.float32))
        obs, reward, dones, _ = env.step(actions)
        episodes += int(dones.sum())
        if not (torch.isfinite(reward).all() and all(torch.isfinite(v).all() for v in obs.values())):
            raise FloatingPointError(f"non-finite observation or reward at control step {i}; the soak found a bug.")
        now = time.perf_counter()
        if now - last_log > log_every_s:
            last_log = now
            log.info("%d / %d env steps, %.0f steps/s, %d unstable resets so far", (i + 1) * num_envs,
                     steps * num_envs, (i + 1) * num_envs / (now - start), env.unstable_total)
    wall = time.perf_counter() - start
    events = {name: dict(cfg.params) for name, (cfg, _) in env.events.terms.items()}
    return {
        "task": task, "num_envs": num_envs, "num_threads": num_threads, "seed": seed, "action_range": action_range,
        "episode_length_s": episode_length_s,
        "control_steps": steps, "env_steps": steps * num_envs, "wall_s": round(wall, 2),
        "env_steps_per_s": round(steps * num_envs / wall, 1), "episodes_ended": episodes,
        "unstable_total": int(env.unstable_total), "all_finite": True,  # a non-finite value raises above
        "privileged_size": int(env.get_observations()["privileged"].shape[1]),
        "randomization": to_dict(events), "machine": machine_description(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="quadruped-rough")
    p.add_argument("--env-steps", type=int, default=1_000_000)
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--threads", type=int, default=0, help="physics threads (0: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--action-range", type=float, default=2.0, help="actions uniform in [-x, x] (policy units)")
    p.add_argument("--episode-length-s", type=float, default=5.0, help="episode time limit [s]: resets resample")
    p.add_argument("--out", default="benchmarks/results/soak.json")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report = soak(args.task, args.env_steps, args.num_envs, args.threads, args.seed, args.action_range,
                  args.episode_length_s)
    out = Path(args.out)
    write_atomic(out, lambda f: f.write(json.dumps(report, indent=2) + "\n"), binary=False)
    log.info("%d env steps in %.1f s (%.0f steps/s): %d episodes ended, %d unstable simulations reset, all finite: %s"
             " -> %s", report["env_steps"], report["wall_s"], report["env_steps_per_s"], report["episodes_ended"],
             report["unstable_total"], report["all_finite"], out)


if __name__ == "__main__":
    main()
