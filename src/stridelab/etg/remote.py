"""ETG's ES population evaluations on Ray workers (``stridelab etg TASK --workers N``).

A generation's population (P generator weight vectors, the incumbent included) is cut into W equal
slices of ``m = ceil(P / W)`` members; the last slice is padded with copies of its last row, whose
fitness is dropped. Worker ``k`` owns a :class:`~stridelab.etg.population.PopulationEvaluator` of ``m``
members x K envs, built from the same config and seed as every other worker's, and before each call
every worker re-seeds its env's random stream with the same call seed
(``SeedSequence([seed, "ETG", call])``). So slot ``j`` of every member on every worker meets the same
command, tile, reset noise and randomized physics: the ranking compares generators, not conditions.

A worker that dies is re-created by the :class:`~stridelab.distributed.pool.WorkerPool` (same config,
same seed) and evaluates its slice again with the same call seed: the generation's fitnesses are the ones
it would have had without the failure.

The residual policy (an :class:`~stridelab.learn.models.InferencePolicy`, or ``None`` for the generator
alone) goes to Ray's object store once per policy object, i.e. once per ES phase, not per generation.
PPO stays in-process: ``stridelab train --workers`` is the way to spread PPO rollouts.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from stridelab.config import EnvConfig
from stridelab.distributed.options import RayOptions
from stridelab.etg.population import PopulationEvaluator, PopulationResult

log = logging.getLogger(__name__)

_ETG_TAG = 0x455447  # "ETG": call seeds apart from the rollout workers' and the ES chunks' streams


def call_seed(seed: int, call: int) -> int:
    """The env seed of population call ``call`` (``np.random.SeedSequence([seed, "ETG", call])``)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, _ETG_TAG, int(call)]).generate_state(1)[0] >> 1)


class PopulationWorker:
    """One worker's slice of the population (the code of a Ray actor; imports no Ray).

    Args:
        env_cfg: the ETG task with ``num_envs = members x envs_per_member`` of this worker and the
            evaluation seed (the same on every worker).
        worker, restart: place in the pool (reported by :meth:`info`; the env does not depend on them).
        torch_threads: torch and ``mujoco.batch`` threads.
        envs_per_member: K.
        episode_s: ES episode length [s].
    """

    def __init__(self, env_cfg: EnvConfig, worker: int, restart: int, torch_threads: int = 1, *,
                 envs_per_member: int, episode_s: float) -> None:
        torch.set_num_threads(torch_threads)
        self.worker, self.restart = worker, restart
        self.evaluator = PopulationEvaluator(env_cfg, env_cfg.num_envs // envs_per_member, envs_per_member,
                                             episode_s, env_cfg.seed, num_threads=torch_threads)

    def info(self) -> dict:
        """``pid``, ``host``, ``worker``, ``restart`` and ``members`` of this worker."""
        return {"pid": os.getpid(), "host": socket.gethostname(), "worker": self.worker, "restart": self.restart,
                "members": self.evaluator.members}

    def evaluate(self, params: np.ndarray, policy: Callable | None, seed: int) -> PopulationResult:
        """Fitness of this worker's slice. ``params`` Shape: (m, D); ``seed``: the call seed."""
        return self.evaluator(params, policy, call_seed=seed)


class RayPopulationEvaluator:
    """A :class:`~stridelab.etg.population.PopulationEvaluator` whose members are spread over Ray workers.

    Same interface: ``members``, ``k``, ``__call__(params, policy) -> PopulationResult``, ``env`` (a local
    env of one robot, built on first use, for the generator's kinematics), and :meth:`close`.

    Args:
        env_cfg: an ETG task (:func:`stridelab.etg.config.etg_env_cfg`).
        members: P, the rows of every call.
        envs_per_member: K.
        episode_s: ES episode length [s].
        seed: evaluation seed (of every worker's env and of the call seeds).
        options: where the workers run (``workers = 0`` with an address: one per ``cpus_per_worker`` free CPUs).
    """

    def __init__(self, env_cfg: EnvConfig, members: int, envs_per_member: int, episode_s: float, seed: int,
                 options: RayOptions) -> None:
        import ray

        from stridelab.distributed.cluster import connect, disconnect
        from stridelab.distributed.pool import WorkerPool

        self.env_cfg, self.members, self.k, self.seed = env_cfg, int(members), int(envs_per_member), int(seed)
        self.calls = 0
        self._env: Any = None
        self._policy: tuple[Any, Any] = (None, None)
        cpus = options.cpus
        connection = connect(options, options.workers * cpus)
        try:
            workers = options.workers or max(1, int(float(ray.available_resources().get("CPU", 0.0)) // cpus))
            workers = min(workers, self.members)
        except BaseException:
            disconnect(connection)
            raise
        self.per_worker = -(-self.members // workers)
        cfg = replace(env_cfg, num_envs=workers * self.per_worker * self.k, seed=self.seed)
        self.pool = WorkerPool(cfg, replace(options, workers=workers), connection, actor_class=PopulationWorker,
                               actor_kwargs={"envs_per_member": self.k, "episode_s": float(episode_s)})
        log.info("ES populations of %d members on %d Ray workers (%d members x %d envs each)", self.members, workers,
                 self.per_worker, self.k)

    @property
    def env(self) -> Any:
        if self._env is None:
            from stridelab.envs import make_env
            self._env = make_env(replace(self.env_cfg, num_envs=1, num_threads=1))
        return self._env

    def _policy_ref(self, policy: Callable | None) -> Any:
        """The policy in Ray's object store (put once per policy object)."""
        import ray

        if policy is None:
            return None
        if self._policy[0] is not policy:
            self._policy = (policy, ray.put(policy))
        return self._policy[1]

    def __call__(self, params: np.ndarray, policy: Callable | None = None) -> PopulationResult:
        """Fitness of each row of ``params`` (Shape: (P, D)) under ``policy``; see the module docstring."""
        t0 = time.monotonic()
        params = np.asarray(params, dtype=np.float64)
        if params.shape[0] != self.members:
            raise ValueError(f"the evaluator was built for {self.members} members, got {params.shape[0]}")
        w, m = self.pool.num_workers, self.per_worker
        padded = np.concatenate([params, np.repeat(params[-1:], w * m - len(params), axis=0)]).reshape(w, m, -1)
        ref, seed = self._policy_ref(policy), call_seed(self.seed, self.calls)
        self.calls += 1
        results: list[PopulationResult] = self.pool.call("evaluate", lambda k: (padded[k], ref, seed))
        returns = np.concatenate([r.returns for r in results])[:self.members]
        lengths = np.concatenate([r.lengths for r in results])[:self.members]
        return PopulationResult(returns.mean(axis=1), returns, lengths, int(sum(r.env_steps for r in results)),
                                time.monotonic() - t0)

    @property
    def worker_restarts(self) -> int:
        """Workers re-created so far."""
        return int(self.pool.total_restarts)

    def close(self) -> None:
        """Stop the workers (and Ray, if this evaluator started it)."""
        self.pool.close()
