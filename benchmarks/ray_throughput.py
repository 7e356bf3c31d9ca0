"""Ray rollout workers against in-process stepping, at the same total number of environments.

    python benchmarks/ray_throughput.py --envs-per-worker 1024 --workers 1 2 --out benchmarks/results/ray_throughput.json
    python benchmarks/ray_throughput.py --envs-per-worker 1024 --workers 2 --async-rollouts --skip-collect \
        --out benchmarks/results/ray_throughput_async.json

Total envs N = max(--workers) x --envs-per-worker (or --total-envs). The machine's cores C (--cores, default
all) are shared the same way in every layout: in-process, the env steps on C physics threads; with W
workers, each worker reserves C / W CPUs and steps N / W envs on that many threads.

Two measurements, each reported as env steps per second and as a ratio to in-process:

1. rollout collection: ``num_steps_per_env`` steps of every env with an actor copy sampling actions, the
   same code in both cases (:func:`stridelab.distributed.worker.collect_rollout`); on Ray it includes
   broadcasting the weights, the workers' rollouts and the transfer and concatenation of the batches
   (:meth:`RayVecEnv.collect`). Best of --rounds after a warm-up round (noise only ever adds time).
2. whole PPO iterations through :class:`~stridelab.learn.trainer.Trainer` (collection, critic pass,
   update, logging), the task's own PPO settings; median seconds per iteration after the first.

Ray overhead = 1 - (Ray rate / in-process rate) with one worker; with two workers the ratio also shows
what splitting the cores between processes gains or costs. Run it on a quiet machine; not in CI.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from stridelab.envs.throughput import machine_description
from stridelab.config import override
from stridelab.distributed.options import RayOptions
from stridelab.distributed.worker import collect_rollout, policy_weights
from stridelab.learn.models import build_model
from stridelab.learn.trainer import Trainer
from stridelab.envs import make_env
from stridelab.tasks import get_task, make_env_cfg
from stridelab.files import write_atomic

log = logging.getLogger("ray_throughput")


def policy_spec(env, train_cfg) -> dict:
    obs = env.get_observations()
    groups = train_cfg.actor_obs_groups
    return {"policy_model": "actor", "policy_cfg": train_cfg.rsl_rl_dict()["actor"], "num_actions": env.num_actions,
            "policy_obs_groups": {g: int(obs[g].shape[1]) for g in groups}}


def fresh_actor(spec: dict) -> torch.nn.Module:
    """The task's actor with its initial weights (what the first iteration samples with)."""
    from tensordict import TensorDict

    from stridelab.learn.models import model_class

    cfg = dict(spec["policy_cfg"])
    cls = model_class(cfg.pop("class_name"))
    obs = TensorDict({g: torch.zeros(1, s) for g, s in spec["policy_obs_groups"].items()}, batch_size=[1])
    model = cls(obs, {"actor": list(spec["policy_obs_groups"])}, "actor", spec["num_actions"], **cfg)
    return build_model(spec, model.state_dict())


def collect_in_process(env_cfg, train_cfg, cores: int, steps: int, rounds: int) -> float:
    env = make_env(replace(env_cfg, num_threads=cores))
    spec = policy_spec(env, train_cfg)
    actor = fresh_actor(spec)
    torch.set_num_threads(cores)
    times = []
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        collect_rollout(env, actor, steps)
        if r:
            times.append(time.perf_counter() - t0)
    return steps * env.num_envs / min(times)


def collect_on_ray(env_cfg, train_cfg, workers: int, cpus: int, steps: int, rounds: int) -> float:
    from stridelab.distributed.vec_env import RayVecEnv

    env = RayVecEnv(env_cfg, RayOptions(workers=workers, cpus_per_worker=cpus))
    try:
        spec = policy_spec(env.probe, train_cfg)
        actor = fresh_actor(spec)
        times = []
        for r in range(rounds + 1):
            t0 = time.perf_counter()
            env.collect(policy_weights(spec, actor, r), steps)
            if r:
                times.append(time.perf_counter() - t0)
        return steps * env.num_envs / min(times)
    finally:
        env.close()


def ppo_iterations(env_cfg, train_cfg, iterations: int, cores: int, ray: RayOptions | None) -> float:
    """Env steps per second of whole PPO iterations (median iteration time after the first)."""
    train_cfg = override(train_cfg, max_iterations=iterations, max_minutes=0, stop_when_walks=False,
                         save_interval=10_000, torch_threads=cores)
    cfg = env_cfg if ray is not None else replace(env_cfg, num_threads=cores)
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as run_dir:
        env = None
        if ray is not None:
            from stridelab.distributed.vec_env import RayVecEnv

            env = RayVecEnv(cfg, ray)
        trainer = Trainer(cfg, train_cfg, Path(run_dir), seed=0, env=env)
        hook = trainer.runner.on_iteration

        def stamp(completed: int) -> None:
            stamps.append(time.perf_counter())
            hook(completed)

        trainer.runner.on_iteration = stamp
        try:
            trainer.train(show_progress=False)
        finally:
            trainer.close()
    seconds = statistics.median(b - a for a, b in zip(stamps[:-1], stamps[1:]))
    return train_cfg.num_steps_per_env * env_cfg.num_envs / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="quadruped-flat")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--envs-per-worker", type=int, default=1024)
    p.add_argument("--total-envs", type=int, default=None, help="default: max(--workers) x --envs-per-worker")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    p.add_argument("--steps", type=int, default=None, help="steps per rollout (default: the task's num_steps_per_env)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=6, help="PPO iterations per layout (0: skip them)")
    p.add_argument("--async-rollouts", action="store_true", help="also time PPO iterations with async rollouts")
    p.add_argument("--skip-collect", action="store_true", help="only the PPO iterations")
    p.add_argument("--out", default="benchmarks/results/ray_throughput.json")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    total = args.total_envs or max(args.workers) * args.envs_per_worker
    env_cfg = make_env_cfg(args.task, num_envs=total, seed=0)
    train_cfg = get_task(args.task).train_cfg()
    steps = args.steps or train_cfg.num_steps_per_env
    train_cfg = override(train_cfg, num_steps_per_env=steps)
    rows = []

    def record(mode: str, workers: int, what: str, rate: float) -> None:
        base = next((r["steps_per_s"] for r in rows if r["mode"] == "in-process" and r["what"] == what), rate)
        rows.append({"mode": mode, "workers": workers, "envs_per_worker": total // max(workers, 1),
                     "cpus_per_worker": args.cores // max(workers, 1), "total_envs": total, "what": what,
                     "steps_per_s": round(rate, 1), "ratio_to_in_process": round(rate / base, 3)})
        log.info("%s", rows[-1])

    if not args.skip_collect:
        record("in-process", 0, "collect", collect_in_process(env_cfg, train_cfg, args.cores, steps, args.rounds))
        for w in args.workers:
            record("ray sync", w, "collect",
                   collect_on_ray(env_cfg, train_cfg, w, max(1, args.cores // w), steps, args.rounds))
    if args.iterations:
        record("in-process", 0, "ppo", ppo_iterations(env_cfg, train_cfg, args.iterations, args.cores, None))
        modes = [False, True] if args.async_rollouts else [False]
        for w in args.workers:
            for asynchronous in modes:
                ray = RayOptions(workers=w, cpus_per_worker=max(1, args.cores // w), async_rollouts=asynchronous)
                record("ray async" if asynchronous else "ray sync", w, "ppo",
                       ppo_iterations(env_cfg, train_cfg, args.iterations, args.cores, ray))
    out = Path(args.out)
    text = json.dumps({"task": args.task, "steps_per_rollout": steps, "cores": args.cores, "rows": rows,
                       "machine": machine_description()}, indent=2)
    write_atomic(out, lambda f: f.write(text), binary=False)
    print("| measured | layout | envs per worker | CPUs per worker | env steps/s | ratio to in-process |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        layout = "in-process" if r["mode"] == "in-process" else f"{r['mode']}, {r['workers']} worker(s)"
        print(f"| {r['what']} | {layout} | {r['envs_per_worker']} | {r['cpus_per_worker']} | {r['steps_per_s']:,.0f} | "
              f"{r['ratio_to_in_process']:.3f} |")
    print(f"{total} envs in total, {steps} steps per rollout; machine: {machine_description()}")


if __name__ == "__main__":
    main()
