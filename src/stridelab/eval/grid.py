"""Deterministic evaluation of a policy over the command grid in the training simulator.

Grid (see :mod:`stridelab.eval.metrics`): vx in {-1, -0.5, 0, 0.5, 1} m/s x vy in {-0.5, 0, 0.5} m/s x
yaw rate in {-1, 0, 1} rad/s (45 commands; on an obstacle course, a one-way track, standing and forward
at 0.5 and 1 m/s), each held for ``duration_s`` from a standing start, ``envs_per_command`` envs each. Errors are
averaged over the time after ``settle_s`` (the robot needs a moment to accelerate) and over envs until
they fall; an env that terminates before the end counts as a fall.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from stridelab.config import EnvConfig, override
from stridelab.eval.gait import GaitMetrics
from stridelab.eval.metrics import GridMetrics, WalkCriteria, command_grid, command_ranges
from stridelab.mdp.curriculum import without_schedules
from stridelab.sim.math import quat_rotate_inverse, yaw_of


#: the tracking grid of an obstacle course, a one-way track: standing and forward, within its command range
COURSE_GRID = ((0.0, 0.0, 0.0), (0.5, 0.0, 0.0), (1.0, 0.0, 0.0))


def default_commands(env_cfg: EnvConfig) -> np.ndarray:
    """The evaluation commands of a task: :func:`command_grid` over its command ranges, or :data:`COURSE_GRID` on
    a course. Shape: (k, 3)."""
    if env_cfg.terrain is not None and env_cfg.terrain.course:
        return np.array(COURSE_GRID, dtype=np.float64)
    return command_grid(command_ranges(env_cfg))


def at_course_figures(env_cfg: EnvConfig) -> EnvConfig:
    """A course task on its last level only (ETG-RL's figures, :func:`~stridelab.sim.terrain.courses.final_level`)
    without its ``course_levels`` curriculum: what every evaluation of a course runs on. Other tasks as they are."""
    from stridelab.mdp.curriculum import course_levels
    from stridelab.mdp.lookup import resolve
    from stridelab.sim.terrain.courses import final_level

    tcfg = env_cfg.terrain
    if tcfg is None or not tcfg.course:
        return env_cfg
    kept = {k: c for k, c in env_cfg.curriculum.items() if resolve(c.func, "curriculum") is not course_levels}
    return replace(env_cfg, terrain=final_level(tcfg), curriculum=kept)


def eval_env_cfg(env_cfg: EnvConfig, num_envs: int, duration_s: float, seed: int) -> EnvConfig:
    """The training task with commands held, interval events (pushes) that never fire within the run, an
    episode longer than the run, and the randomizations at the config's full ranges (a ``randomization_strength``
    ramp is a training schedule: an evaluation env starts at step 0, where the ramp would hold the nominal robot).

    The interval events stay in the task, only their timers are set beyond the run: removing them would drop
    their values from the ``privileged`` group (e.g. the last push) and change the input of a policy that reads
    it."""
    never = (duration_s + 1e6, duration_s + 1e6)
    env_cfg = at_course_figures(env_cfg)
    calm = replace(env_cfg, events={name: replace(e, interval_s=never) if e.mode == "interval" else e
                                    for name, e in env_cfg.events.items()})
    commands = {name: {"params": {"resample_s": duration_s + 1.0}} for name, c in env_cfg.commands.items()
                if "resample_s" in c.params}
    calm = without_schedules(calm)
    return override(calm, num_envs=num_envs, seed=seed, episode_length_s=duration_s + 1.0, commands=commands)


def evaluate(policy: Callable, env_cfg: EnvConfig, envs_per_command: int = 4, duration_s: float = 10.0,
             settle_s: float = 1.0, seed: int = 0, criteria: WalkCriteria = WalkCriteria(),
             commands: np.ndarray | None = None, env_factory: Callable | None = None) -> dict:
    """Run the grid with a deterministic policy; return metrics, per-command rows and the verdict.

    Args:
        policy: maps the observation TensorDict to actions (n, num_actions); called under inference mode.
        env_factory: builds the env from a config (defaults to the registry's env class of the task).
    Returns:
        dict with lin_vel_error [m/s], yaw_rate_error [rad/s], fall_rate, power [W], foot_slip [m/s],
        walks (bool), criteria, rows (per command), units and the settings used.
    """
    from stridelab.envs import make_env
    grid = default_commands(env_cfg) if commands is None else np.asarray(commands, dtype=np.float64)
    metrics = GridMetrics(grid, envs_per_command)
    n = len(metrics.commands)
    env = (env_factory or make_env)(eval_env_cfg(env_cfg, n, duration_s, seed))
    env.set_commands(metrics.commands)
    obs = env.reset_all()
    if hasattr(policy, "reset"):
        policy.reset()
    steps = int(round(duration_s / env.dt))
    settle_s = min(settle_s, 0.5 * duration_s)  # a short evaluation still measures its second half
    settle = int(round(settle_s / env.dt))
    ids = np.arange(n)
    gait = GaitMetrics(n, env.robot.num_feet, env.dt)
    zero = ~metrics.commands.any(axis=1)
    s0 = env.state
    nf = env.robot.num_feet
    front = quat_rotate_inverse(np.repeat(s0.base_quat[:1], nf, axis=0), s0.foot_pos[0] - s0.base_pos[0])[:, 0] > 0.0
    with torch.inference_mode():
        for t in range(steps):
            obs, _, dones, extras = env.step(policy(obs))
            if hasattr(policy, "reset"):  # a recurrent policy forgets the episode of an env that restarts
                policy.reset(dones)
            s = env.last_state  # the state before any reset of this step
            fell = dones.numpy() & ~extras["time_outs"].numpy()
            metrics.add(ids, fell, t >= settle, s.base_lin_vel, s.base_ang_vel, s.torques, s.joint_vel,
                        s.foot_contact, s.foot_vel)
            gait.add(metrics.alive & (t >= settle), s.foot_contact, s.foot_vel, zero, s.foot_pos,
                     yaw_of(s.base_quat), env.robot.spec.feet_mirror_perm)
    result = metrics.result(criteria)
    spec = env.robot.spec
    moving = np.linalg.norm(metrics.commands[:, :2], axis=1) > 0
    forward = np.all(metrics.commands == [1.0, 0.0, 0.0], axis=1)
    result["gait"] = gait.result(moving, forward, spec.feet, spec.feet_mirror_perm, front)
    result["settings"] = {"envs_per_command": envs_per_command, "duration_s": duration_s, "settle_s": settle_s,
                          "seed": seed, "num_commands": len(grid), "task": env_cfg.task}
    return result
