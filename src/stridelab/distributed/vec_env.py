"""A Ray-fanned env behind rsl-rl-lib's ``VecEnv`` contract, plus the one-batch-per-iteration rollout path.

:class:`RayVecEnv` looks like one env of ``cfg.num_envs`` environments (rows in worker order) to
rsl-rl-lib and to the trainer: ``get_observations``, ``step``, ``episode_length_buf``, ``extras``,
``unstable_total``; it also carries a local 1-env *probe* of the same config for what the learner needs
to know about the task (observation and action sizes, mirror maps for symmetry). ``step`` fans one
control step out to the workers (a round trip per step: correct, slow, for callers that need the
per-step contract); training uses :meth:`RayVecEnv.collect`, one whole rollout per worker per iteration.

Logs: each worker's env logs its own ``extras["log"]`` per step (means over its envs); :func:`merge_logs`
turns them into what one env of all the envs would have logged: ``Episode_Termination/*`` are counts
(summed), ``Episode_Reward/*`` are means over the envs that ended at that step (weighted by how many
ended on each worker), anything else is a mean over envs (weighted by the workers' env counts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import ray
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from stridelab.config import EnvConfig
from stridelab.distributed.options import RayOptions
from stridelab.distributed.pool import WorkerPool
from stridelab.errors import CheckpointError
from stridelab.registry import make_env

log = logging.getLogger(__name__)

COUNT_PREFIXES = ("Episode_Termination/",)
ENDED_MEAN_PREFIXES = ("Episode_Reward/",)


def merge_logs(logs: list[dict[str, float]], dones: list[np.ndarray], sizes: list[int]) -> dict[str, float]:
    """One step's ``extras["log"]`` of all envs from the workers' own (see the module docstring).

    Args:
        logs: each worker's log of the step.
        dones: each worker's done flags of the step. Shapes: (n_k,).
        sizes: each worker's env count.
    """
    merged: dict[str, float] = {}
    for key in dict.fromkeys(k for entry in logs for k in entry):
        values, weights = [], []
        for entry, done, size in zip(logs, dones, sizes):
            if key in entry:
                values.append(entry[key])
                weights.append(float(np.count_nonzero(done)) if key.startswith(ENDED_MEAN_PREFIXES) else float(size))
        if key.startswith(COUNT_PREFIXES):
            merged[key] = float(sum(values))
        elif sum(weights) > 0:
            merged[key] = float(np.dot(values, weights) / sum(weights))
        else:
            merged[key] = float(np.mean(values))
    return merged


@dataclass
class Rollout:
    """One iteration's data from every worker, on the CPU (``T`` steps, ``N`` = all envs, rows in worker order).

    Attributes:
        obs: batch size (T + 1, N): row ``t`` is what the actor saw at step ``t``, row ``T`` the last observation.
        actions: (T, N, num_actions). rewards: (T, N). dones, time_outs: (T, N) bool.
        logs: the merged ``extras["log"]`` of each step (T dicts).
        log_prob, dist_params: the behaviour policy's (asynchronous mode only), (T, N) and (T, N, ...) each.
        versions: per worker, the weight version its part was collected with.
        restarted: workers re-created during this collection (their envs started afresh).
    """

    obs: TensorDict
    actions: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    time_outs: torch.Tensor
    logs: list[dict[str, float]]
    log_prob: torch.Tensor | None
    dist_params: tuple[torch.Tensor, ...] | None
    versions: list[int]
    restarted: list[int]


def _cat(parts: list[np.ndarray], axis: int) -> torch.Tensor:
    return torch.from_numpy(np.concatenate(parts, axis=axis))


class RayVecEnv(VecEnv):
    """``cfg.num_envs`` environments on Ray rollout workers, seen as one ``VecEnv``.

    Attributes:
        pool: the workers (:class:`~stridelab.distributed.pool.WorkerPool`).
        probe: a local 1-env instance of the config; ``robot``, ``observations`` and ``action_term`` are its
            (so that symmetry's mirror maps and descriptions work as with an in-process env).
        async_rollouts: :meth:`collect` returns the rollout started at the previous call and starts the next.
        extras: the last step's merged extras (``time_outs``, ``log``, ``unstable_total``).
    """

    def __init__(self, cfg: EnvConfig, options: RayOptions, pool: WorkerPool | None = None) -> None:
        self.cfg = cfg
        self.options = options
        self.device = "cpu"
        self.probe = make_env(replace(cfg, num_envs=1, num_threads=1))
        self.robot, self.observations, self.action_term = self.probe.robot, self.probe.observations, \
            self.probe.action_term
        self.num_actions = self.probe.num_actions
        self.max_episode_length = self.probe.max_episode_length
        self.dt = self.probe.dt
        self.pool = pool if pool is not None else WorkerPool(cfg, options)
        self.num_envs = int(sum(self.pool.sizes))
        self.async_rollouts = options.async_rollouts
        self.extras: dict = {}
        self.unstable_total = 0
        self._unstable_seen = [0] * self.pool.num_workers
        self._inflight: list[dict] | None = None
        self._weights_ref: Any = None
        try:
            self._refresh()
        except BaseException:
            self.close()
            raise

    # ---- VecEnv contract -------------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Read the workers' current observations and episode lengths."""
        obs = self.pool.call("observations")
        self._obs = TensorDict({g: _cat([o[g] for o in obs], 0) for g in obs[0]}, batch_size=[self.num_envs])
        self._episode_length = np.concatenate(self.pool.call("episode_lengths")).astype(np.int64)

    @property
    def episode_length_buf(self) -> torch.Tensor:
        """Control steps since each env's reset, as of the last call. Shape: (N,)."""
        return torch.from_numpy(self._episode_length)

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        lengths = np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value, dtype=np.int64)
        parts = self.pool.split(lengths)
        self.pool.call("set_episode_lengths", lambda k: (parts[k],))
        self._episode_length = np.concatenate(self.pool.call("episode_lengths")).astype(np.int64)

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """One control step on every worker (one round trip). A re-created worker's envs report done and
        timed out (their episodes were cut, not failed). Returns (obs, rewards (N,), dones (N,), extras)."""
        parts = self.pool.split(actions.detach().cpu().numpy().astype(np.float32))
        restarted: list[int] = []
        out = self.pool.call("step", lambda k: (parts[k],), on_restart=restarted.append)
        dones = np.concatenate([r["dones"] for r in out])
        time_outs = np.concatenate([r["time_outs"] for r in out])
        for k in restarted:
            dones[self.pool.rows(k)] = time_outs[self.pool.rows(k)] = True
        self._obs = TensorDict({g: _cat([r["obs"][g] for r in out], 0) for g in out[0]["obs"]},
                               batch_size=[self.num_envs])
        self._episode_length = np.concatenate([r["episode_length"] for r in out])
        self._count_unstable([r["unstable_total"] for r in out], restarted)
        log_info = merge_logs([r["log"] for r in out], [r["dones"] for r in out], self.pool.sizes)
        self.extras = {"time_outs": torch.from_numpy(time_outs), "log": log_info, "unstable_total": self.unstable_total}
        return self._obs, _cat([r["rewards"] for r in out], 0), torch.from_numpy(dones), self.extras

    def _count_unstable(self, totals: list[int], restarted: list[int]) -> None:
        """Add the workers' new unstable-simulation counts (a re-created worker counts from zero again)."""
        for k in restarted:
            self._unstable_seen[k] = 0
        for k, total in enumerate(totals):
            self.unstable_total += max(0, total - self._unstable_seen[k])
            self._unstable_seen[k] = total

    # ---- whole rollouts -----------------------------------------------------------------------------------
    def collect(self, weights: dict, num_steps: int) -> Rollout:
        """One rollout of ``num_steps`` steps from every worker, as one batch.

        ``weights`` (:func:`~stridelab.distributed.worker.policy_weights`) are put in the object store once
        and read by every worker. Synchronous: the rollout uses them. Asynchronous: the rollout started by
        the previous call (with the weights then newest) is returned and the next one is started with these;
        the first call collects with these weights first. A worker re-created during the call repeats its part
        with the newest weights.
        """
        self._weights_ref = ray.put(weights)
        behaviour = self.async_rollouts

        def args(k: int) -> tuple:
            return self._weights_ref, num_steps, True, behaviour

        tasks = self._inflight or [self.pool.submit(k, "collect", args) for k in range(self.pool.num_workers)]
        self._inflight = None
        restarted: list[int] = []
        results = self.pool.gather(tasks, on_restart=restarted.append)
        if self.async_rollouts:
            self._inflight = [self.pool.submit(k, "collect", args) for k in range(self.pool.num_workers)]
        parts = [results[k] for k in range(self.pool.num_workers)]
        return self._merge(parts, sorted(set(restarted)))

    def discard_inflight(self) -> None:
        """Wait for and drop a rollout started ahead (asynchronous mode), e.g. before a checkpoint is loaded."""
        if self._inflight:
            self.pool.gather(self._inflight)
            log.debug("dropped a rollout collected ahead of the learner")
        self._inflight = None

    def _merge(self, parts: list[dict], restarted: list[int]) -> Rollout:
        steps = len(parts[0]["logs"])
        obs = TensorDict({g: _cat([p["obs"][g] for p in parts], 1) for g in parts[0]["obs"]},
                         batch_size=[steps + 1, self.num_envs])
        sizes = self.pool.sizes
        logs = [merge_logs([p["logs"][t] for p in parts], [p["dones"][t] for p in parts], sizes) for t in range(steps)]
        behaviour = "log_prob" in parts[0]
        rollout = Rollout(
            obs=obs, actions=_cat([p["actions"] for p in parts], 1), rewards=_cat([p["rewards"] for p in parts], 1),
            dones=_cat([p["dones"] for p in parts], 1), time_outs=_cat([p["time_outs"] for p in parts], 1), logs=logs,
            log_prob=_cat([p["log_prob"] for p in parts], 1) if behaviour else None,
            dist_params=tuple(_cat([p["dist_params"][i] for p in parts], 1)
                              for i in range(len(parts[0]["dist_params"]))) if behaviour else None,
            versions=[int(p["version"]) for p in parts], restarted=restarted)
        self._obs = obs[steps].clone()
        self._episode_length = np.concatenate([p["episode_length"] for p in parts])
        self._count_unstable([p["unstable_total"] for p in parts], restarted)
        self.extras = {"time_outs": rollout.time_outs[-1], "log": dict(logs[-1]) if logs else {},
                       "unstable_total": self.unstable_total}
        return rollout

    # ---- checkpoints ----------------------------------------------------------------------------------------
    def env_state_dict(self) -> dict:
        """Every worker's env snapshot and sampling RNG, and the pool's layout and restart counts."""
        return {"layout": "ray", "sizes": list(self.pool.sizes), "restarts": list(self.pool.restarts),
                "workers": self.pool.call("state_dict"), "unstable_total": int(self.unstable_total)}

    def load_env_state(self, state: dict) -> None:
        """Continue from :meth:`env_state_dict` of a run with the same number of workers and envs per worker."""
        if state.get("layout") != "ray" or list(state["sizes"]) != list(self.pool.sizes):
            where = f"{len(state['sizes'])} Ray workers" if state.get("layout") == "ray" else "in-process"
            raise CheckpointError(f"the checkpoint's envs ran {where} with {state.get('sizes', state.get('num_envs'))} "
                                  f"envs; resume with the same --workers and --num-envs to continue them exactly.")
        self.discard_inflight()
        self.pool.call("load_state_dict", lambda k: (state["workers"][k],))
        self.pool.restarts = [int(r) for r in state["restarts"]]
        self.pool.total_restarts = int(sum(self.pool.restarts))
        self.unstable_total = int(state["unstable_total"])
        self._unstable_seen = [int(w["env"]["unstable_total"]) for w in state["workers"]]
        self._refresh()

    def close(self) -> None:
        """Stop the workers (and Ray, if this env started it)."""
        self.pool.close()
