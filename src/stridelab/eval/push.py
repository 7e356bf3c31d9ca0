"""Push recovery: does a walking policy stay up after a sudden sideways shove?

Each of ``trials`` envs walks forward at ``speed`` m/s (on a terrain task, on the level-0 tiles of its ``flat``
column, else of its first column). At ``push_at_s`` every base gets one horizontal velocity change of exactly
``push_velocity`` m/s: the change legged_gym's and Isaac Lab's ``push_by_setting_velocity`` makes in training
(there a random draw of up to that much per axis), here with a fixed size, in directions spread evenly around
each robot's heading (trial ``i`` is pushed at ``2 pi i / trials`` rad from its forward axis, counter-clockwise:
0 from behind, pi/2 from its right side). A trial succeeds when the robot has not fallen (a failure
termination: body contact, tilt, an unstable simulation) from its start until ``recover_s`` after the push; a
robot that falls before its push fails as well and is counted apart (``fell_before_push``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from stridelab.config import EnvConfig
from stridelab.errors import ConfigError
from stridelab.sim.math import yaw_of

log = logging.getLogger(__name__)

#: the sectors ``by_direction`` reports, named after where the push sends the robot
SECTORS = ("forward", "left", "backward", "right")


def push_directions(trials: int) -> np.ndarray:
    """Push angle of each trial relative to the robot's heading [rad], evenly spread. Shape: (trials,)."""
    return 2.0 * np.pi * np.arange(trials) / trials


def evaluate_pushes(policy: Callable, env_cfg: EnvConfig, trials: int = 64, push_velocity: float = 0.5,
                    speed: float = 0.5, push_at_s: float = 3.0, recover_s: float = 5.0, seed: int = 0,
                    env_factory: Callable | None = None) -> dict:
    """Push every walking robot once; return the share that stays up (see the module docstring).

    Args:
        policy: maps the observation TensorDict to actions; called under inference mode.
        trials: envs, one push each; push_velocity: size of the base velocity change [m/s].
        speed: forward command [m/s]; push_at_s: time of the push after the start [s];
        recover_s: time after the push the robot must stay up [s].
    Returns:
        dict with success_rate, fell_before_push and fell_after_push (shares of the trials), by_direction
        (success rate per sector of :data:`SECTORS`, quarter circles centred on each), the measured velocity
        change (``applied_dv``, mean size [m/s]) and the settings.
    """
    from stridelab.eval.terrain import terrain_eval_cfg
    from stridelab.mdp.terrain import tiles_of
    from stridelab.envs import make_env
    if trials < 1 or push_velocity < 0 or speed < 0 or push_at_s <= 0 or recover_s <= 0:
        raise ConfigError(f"push evaluation trials = {trials}, push velocity = {push_velocity} m/s, speed = {speed} "
                          f"m/s, push at {push_at_s} s, recovery {recover_s} s: give at least one trial, sizes >= 0 "
                          f"and times > 0.")
    duration = push_at_s + recover_s
    env = (env_factory or make_env)(terrain_eval_cfg(env_cfg, trials, speed, duration, seed))
    tcfg = env_cfg.terrain
    if tcfg is not None and not tcfg.course:
        types = list(tcfg.column_types())
        tiles = tiles_of(env, "push evaluation")
        tiles.rows[:] = 0
        tiles.cols[:] = types.index("flat") if "flat" in types else 0
    obs = env.reset_all()
    if hasattr(policy, "reset"):
        policy.reset()
    angles = push_directions(trials)
    push_step = int(round(push_at_s / env.dt))
    d = env.robot.base_dof_adr
    up = np.ones(trials, dtype=bool)
    fell_before = np.zeros(trials, dtype=bool)
    applied = np.zeros(trials)
    with torch.inference_mode():
        for t in range(int(round(duration / env.dt))):
            if t == push_step:
                heading = yaw_of(env.state.base_quat) + angles
                dv = push_velocity * np.stack([np.cos(heading), np.sin(heading)], axis=1)
                before = env.sim.qvel[:, d:d + 2].copy()
                env.sim.qvel[:, d:d + 2] += dv
                applied = np.linalg.norm(env.sim.qvel[:, d:d + 2] - before, axis=1)
            obs, _, dones, extras = env.step(policy(obs))
            if hasattr(policy, "reset"):
                policy.reset(dones)
            failed = (dones & ~extras["time_outs"]).numpy().astype(bool) & up
            if t < push_step:
                fell_before |= failed
            up &= ~failed
            if not up.any():
                break
    # sector k is centred on k * pi / 2 from the heading: forward (pushed from behind), left, backward, right
    sector = np.round(angles / (np.pi / 2)).astype(int) % 4
    by_direction = {name: float(up[sector == k].mean()) for k, name in enumerate(SECTORS) if (sector == k).any()}
    result = {
        "success_rate": float(up.mean()), "fell_before_push": float(fell_before.mean()),
        "fell_after_push": float((~up & ~fell_before).mean()), "by_direction": by_direction,
        "applied_dv": float(applied.mean()), "trials": trials, "push_velocity": push_velocity, "speed": speed,
        "push_at_s": push_at_s, "recover_s": recover_s, "seed": seed, "task": env_cfg.task,
    }
    log.info("push evaluation of %s: %d of %d robots stay up after a %.2f m/s push (%d fell before it)",
             env_cfg.task, int(up.sum()), trials, push_velocity, int(fell_before.sum()))
    return result
