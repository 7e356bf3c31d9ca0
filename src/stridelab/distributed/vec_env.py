"""Ray rollout workers behind rsl-rl-lib's ``VecEnv`` contract, so that rsl-rl's own ``OnPolicyRunner.learn``
trains on them unchanged.

:class:`RayVecEnv` looks like one env of ``cfg.num_envs`` environments (rows in worker order) to rsl-rl-lib
and to the trainer: ``get_observations``, ``step``, ``episode_length_buf``, ``extras``, ``unstable_total``. It
also carries a local 1-env *probe* of the same config for what the learner needs to know about the task
(observation and action sizes, mirror maps for symmetry).

- **Synchronous (default).** ``step(actions)`` fans one control step out to the workers: the learner samples
  the actions of every env (rsl-rl's ``alg.act``, recurrent state included) and each worker steps its envs
  with its rows. PPO is exactly on-policy, and any policy rsl-rl trains (MLP, LSTM, GRU) trains on Ray.
- **Asynchronous** (``RayOptions.async_rollouts``, HasRL's mode). Each worker steps whole rollouts with its
  own copy of the actor, the next one starting with the newest weights while the learner updates (policy
  lag at most one iteration, logged as ``Ray/policy_lag``). The learner replays a finished rollout through
  rsl-rl's loop: :meth:`behaviour` gives each step's observation, actions, log-probabilities and distribution
  parameters, which :func:`stridelab.learn.runners.replay_behaviour` records in place of the learner's own
  samples (PPO's ratio is then the importance weight of the newer policy), and ``step`` returns the
  rollout's next observations, rewards and dones. A recurrent actor keeps its state on each worker.

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
from stridelab.envs import make_env
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
        log_prob, dist_params: the behaviour policy's, (T, N) and (T, N, ...) each.
        versions: per worker, the weight version its part was collected with.
        restarted: workers re-created during this collection (their envs started afresh).
    """

    obs: TensorDict
    actions: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    time_outs: torch.Tensor
    logs: list[dict[str, float]]
    log_prob: torch.Tensor
    dist_params: tuple[torch.Tensor, ...]
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
        async_rollouts: the workers collect whole rollouts ahead of the learner (module docstring).
        extras: the last step's merged extras (``time_outs``, ``log``, ``unstable_total``).
        last_lag: the mean policy lag of the rollout being replayed [iterations] (asynchronous mode).
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
        self.last_lag = 0.0
        self._unstable_seen = [0] * self.pool.num_workers
        self._inflight: list[dict] | None = None
        self._weights_ref: Any = None
        self._policy: tuple[dict, Any] | None = None  # (description, () -> the learner's current actor)
        self._num_steps = 0
        self._iteration = 0  # rollouts replayed so far (asynchronous mode): the learner's weight version
        self._replay: Rollout | None = None
        self._t = 0
        try:
            self._refresh()
        except BaseException:
            self.close()
            raise

    def bind_policy(self, spec: dict, current: Any, num_steps: int) -> None:
        """Where the asynchronous workers get their weights: ``current()`` is the learner's actor (described by
        ``spec``, as in a checkpoint), read at the start of each iteration of ``num_steps`` steps."""
        self._policy, self._num_steps = (spec, current), int(num_steps)

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
        self.discard_inflight()
        self.pool.call("set_episode_lengths", lambda k: (parts[k],))
        self._episode_length = np.concatenate(self.pool.call("episode_lengths")).astype(np.int64)

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """One control step of every env. Returns (obs, rewards (N,), dones (N,), extras).

        Synchronous: ``actions`` (N, num_actions) go to the workers (one round trip). Asynchronous: the
        replayed rollout's next step (its actions were the ones :meth:`behaviour` gave)."""
        if self.async_rollouts:
            return self._replay_step()
        parts = self.pool.split(actions.detach().cpu().numpy().astype(np.float32))
        restarted: list[int] = []
        out = self.pool.call("step", lambda k: (parts[k],), on_restart=restarted.append)
        dones = np.concatenate([r["dones"] for r in out])
        time_outs = np.concatenate([r["time_outs"] for r in out])
        for k in restarted:  # a re-created worker's envs start new episodes: the old ones were cut, not failed
            dones[self.pool.rows(k)] = time_outs[self.pool.rows(k)] = True
        self._obs = TensorDict({g: _cat([r["obs"][g] for r in out], 0) for g in out[0]["obs"]},
                               batch_size=[self.num_envs])
        self._episode_length = np.concatenate([r["episode_length"] for r in out])
        self._count_unstable([r["unstable_total"] for r in out], restarted)
        log_info = merge_logs([r["log"] for r in out], [r["dones"] for r in out], self.pool.sizes)
        log_info["Ray/worker_restarts"] = float(self.pool.total_restarts)
        self.extras = {"time_outs": torch.from_numpy(time_outs), "log": log_info, "unstable_total": self.unstable_total}
        return self._obs, _cat([r["rewards"] for r in out], 0), torch.from_numpy(dones), self.extras

    def _count_unstable(self, totals: list[int], restarted: list[int]) -> None:
        """Add the workers' new unstable-simulation counts (a re-created worker counts from zero again)."""
        for k in restarted:
            self._unstable_seen[k] = 0
        for k, total in enumerate(totals):
            self.unstable_total += max(0, total - self._unstable_seen[k])
            self._unstable_seen[k] = total

    # ---- asynchronous: replaying the workers' rollouts ---------------------------------------------------
    def behaviour(self) -> tuple[TensorDict, torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]] | None:
        """What the behaviour policy saw and did at this step (asynchronous mode; ``None`` when synchronous):
        (observations, actions (N, A), log-probabilities (N,), distribution parameters, e.g. (mean, std)).

        At the first step of an iteration the rollout collected ahead is taken (the first one is collected
        now) and the next one is started with the learner's current weights."""
        if not self.async_rollouts:
            return None
        if self._replay is None:
            if self._policy is None:
                raise RuntimeError("asynchronous rollouts need RayVecEnv.bind_policy() before training")
            self._replay, self._t = self._next_rollout(), 0
        r, t = self._replay, self._t
        return r.obs[t], r.actions[t], r.log_prob[t], tuple(p[t] for p in r.dist_params)

    def _next_rollout(self) -> Rollout:
        from stridelab.distributed.worker import policy_weights

        spec, current = self._policy
        rollout = self.collect(policy_weights(spec, current(), self._iteration), self._num_steps)
        lags = [self._iteration - v for v in rollout.versions]
        if max(lags) > 1:
            raise RuntimeError(f"policy lag {max(lags)} exceeds the bound of 1 iteration")
        self.last_lag = sum(lags) / len(lags)
        log.debug("policy lag %.2f iterations (per worker %s)", self.last_lag, lags)
        self._iteration += 1
        return rollout

    def _replay_step(self) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        r, t = self._replay, self._t
        if r is None:
            raise RuntimeError("RayVecEnv.step in asynchronous mode follows behaviour() (rsl-rl's alg.act)")
        log_info = dict(r.logs[t])
        log_info.update({"Ray/worker_restarts": float(self.pool.total_restarts), "Ray/policy_lag": self.last_lag})
        self.extras = {"time_outs": r.time_outs[t], "log": log_info, "unstable_total": self.unstable_total}
        self._t += 1
        if self._t == len(r.logs):
            self._replay = None
        return r.obs[t + 1], r.rewards[t], r.dones[t], self.extras

    # ---- whole rollouts -----------------------------------------------------------------------------------
    def collect(self, weights: dict, num_steps: int) -> Rollout:
        """One rollout of ``num_steps`` steps from every worker, as one batch, sampled with the workers' own
        copies of the actor and recorded with the behaviour policy's log-probabilities (asynchronous mode).

        ``weights`` (:func:`~stridelab.distributed.worker.policy_weights`) are put in the object store once
        and read by every worker. The rollout started by the previous call (with the weights then newest) is
        returned and the next one is started with these; the first call collects with these weights first. A
        worker re-created during the call repeats its part with the newest weights.
        """
        self._weights_ref = ray.put(weights)

        def args(k: int) -> tuple:
            return self._weights_ref, num_steps, True, True

        tasks = self._inflight or [self.pool.submit(k, "collect", args) for k in range(self.pool.num_workers)]
        self._inflight = None
        restarted: list[int] = []
        results = self.pool.gather(tasks, on_restart=restarted.append)
        self._inflight = [self.pool.submit(k, "collect", args) for k in range(self.pool.num_workers)]
        parts = [results[k] for k in range(self.pool.num_workers)]
        return self._merge(parts, sorted(set(restarted)))

    def discard_inflight(self) -> None:
        """Wait for and drop a rollout started ahead, and the one being replayed (asynchronous mode), e.g. before
        a checkpoint is loaded or the episode lengths are set."""
        if self._inflight:
            self.pool.gather(self._inflight)
            log.debug("dropped a rollout collected ahead of the learner")
        self._inflight, self._replay = None, None

    def _merge(self, parts: list[dict], restarted: list[int]) -> Rollout:
        steps = len(parts[0]["logs"])
        obs = TensorDict({g: _cat([p["obs"][g] for p in parts], 1) for g in parts[0]["obs"]},
                         batch_size=[steps + 1, self.num_envs])
        sizes = self.pool.sizes
        logs = [merge_logs([p["logs"][t] for p in parts], [p["dones"][t] for p in parts], sizes) for t in range(steps)]
        rollout = Rollout(
            obs=obs, actions=_cat([p["actions"] for p in parts], 1), rewards=_cat([p["rewards"] for p in parts], 1),
            dones=_cat([p["dones"] for p in parts], 1), time_outs=_cat([p["time_outs"] for p in parts], 1), logs=logs,
            log_prob=_cat([p["log_prob"] for p in parts], 1),
            dist_params=tuple(_cat([p["dist_params"][i] for p in parts], 1) for i in range(len(parts[0]["dist_params"]))),
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
