"""What a trained policy does when a walk is commanded to stop: contacts, speed and terminations over time.

    python benchmarks/biped_stop.py RUN [--envs 16] [--speed 0.5] [--walk-s 10] [--stop-s 2]

Walks ``--envs`` envs of the run's evaluation env at ``--speed`` m/s for ``--walk-s`` s, then commands zero for
``--stop-s`` s. Logs every 0.2 s after the stop the mean forward speed [m/s], base height [m] and each foot's
contact share, and each failure termination (its term, the time after the stop, the base height and forward
speed). The diagnosis of issue 37's stop falls (docs/benchmarks.md section 14). A rollout, not a timing: run it
alone or not, the figures are the same.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import torch

from stridelab.envs import make_env
from stridelab.eval.grid import eval_env_cfg
from stridelab.learn.policy import load_policy

log = logging.getLogger("biped_stop")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--envs", type=int, default=16)
    p.add_argument("--speed", type=float, default=0.5)
    p.add_argument("--walk-s", type=float, default=10.0)
    p.add_argument("--stop-s", type=float, default=2.0)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    loaded = load_policy(args.run)
    env = make_env(eval_env_cfg(loaded.env_cfg, args.envs, args.walk_s + args.stop_s + 1.0, 0))
    obs = env.reset_all()
    falls = 0
    phases = (((args.speed, 0.0, 0.0), args.walk_s, False), ((0.0, 0.0, 0.0), args.stop_s, True))
    for command, seconds, stopping in phases:
        env.set_commands(np.array(command, dtype=np.float64))
        for k in range(int(round(seconds / env.dt))):
            with torch.inference_mode():
                obs, _, dones, extras = env.step(loaded.policy(obs))
            ended = dones.numpy() & ~extras["time_outs"].numpy()
            s = env.last_state
            if stopping and ended.any():
                falls += int(ended.sum())
                terms = [n for i, n in enumerate(env.terminations.names) if env.terminations.flags[i][ended].any()]
                log.info("after the stop %.2f s: %d ended by %s, base z %s m, forward %s m/s", k * env.dt,
                         ended.sum(), terms, np.round(s.base_pos[ended, 2], 3), np.round(s.base_lin_vel[ended, 0], 2))
            if stopping and k % max(1, round(0.2 / env.dt)) == 0:
                log.info("after the stop %.2f s: forward %.2f m/s, base z %.3f m, contact share per foot %s",
                         k * env.dt, s.base_lin_vel[:, 0].mean(), s.base_pos[:, 2].mean(),
                         np.round(s.foot_contact.mean(0), 2))
    log.info("%d of %d envs fell within %.1f s of the stop", falls, args.envs, args.stop_s)


if __name__ == "__main__":
    main()
