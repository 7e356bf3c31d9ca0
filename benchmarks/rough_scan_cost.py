"""Where quadruped-rough's env step goes: the env as configured against variants with the height scan read
from the terrain's heights instead of rays, with Miki et al.'s rings around each foot added to the scan (52
points per foot, looked up or cast), and without action latency (env side only, best of 3 rounds).

    python benchmarks/rough_scan_cost.py [as_configured] [rays] [lookup] [foot_rings] [foot_rings_rays] [no_latency]
"""

from __future__ import annotations

import logging
import sys
import time

import numpy as np
import torch

from stridelab.envs import make_env

from stridelab.tasks import make_env_cfg
log = logging.getLogger("rough_scan_cost")

VARIANTS = {
    "as_configured": {},
    "rays": {"observations": {"extero": {"terms": {"height_scan": {"params": {"method": "ray"}}}}}},
    "lookup": {"observations": {"extero": {"terms": {"height_scan": {"params": {"method": "lookup"}}}}}},
    "no_latency": {"events": {"latency": {"params": {"delay_s": (0.0, 0.0)}}}},
}
# Miki et al. 2022's foot scan: circles of 0.08-0.48 m with 6-16 points, 52 per foot (208 for four feet)
RINGS = {"foot_radii": (0.08, 0.16, 0.26, 0.36, 0.48), "foot_points": (6, 8, 10, 12, 16)}
VARIANTS["foot_rings"] = {"observations": {"extero": {"terms": {"height_scan": {"params": {**RINGS}}}}}}
VARIANTS["foot_rings_rays"] = {"observations": {"extero": {"terms": {"height_scan": {"params": {
    **RINGS, "method": "ray"}}}}}}


def env_rate(overrides: dict, num_envs: int = 1024, steps: int = 40, rounds: int = 3) -> float:
    """Best env control steps per second (summed over envs) of random actions."""
    env = make_env(make_env_cfg("quadruped-rough", num_envs=num_envs, num_threads=2, seed=0, **overrides))
    rng = np.random.default_rng(0)
    actions = torch.from_numpy(rng.uniform(-1, 1, size=(num_envs, env.num_actions)).astype(np.float32))
    for _ in range(5):
        env.step(actions)
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            env.step(actions)
        best = max(best, num_envs * steps / (time.perf_counter() - start))
    return best


def main(names: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(2)
    for name in names or list(VARIANTS):
        log.info("%s: %.0f env steps/s", name, env_rate(VARIANTS[name]))


if __name__ == "__main__":
    main(sys.argv[1:])
