"""ETG's ES population evaluation: in-process and on Ray workers, against raw ``mujoco.batch`` stepping.

    python benchmarks/etg_population.py --workers 1 2 --out benchmarks/results/etg_population.json
    python benchmarks/etg_population.py --popsize 64 --envs-per-member 16 --workers 2 \
        --out benchmarks/results/etg_population_1040.json

One population call is what a generation costs: ``popsize + 1`` generators (the candidates and the
incumbent) x ``--envs-per-member`` envs, one ``--es-episode-s`` episode each, the task's residual actor
(initial weights) on top, deterministic. Figures, best of ``--rounds`` after a warm-up call (noise only
ever adds time):

- in-process: :class:`~stridelab.distributed.population.PopulationEvaluator` with ETG's problem
  (:class:`~stridelab.etg.population.ETGProblem`) on all cores;
- Ray: the same evaluator with ``ray=RayOptions(workers=W, cpus_per_worker=cores / W)``
  (the population padded to a multiple of W: padded rows cost time and are not counted as useful);
- raw physics: ``mujoco.batch`` stepping the same model with the in-process env's number of envs and
  threads, ``decimation`` substeps per control step, the default pose as the target.

Useful env steps per second = (popsize + 1) x envs_per_member x episode steps / seconds, and each as a
ratio to the raw physics rate. Run it on a quiet machine; not in CI.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import torch
from mujoco import batch as mjbatch
from ray_throughput import fresh_actor

from stridelab.envs.throughput import machine_description
from stridelab.distributed.options import RayOptions
from stridelab.distributed.population import PopulationEvaluator
from stridelab.etg.config import ETGConfig, etg_env_cfg
from stridelab.etg.population import ETGProblem
from stridelab.learn.models import InferencePolicy
from stridelab.tasks import get_task, make_env_cfg

log = logging.getLogger("etg_population")


def residual(env, task: str) -> InferencePolicy:
    """The task's actor with its initial weights, as the first ES phase of a run evaluates it."""
    train_cfg = get_task(task).train_cfg()
    obs = env.get_observations()
    spec = {"policy_model": "actor", "policy_cfg": train_cfg.rsl_rl_dict()["actor"], "num_actions": env.num_actions,
            "policy_obs_groups": {g: int(obs[g].shape[1]) for g in train_cfg.actor_obs_groups}}
    return InferencePolicy(fresh_actor(spec))


def best_seconds(evaluator, params, policy, rounds: int) -> float:
    times = []
    for r in range(rounds + 1):  # call 0 warms up
        t0 = time.perf_counter()
        evaluator(params, policy)
        if r:
            times.append(time.perf_counter() - t0)
    return min(times)


def raw_seconds(env, steps: int, rounds: int) -> float:
    """Raw ``mujoco.batch`` stepping of ``env``'s model, envs and threads: ``steps`` control steps."""
    batch = mjbatch.Batch(env.robot.model, env.num_envs, env.cfg.num_threads)
    batch.reset(keyframe=env.sim.home_key)
    batch.qpos[:, env.robot.qpos_adr] = env.default_pose
    batch.ctrl[:] = env.default_pose
    batch.forward()
    times = []
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        for _ in range(steps):
            batch.step(nstep=env.cfg.decimation)
        if r:
            times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="quadruped-flat")
    parser.add_argument("--popsize", type=int, default=16)
    parser.add_argument("--envs-per-member", type=int, default=4)
    parser.add_argument("--es-episode-s", type=float, default=5.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    cfg = ETGConfig(popsize=args.popsize, envs_per_member=args.envs_per_member, episode_s=args.es_episode_s)
    env_cfg = etg_env_cfg(make_env_cfg(args.task, seed=0), cfg)
    members, k = cfg.popsize + 1, cfg.envs_per_member
    params = cfg.generator.prior_weights()[None].repeat(members, axis=0)
    torch.set_num_threads(args.cores)
    problem = ETGProblem(cfg.episode_s)
    local = PopulationEvaluator(problem, env_cfg, members, k, seed=0, num_threads=args.cores)
    env = local.batch.env
    steps = problem.steps(env.dt)
    policy = residual(env, args.task)
    useful = members * k * steps
    rows = {"in-process": useful / best_seconds(local, params, policy, args.rounds)}
    raw = useful / raw_seconds(env, steps, args.rounds)
    for w in args.workers:
        remote = PopulationEvaluator(problem, env_cfg, members, k, seed=0,
                                     ray=RayOptions(workers=w, cpus_per_worker=max(1, args.cores // w)))
        try:
            rows[f"ray {w} workers"] = useful / best_seconds(remote, params, policy, args.rounds)
        finally:
            remote.close()
    report = {"task": args.task, "members": members, "envs_per_member": k, "episode_steps": steps,
              "cores": args.cores, "raw_steps_per_s": raw,
              "rows": {name: {"env_steps_per_s": rate, "ratio_to_raw": rate / raw,
                              "ratio_to_in_process": rate / rows["in-process"]} for name, rate in rows.items()},
              "machine": machine_description(), "date": time.strftime("%Y-%m-%d %H:%M")}
    for name, row in report["rows"].items():
        log.info("%-14s %9.0f useful env steps/s  (%.3f of raw physics %.0f, %.3f of in-process)", name,
                 row["env_steps_per_s"], row["ratio_to_raw"], raw, row["ratio_to_in_process"])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
