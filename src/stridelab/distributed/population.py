"""One population evaluator: the fitness of P parameter vectors, in one batched env or on Ray workers.

An evolution strategy asks "how good is each of these P parameter vectors?". The evaluator answers it the
same way for every use; what differs between uses is a small picklable :class:`PopulationProblem`:

- ETG (:class:`stridelab.etg.population.ETGProblem`): a member is a trajectory generator's weights, its
  fitness the return of one episode under the residual policy;
- dynamics identification (:class:`stridelab.sysid.fit.SysidProblem`): a member is a set of physical
  parameters, its K envs the log's K windows, its fitness minus the error of the windows replayed open-loop from
  logged PD targets (in its own batched simulator: the problem builds the "env").

**Layout.** One batched env of ``P x K`` envs (``K = envs_per_member``), member-major: env ``i`` runs member
``i // K`` in its slot ``k = i % K``. The env is built once, from the task's :class:`~stridelab.config.EnvConfig`
as the problem prepares it, and reused by every call. A member's fitness is the mean of its K per-env values.
Every env draws its own reset noise and randomized physics (K averages over them); what the members should
share (ETG: slot ``k``'s command and terrain tile) the problem shares.

**One seeding rule.** Before call ``c`` the env's random stream is re-seeded with :func:`call_seed`
(``SeedSequence([seed, "POP", c])``), so a call's conditions depend on the evaluation seed and the call number
only: not on the calls before it, nor on where it runs.

**On Ray** (``ray=RayOptions(workers=W, ...)``): the P rows are cut into W equal slices of ``m = ceil(P / W)``
members; the last slice is padded with copies of its last row, whose fitness is dropped (the padding is
simulated, so it counts in ``env_steps``). Every worker (:class:`PopulationWorker`) builds the same env of
``m x K`` envs from the same config and seed, and evaluates its slice with the call's seed: its fitnesses
equal those of an in-process :class:`PopulationBatch` of ``m`` members given the same call number, and member
``j`` of every worker's slice meets the same conditions (the ranking compares parameters, wherever they ran;
in-process, the one batch of P members draws other conditions than W slices of ``m``). A worker
that dies is re-created by the :class:`~stridelab.distributed.pool.WorkerPool` (same config, same seed) and
evaluates its slice again with the same call number, so the fitnesses equal those of a run without failure.
A call's ``context`` (ETG: the residual policy; sysid: the logged trajectories) goes to Ray's object store
once per object, not once per call: pass a new object when it changes.

Ray is imported only when ``ray`` asks for workers.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import torch

from stridelab.config import EnvConfig
from stridelab.distributed.options import RayOptions
from stridelab.errors import ConfigError

log = logging.getLogger(__name__)

_TAG = 0x504F50  # "POP": call seeds apart from the rollout workers' seed stream


def call_seed(seed: int, call: int) -> int:
    """The seed of population call ``call`` (``np.random.SeedSequence([seed, "POP", call])``), in ``[0, 2**31)``."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, _TAG, int(call)]).generate_state(1)[0] >> 1)


class PopulationProblem(Protocol):
    """What a use of the evaluator supplies (a picklable object: Ray workers get a copy).

    The evaluator calls, on the env it built (``env.num_envs = P x K``, member-major; with
    ``stridelab.envs.make_env``, or the problem's own ``make_env(cfg)`` if it has one, which returns an object
    with ``num_envs``, ``rng`` and ``common_step_counter``):

    1. :meth:`prepare_cfg` once, before building the env;
    2. :meth:`prepare_env` once, after building it;
    3. per call, after re-seeding ``env.rng`` with the call's seed: :meth:`write_members`, then :meth:`rollout`.

    A rollout steps the env with ``env.step`` (the evaluator counts env steps from ``env.common_step_counter``)
    and must not undo what :meth:`write_members` wrote (e.g. a reset event that randomizes a parameter the
    members set belongs out of :meth:`prepare_cfg`'s config).
    """

    def prepare_cfg(self, env_cfg: EnvConfig) -> EnvConfig:
        """The task as population evaluation runs it. ``env_cfg`` already has the batch's ``num_envs`` and the
        evaluation ``seed``; the result must keep ``num_envs``."""
        ...

    def prepare_env(self, env: Any, envs_per_member: int) -> None:
        """Once per env: anything fixed for all calls (e.g. ETG's shared terrain tiles)."""
        ...

    def write_members(self, env: Any, params: np.ndarray, envs_per_member: int) -> None:
        """Write member ``i``'s parameters (row ``i`` of ``params``, Shape: (P, D)) into envs ``i*K .. i*K+K-1``."""
        ...

    def rollout(self, env: Any, envs_per_member: int, context: Any) -> np.ndarray:
        """Run the envs and score them. Returns one value per env (higher is better). Shape: (P x K,)."""
        ...


@dataclass
class PopulationResult:
    """What one call measured.

    Attributes:
        fitness: mean value per member. Shape: (P,).
        values: value per env, member-major (ETG: the episode returns). Shape: (P, K).
        env_steps: env transitions simulated (envs x control steps; on Ray the padded rows too).
        seconds: wall-clock time of the call [s].
        call: the call number (its conditions are those of :func:`call_seed` ``(seed, call)``).
    """

    fitness: np.ndarray
    values: np.ndarray
    env_steps: int
    seconds: float
    call: int


def _check_sizes(members: int, envs_per_member: int) -> None:
    if members < 1 or envs_per_member < 1:
        raise ConfigError(f"a population of {members} members x {envs_per_member} envs is empty; give at least 1 "
                          f"member and 1 env per member.")


def _as_population(params: np.ndarray, members: int) -> np.ndarray:
    """``params`` as a float64 (members, D) array, or a one-sentence error."""
    params = np.asarray(params, dtype=np.float64)
    if params.ndim != 2 or params.shape[0] != members:
        raise ConfigError(f"the population has shape {params.shape} but the evaluator was built for {members} "
                          f"members; pass an array of shape ({members}, D), one parameter vector per row.")
    return params


class PopulationBatch:
    """One batched env of ``members x envs_per_member`` envs for one problem, and the seeding rule.

    The in-process evaluator holds one; each Ray worker holds one for its slice.

    Args:
        problem: the :class:`PopulationProblem`.
        env_cfg: the task (its ``num_envs`` and ``seed`` are replaced).
        members: P (rows of every call).
        envs_per_member: K.
        seed: the evaluation seed: of the env and, with the call number, of every call's conditions.
        num_threads: physics threads (``None``: the config's).
    """

    def __init__(self, problem: PopulationProblem, env_cfg: EnvConfig, members: int, envs_per_member: int,
                 seed: int = 0, num_threads: int | None = None) -> None:
        from stridelab.envs import make_env

        _check_sizes(members, envs_per_member)
        self.problem, self.members, self.k, self.seed = problem, int(members), int(envs_per_member), int(seed)
        n = self.members * self.k
        cfg = problem.prepare_cfg(replace(env_cfg, num_envs=n, seed=self.seed))
        if cfg.num_envs != n:
            raise ConfigError(f"the population problem changed num_envs from {n} to {cfg.num_envs}; its prepare_cfg "
                              f"must keep the batch's number of envs.")
        if num_threads is not None:
            cfg = replace(cfg, num_threads=num_threads)
        self.env = getattr(problem, "make_env", make_env)(cfg)
        problem.prepare_env(self.env, self.k)

    def evaluate(self, params: np.ndarray, context: Any, call: int) -> PopulationResult:
        """Fitness of each row of ``params`` (Shape: (members, D)) in call ``call`` (its seed: :func:`call_seed`)."""
        t0 = time.monotonic()
        params = _as_population(params, self.members)
        env, n = self.env, self.members * self.k
        env.rng.bit_generator.state = np.random.default_rng(call_seed(self.seed, call)).bit_generator.state
        steps_before = int(env.common_step_counter)
        self.problem.write_members(env, params, self.k)
        values = np.asarray(self.problem.rollout(env, self.k, context), dtype=np.float64)
        if values.shape != (n,):
            raise ConfigError(f"the population problem's rollout returned shape {values.shape}; return one value "
                              f"per env, shape ({n},).")
        values = values.reshape(self.members, self.k)
        return PopulationResult(values.mean(axis=1), values, n * (int(env.common_step_counter) - steps_before),
                                time.monotonic() - t0, int(call))


class PopulationWorker:
    """One Ray worker's slice of the population (the code of a Ray actor; imports no Ray).

    Args:
        env_cfg: the task with this worker's ``num_envs`` (members x K) and the evaluation seed (the same on
            every worker).
        worker, restart: place in the pool (reported by :meth:`info`; the env does not depend on them).
        torch_threads: torch and ``mujoco.batch`` threads.
        problem: the :class:`PopulationProblem`.
        envs_per_member: K.
    """

    def __init__(self, env_cfg: EnvConfig, worker: int, restart: int, torch_threads: int = 1, *,
                 problem: PopulationProblem, envs_per_member: int) -> None:
        torch.set_num_threads(torch_threads)
        self.worker, self.restart = worker, restart
        self.batch = PopulationBatch(problem, env_cfg, env_cfg.num_envs // envs_per_member, envs_per_member,
                                     env_cfg.seed, num_threads=torch_threads)

    def info(self) -> dict:
        """``pid``, ``host``, ``worker``, ``restart`` and ``members`` of this worker."""
        return {"pid": os.getpid(), "host": socket.gethostname(), "worker": self.worker, "restart": self.restart,
                "members": self.batch.members}

    def evaluate(self, params: np.ndarray, context: Any, call: int) -> PopulationResult:
        """Fitness of this worker's slice (Shape: (m, D)) in call ``call``."""
        return self.batch.evaluate(params, context, call)


class PopulationEvaluator:
    """Fitness of a population of P parameter vectors per call, in-process or on Ray workers (module docstring).

    Args:
        problem: the :class:`PopulationProblem` (picklable).
        env_cfg: the task (``num_envs`` and ``seed`` are the evaluator's).
        members: P, the rows of every call.
        envs_per_member: K.
        seed: the evaluation seed.
        ray: evaluate on Ray workers (``workers = 0`` with an address: one per ``cpus_per_worker`` free CPUs);
            ``None`` or not distributed: in-process.
        num_threads: physics threads in-process (``None``: the config's); on Ray each worker uses its CPUs.

    Attributes:
        calls: calls made so far (the next call's number).
        batch: the in-process :class:`PopulationBatch` (``None`` on Ray).
        pool: the :class:`~stridelab.distributed.pool.WorkerPool` (``None`` in-process).
        members_per_worker: m, the members of each worker's slice (P in-process).
    """

    def __init__(self, problem: PopulationProblem, env_cfg: EnvConfig, members: int, envs_per_member: int = 4,
                 seed: int = 0, *, ray: RayOptions | None = None, num_threads: int | None = None) -> None:
        _check_sizes(members, envs_per_member)
        self.problem, self.members, self.k, self.seed = problem, int(members), int(envs_per_member), int(seed)
        self.calls = 0
        self.batch: PopulationBatch | None = None
        self.pool: Any = None
        self._context: tuple[Any, Any] = (None, None)
        if ray is None or not ray.distributed:
            self.batch = PopulationBatch(problem, env_cfg, self.members, self.k, self.seed, num_threads)
            self.members_per_worker = self.members
        else:
            self._start_workers(env_cfg, ray)

    def _start_workers(self, env_cfg: EnvConfig, options: RayOptions) -> None:
        import ray

        from stridelab.distributed.cluster import connect, disconnect
        from stridelab.distributed.pool import WorkerPool

        cpus = options.cpus
        connection = connect(options, options.workers * cpus)
        try:
            workers = options.workers or max(1, int(float(ray.available_resources().get("CPU", 0.0)) // cpus))
            workers = min(workers, self.members)
        except BaseException:
            disconnect(connection)
            raise
        self.members_per_worker = m = -(-self.members // workers)
        cfg = replace(env_cfg, num_envs=workers * m * self.k, seed=self.seed)
        self.pool = WorkerPool(cfg, replace(options, workers=workers), connection, actor_class=PopulationWorker,
                               actor_kwargs={"problem": self.problem, "envs_per_member": self.k})
        log.info("populations of %d members on %d Ray workers (%d members x %d envs each)", self.members, workers, m,
                 self.k)

    @property
    def distributed(self) -> bool:
        """Whether the calls run on Ray workers."""
        return self.pool is not None

    @property
    def worker_restarts(self) -> int:
        """Workers re-created so far (0 in-process)."""
        return int(self.pool.total_restarts) if self.pool is not None else 0

    def __call__(self, params: np.ndarray, context: Any = None) -> PopulationResult:
        """Fitness of each row of ``params`` (Shape: (P, D)); ``context`` is handed to the problem's rollout."""
        params = _as_population(params, self.members)
        call = self.calls
        self.calls += 1
        if self.batch is not None:
            return self.batch.evaluate(params, context, call)
        t0 = time.monotonic()
        w, m = self.pool.num_workers, self.members_per_worker
        padded = np.concatenate([params, np.repeat(params[-1:], w * m - self.members, axis=0)]).reshape(w, m, -1)
        ref = self._context_ref(context)
        # a re-created worker gets the same arguments again: the same slice and call number
        results: list[PopulationResult] = self.pool.call("evaluate", lambda k: (padded[k], ref, call))
        values = np.concatenate([r.values for r in results])[:self.members]
        return PopulationResult(values.mean(axis=1), values, int(sum(r.env_steps for r in results)),
                                time.monotonic() - t0, call)

    def _context_ref(self, context: Any) -> Any:
        """``context`` in Ray's object store (put once per object)."""
        import ray

        if context is None:
            return None
        if self._context[0] is not context:
            self._context = (context, ray.put(context))
        return self._context[1]

    def close(self) -> None:
        """Stop the workers (and Ray, if this evaluator started it); nothing to do in-process."""
        if self.pool is not None:
            self.pool.close()
