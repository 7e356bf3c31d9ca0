"""Where training runs: the Ray placement options and the seed stream of the rollout workers.

Plain data only (no Ray import), so that the CLI and configs can name these options without starting
anything. ``EnvConfig.num_envs`` is the **total** number of environments of a run wherever it runs:
with ``workers = W`` each worker owns ``num_envs / W`` of them (the first ``num_envs % W`` workers one
more), so a run keeps its PPO batch (``num_steps_per_env x num_envs`` transitions per iteration) and its
hyperparameters when it moves between a laptop and a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import tyro

from stridelab.errors import ConfigError


@dataclass(frozen=True)
class RayOptions:
    """How the rollouts (or an ES population's evaluations) are placed on Ray.

    Attributes:
        workers: Ray workers (actors); 0 with ``address`` set: one per ``cpus_per_worker`` free CPUs of the
            cluster; 0 without it: no Ray at all (everything in-process).
        address: an existing cluster to join (``"auto"``, ``"HOST:PORT"`` of ``ray start --head``, or
            ``"ray://HOST:10001"`` for Ray Client); ``None`` starts a local Ray instance.
        cpus_per_worker: CPUs each worker reserves (``None``: 1); it also steps its ``mujoco.batch`` on that many
            threads and runs its policy copy on that many torch threads.
        async_rollouts: workers start the next rollout with the newest weights they have while the learner
            updates (policy lag of at most one iteration, logged as ``Ray/policy_lag``); otherwise every
            rollout uses the weights of the iteration it belongs to (exactly on-policy).
        max_restarts_per_call: restarts of one worker within one call before training stops with an error
            (a worker that dies again and again is a bug or a broken node, not bad luck).
    """

    workers: int = 0
    address: Annotated[str | None, tyro.conf.arg(name="ray-address", metavar="ADDRESS")] = None
    cpus_per_worker: int | None = None
    async_rollouts: bool = False
    max_restarts_per_call: int = 3

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or self.workers < 0:
            raise ConfigError(f"--workers {self.workers} is out of range; use 0 to run in-process or 1 or more Ray "
                              f"workers.")
        if self.cpus_per_worker is not None and self.cpus_per_worker < 1:
            raise ConfigError(f"--cpus-per-worker {self.cpus_per_worker} is out of range; give each Ray worker 1 or "
                              f"more CPUs.")
        if self.cpus_per_worker is not None and not self.distributed:
            raise ConfigError("--cpus-per-worker sizes Ray workers; add --workers N (or --ray-address), or drop it.")
        if self.address is not None and not self.address.strip():
            raise ConfigError("--ray-address is empty; use auto, HOST:PORT of `ray start --head`, or "
                              "ray://HOST:10001.")
        if self.async_rollouts and not self.distributed:
            raise ConfigError("--async-rollouts needs Ray rollout workers; add --workers N (or --ray-address), or "
                              "drop it.")
        if self.max_restarts_per_call < 0:
            raise ConfigError(f"--max-restarts-per-call {self.max_restarts_per_call} must be 0 or more.")

    @property
    def distributed(self) -> bool:
        """Whether anything runs on Ray workers (``workers`` > 0 or a cluster address given)."""
        return self.workers > 0 or self.address is not None

    @property
    def cpus(self) -> int:
        """CPUs each worker reserves (and its physics and torch threads)."""
        return self.cpus_per_worker or 1


def split_envs(num_envs: int, workers: int) -> list[int]:
    """Environments per worker: ``num_envs`` split as evenly as possible (sizes differ by at most one).

    Raises:
        ConfigError: fewer environments than workers.
    """
    if num_envs < workers:
        raise ConfigError(f"--num-envs {num_envs} is fewer than the {workers} rollout workers; give at least one "
                          f"environment per worker.")
    base, extra = divmod(num_envs, workers)
    return [base + (1 if k < extra else 0) for k in range(workers)]


def worker_seeds(seed: int, worker: int, restart: int) -> tuple[int, int]:
    """The (env seed, torch seed) of worker ``worker`` after ``restart`` restarts of it.

    Derived with ``np.random.SeedSequence([seed, worker, restart])``: every worker of a run has its
    own stream, and a re-created worker continues a deterministic one (restart ``r + 1``) instead of
    repeating the episodes it had already played. Both seeds are in ``[0, 2**31)``.
    """
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(worker), int(restart)]).generate_state(2)
    return int(state[0] >> 1), int(state[1] >> 1)
