"""Recorded rollouts of a policy for plots and video (``stridelab play``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from stridelab.config import EnvConfig

# (duration [s], vx [m/s], vy [m/s], yaw rate [rad/s]): a tour of the command space
DEFAULT_SCHEDULE = ((2.0, 0.0, 0.0, 0.0), (3.0, 1.0, 0.0, 0.0), (3.0, 0.5, 0.0, 1.0), (2.5, 0.0, 0.5, 0.0),
                    (2.5, -0.7, 0.0, 0.0), (2.0, 0.0, 0.0, -1.0))


@dataclass
class Trajectory:
    """Time series of env 0. Shapes: (T,) for time, (T, j) joints, (T, f) feet, (T, 3) velocities."""

    time: np.ndarray
    joint_names: tuple[str, ...]
    joint_pos: np.ndarray
    joint_target: np.ndarray
    torques: np.ndarray
    foot_contact: np.ndarray
    base_lin_vel: np.ndarray
    base_ang_vel: np.ndarray
    commands: np.ndarray
    feet: tuple[str, ...]
    falls: int
    base_height: np.ndarray | None = None  # [m] (T,)
    foot_height: np.ndarray | None = None  # world z of each foot [m] (T, f)
    foot_force: np.ndarray | None = None  # ground reaction force on each foot, world frame [N] (T, f, 3)
    raw_actions: np.ndarray | None = None  # the policy's output before clipping and scaling (T, j)
    body_weight: float | None = None  # the robot's whole mass x g [N]


def fit_schedule(schedule, ranges: dict | None):
    """``schedule`` with each command clipped into the task's command ``ranges`` (a forward-only biped
    stands where the quadruped's tour walks backwards)."""
    if not ranges:
        return tuple(schedule)
    lo = np.array([ranges[k][0] for k in ("lin_vel_x", "lin_vel_y", "ang_vel_yaw")])
    hi = np.array([ranges[k][1] for k in ("lin_vel_x", "lin_vel_y", "ang_vel_yaw")])
    return tuple((d, *np.clip(np.asarray(c, dtype=np.float64), lo, hi).tolist()) for d, *c in schedule)


def record(policy: Callable, env_cfg: EnvConfig, schedule=DEFAULT_SCHEDULE, num_envs: int = 1, seed: int = 0,
           video=None, video_fps: int = 25) -> Trajectory:
    """Run ``policy`` through ``schedule`` and record env 0 (and video frames if ``video`` is given)."""
    from stridelab.eval.grid import eval_env_cfg
    from stridelab.envs import make_env
    total = sum(s[0] for s in schedule)
    env = make_env(eval_env_cfg(env_cfg, num_envs, total, seed))
    if video is not None:
        video = video(env)
    video_every = max(1, round(1.0 / (video_fps * env.dt)))
    if env.commands.velocity is not None:
        schedule = fit_schedule(schedule, env.commands.velocity.ranges())
    env.set_commands(np.array(schedule[0][1:]))
    obs = env.reset_all()
    if hasattr(policy, "reset"):
        policy.reset()
    rec: dict[str, list] = {k: [] for k in ("time", "q", "target", "tau", "contact", "v", "w", "cmd", "h", "fh",
                                            "grf", "raw")}
    falls, t = 0, 0
    with torch.inference_mode():
        for duration, *cmd in schedule:
            env.set_commands(np.array(cmd, dtype=np.float64))
            for _ in range(int(round(duration / env.dt))):
                actions = policy(obs)
                obs, _, dones, extras = env.step(actions)
                if hasattr(policy, "reset"):  # a recurrent policy forgets the episode of an env that restarts
                    policy.reset(dones)
                s = env.last_state
                falls += int((dones.numpy() & ~extras["time_outs"].numpy())[0])
                rec["time"].append(t * env.dt)
                rec["q"].append(s.joint_pos[0])
                rec["target"].append(env.action_term.targets(s.actions[:1])[0])
                rec["tau"].append(s.torques[0])
                rec["contact"].append(s.foot_contact[0])
                rec["v"].append(s.base_lin_vel[0])
                rec["w"].append(s.base_ang_vel[0])
                rec["cmd"].append(s.commands[0].copy())
                rec["h"].append(s.base_pos[0, 2])
                rec["fh"].append(s.foot_pos[0, :, 2])
                rec["grf"].append(s.foot_force[0])
                rec["raw"].append(np.asarray(actions[0].detach().cpu() if isinstance(actions, torch.Tensor)
                                             else actions[0], dtype=np.float64))
                if video is not None and t % video_every == 0:
                    video.capture()
                t += 1
    spec = env.robot.spec
    traj = Trajectory(np.array(rec["time"]), spec.joint_names, np.array(rec["q"]), np.array(rec["target"]),
                      np.array(rec["tau"]), np.array(rec["contact"]), np.array(rec["v"]), np.array(rec["w"]),
                      np.array(rec["cmd"]), spec.feet, falls, np.array(rec["h"]), np.array(rec["fh"]),
                      np.array(rec["grf"]), np.array(rec["raw"]), env.robot.weight)
    return traj
