"""Throughput benchmark: environment control steps per second against raw ``mujoco.batch`` stepping.

The raw limit steps the same compiled model with the same number of simulations, threads and
decimation, fed the same PD targets the environment computes from the same random actions: it is
what the physics alone costs. The
two are measured in alternating rounds in one process, and the best round of each is reported:
noise from other processes only ever adds time, and alternating exposes both to the same machine.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from mujoco import batch as mjbatch

from stridelab.config import EnvConfig
from stridelab.envs.factory import make_env

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchResult:
    """Throughput figures [control steps/s, summed over environments]."""

    task: str
    num_envs: int
    num_threads: int
    decimation: int
    env_steps_per_s: float
    raw_steps_per_s: float
    ratio: float
    rounds: int
    steps_per_round: int
    machine: str
    robot: str | None = None  # the robot in place of the task's own, if any


def machine_description() -> str:
    """CPU model, core count and Python/torch versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"


def run_bench(cfg: EnvConfig, steps: int = 50, rounds: int = 5, robot: str | None = None) -> BenchResult:
    """Measure env and raw throughput of ``cfg`` (its ``num_envs``, ``num_threads`` and ``seed``) in alternating
    rounds; return the best rounds and their ratio.

    ``robot``: the label of a robot that replaced the task's own (recorded in the result).
    Nothing is written: the caller (``stridelab bench --out FILE``) decides where the results go.
    """
    env = make_env(cfg)
    task, num_envs, num_threads, seed = cfg.task, cfg.num_envs, cfg.num_threads, cfg.seed
    try:
        raw = mjbatch.Batch(env.robot.model, num_envs, num_threads)
        raw.reset(keyframe=env.sim.home_key)
        raw.qpos[:, env.robot.qpos_adr] = env.default_pose
        raw.ctrl[:] = env.default_pose
        raw.forward()
        # the raw batch gets the very PD targets the env's action term computes from the same actions
        rng = np.random.default_rng(seed)
        actions = torch.from_numpy(rng.normal(0.0, 0.5, size=(steps, num_envs, env.num_actions)).astype(np.float32))
        term = env.action_term
        targets = np.stack([term.targets(term.process(a.astype(np.float64))) for a in actions.numpy()])
        dec = env.cfg.decimation

        env_times, raw_times = [], []
        for r in range(rounds + 1):  # round 0 warms up both
            t0 = time.perf_counter()
            for k in range(steps):
                env.step(actions[k])
            t1 = time.perf_counter()
            for k in range(steps):
                raw.ctrl[:] = targets[k]
                raw.step(nstep=dec)
            t2 = time.perf_counter()
            if r:
                env_times.append(t1 - t0)
                raw_times.append(t2 - t1)
        # best of the rounds: the least-disturbed measurement of each (a VM's noise only ever adds time)
        env_rate = steps * num_envs / float(np.min(env_times))
        raw_rate = steps * num_envs / float(np.min(raw_times))
        return BenchResult(task, num_envs, raw.nthread, dec, env_rate, raw_rate, env_rate / raw_rate, rounds, steps,
                           machine_description(), robot)
    finally:
        env.close()
