"""The rollout workers of a run as Ray actors, re-created when they die.

Fault tolerance is done here by hand rather than with Ray's ``max_restarts``: a restarted Ray actor
re-runs its constructor with the same arguments, so its envs would replay the episodes it had already
played. When a call fails with ``RayActorError`` (``ActorDiedError``: its process was killed or its node
was lost; ``ActorUnavailableError``), the pool kills what is left of the actor, creates a new one with
the same env config and the next seed of that worker's stream (``restart + 1``), and submits the same
call to it again (its arguments are computed anew, e.g. the newest weights). The call therefore
completes with every worker's part: nothing is lost, and a warning plus :attr:`WorkerPool.total_restarts`
(logged as ``Ray/worker_restarts``) say what happened. A worker that dies more than
``max_restarts_per_call`` times within one call stops the run with an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import ray
from ray.exceptions import RayActorError

from stridelab.config import EnvConfig
from stridelab.distributed.cluster import Connection, connect, disconnect
from stridelab.distributed.options import RayOptions, split_envs
from stridelab.distributed.worker import RolloutWorker
from stridelab.errors import ConfigError, StridelabError

log = logging.getLogger(__name__)

Args = Callable[[int], tuple]  # worker index -> the call's arguments (recomputed for a re-created worker)
STARTUP_TIMEOUT_S = 300.0  # a worker that has not built its envs by then is waiting for CPUs it will not get
FREE_CPU_WAIT_S = 15.0  # how long CPUs just released by other actors may take to show as free


def _wait_for_free_cpus(needed: int, total: float) -> None:
    """Raise :class:`ConfigError` unless ``needed`` CPUs of the cluster are free (within ``FREE_CPU_WAIT_S``):
    actors that cannot be placed would otherwise wait for ever."""
    deadline = time.monotonic() + FREE_CPU_WAIT_S
    while True:
        free = float(ray.available_resources().get("CPU", 0.0))
        if free >= needed:
            return
        if time.monotonic() > deadline:
            raise ConfigError(f"the rollout workers need {needed} CPUs but only {free:g} of the Ray cluster's "
                              f"{total:g} are free (other Ray jobs or actors hold the rest); wait for them, or lower "
                              f"--workers or --cpus-per-worker.")
        time.sleep(0.2)


class WorkerPool:
    """``workers`` rollout workers over one env config; ``env_cfg.num_envs`` is the total, split evenly.

    ``actor_class`` is the workers' code: :class:`~stridelab.distributed.worker.RolloutWorker`, or any class
    constructed as ``actor_class(env_cfg, worker, restart, cpus, **actor_kwargs)`` with an ``info()`` method
    (e.g. :class:`~stridelab.distributed.population.PopulationWorker`); the restarts work the same for all.

    Attributes:
        sizes: envs per worker; worker ``k`` owns rows ``offsets[k]:offsets[k + 1]`` of every batch.
        restarts: re-creations per worker; ``total_restarts`` their sum.
        connection: the Ray session (shut down by :meth:`close` if this pool started it).
    """

    def __init__(self, env_cfg: EnvConfig, options: RayOptions, connection: Connection | None = None,
                 actor_class: type = RolloutWorker, actor_kwargs: dict | None = None) -> None:
        self.options = options
        self.actor_kwargs = dict(actor_kwargs or {})
        cpus = options.cpus
        if options.workers:
            split_envs(env_cfg.num_envs, options.workers)  # too few envs: say so before Ray starts
        self.connection = connection or connect(options, options.workers * cpus)
        self.env_cfg = env_cfg
        self.actors: list[Any] = []
        try:
            # without --workers: as many as the cluster's free CPUs hold
            workers = options.workers or max(1, int(float(ray.available_resources().get("CPU", 0.0)) // cpus))
            self.sizes = split_envs(env_cfg.num_envs, workers)
            self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
            self.restarts = [0] * workers
            self.total_restarts = 0
            self._remote = ray.remote(actor_class)
            _wait_for_free_cpus(workers * cpus, self.connection.cpus)
            self.actors = [self._spawn(k) for k in range(workers)]
            self.infos: list[dict] = self.gather([self.submit(k, "info", lambda k: ()) for k in range(workers)],
                                                 timeout_s=STARTUP_TIMEOUT_S)
        except BaseException:
            self.close()
            raise
        log.info("%d Ray rollout workers (%s envs, %d CPU each) on %s", workers, "/".join(map(str, self.sizes)), cpus,
                 self.connection.address)

    @property
    def num_workers(self) -> int:
        return len(self.actors)

    def rows(self, k: int) -> slice:
        """The rows of worker ``k``'s envs in a batch of all envs."""
        return slice(int(self.offsets[k]), int(self.offsets[k + 1]))

    def _spawn(self, k: int) -> Any:
        cpus = self.options.cpus
        cfg = replace(self.env_cfg, num_envs=self.sizes[k], num_threads=cpus)
        return self._remote.options(num_cpus=cpus, max_restarts=0, max_task_retries=0,
                                    scheduling_strategy="SPREAD").remote(cfg, k, self.restarts[k], cpus,
                                                                         **self.actor_kwargs)

    # ---- calls with fault tolerance ----------------------------------------------------------------------
    def submit(self, k: int, method: str, args: Args) -> dict:
        """Start ``method(*args(k))`` on worker ``k``; returns a task for :meth:`gather`."""
        return {"ref": getattr(self.actors[k], method).remote(*args(k)), "k": k, "method": method, "args": args}

    def gather(self, tasks: list[dict], on_restart: Callable[[int], None] | None = None,
               timeout_s: float | None = None) -> dict[int, Any]:
        """Wait for ``tasks``; a worker that died is re-created and its call submitted again.

        Returns:
            {worker index: result}.
        Raises:
            StridelabError: a worker could not start, died more than ``max_restarts_per_call`` times, or
                (with ``timeout_s``) nothing finished for that long.
        """
        pending = {t["ref"]: t for t in tasks}
        results: dict[int, Any] = {}
        failures: dict[int, int] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout_s)
            if not ready:
                waiting = sorted(t["k"] for t in pending.values())
                raise StridelabError(f"Ray rollout workers {waiting} did not answer within {timeout_s:g} s; check "
                                     f"`ray status` for CPUs and pending actors, and the workers' logs (`ray logs`).")
            task = pending.pop(ready[0])
            k = task["k"]
            try:
                results[k] = ray.get(ready[0])
                continue
            except RayActorError as err:
                failures[k] = failures.get(k, 0) + 1
                self._recreate(k, err, failures[k])
            if on_restart is not None:
                on_restart(k)
            retry = self.submit(k, task["method"], task["args"])
            pending[retry["ref"]] = retry
        return results

    def call(self, method: str, args: Args = lambda k: (), on_restart: Callable[[int], None] | None = None) -> list:
        """``method(*args(k))`` on every worker ``k``; the results in worker order."""
        results = self.gather([self.submit(k, method, args) for k in range(self.num_workers)], on_restart)
        return [results[k] for k in range(self.num_workers)]

    def _recreate(self, k: int, err: RayActorError, failures: int) -> None:
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        if getattr(err, "actor_init_failed", False):
            raise StridelabError(f"Ray rollout worker {k} could not start ({reason}); check that stridelab and its "
                                 f"dependencies are installed on every node of the cluster.")
        if failures > self.options.max_restarts_per_call:
            raise StridelabError(f"Ray rollout worker {k} died {failures} times in one call (last: {reason}); check "
                                 f"its node's memory and logs (`ray logs`), then resume the run with --resume.")
        pid = self.infos[k].get("pid") if getattr(self, "infos", None) and self.infos[k] else None
        try:
            ray.kill(self.actors[k], no_restart=True)
        except Exception:  # noqa: BLE001 - the actor is already gone
            pass
        self.restarts[k] += 1
        self.total_restarts += 1
        log.warning("Ray rollout worker %d (pid %s) died (%s: %s); re-creating its %d envs from the config and seed "
                    "stream (restart %d of this worker, %d in total) and repeating its part of the call", k, pid,
                    type(err).__name__, reason, self.sizes[k], self.restarts[k], self.total_restarts)
        self.actors[k] = self._spawn(k)
        if getattr(self, "infos", None):
            self.infos[k] = {}

    # ---- what the env and the learner ask for ------------------------------------------------------------
    def pids(self) -> list[int]:
        """The process id of every worker (asked afresh: re-created workers have new ones)."""
        self.infos = self.call("info")
        return [info["pid"] for info in self.infos]

    def split(self, array: np.ndarray) -> list[np.ndarray]:
        """Rows of ``array`` (first axis: all envs) per worker."""
        return [array[self.rows(k)] for k in range(self.num_workers)]

    def close(self) -> None:
        """Stop the workers (and Ray, if this pool started it)."""
        for actor in getattr(self, "actors", []):
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        disconnect(self.connection)
