"""A rollout worker: the code of one Ray actor (imports no Ray; :mod:`.pool` wraps it in ``ray.remote``).

A worker owns a :class:`~stridelab.envs.locomotion_env.LocomotionEnv` (one ``mujoco.batch.Batch``)
built from a plain, picklable :class:`~stridelab.config.EnvConfig` (already cut to this worker's
``num_envs`` and ``num_threads``) and its place in the seed stream (``worker``, ``restart``). Synchronous
training steps it one control step at a time with the learner's actions (:meth:`RolloutWorker.step`);
asynchronous training gives it a CPU copy of the learner's actor once per iteration (one object in Ray's
object store for all workers) and it steps a whole rollout with it, returning one batch
(:meth:`RolloutWorker.collect`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from stridelab.config import EnvConfig
from stridelab.distributed.options import worker_seeds
from stridelab.envs.snapshot import env_state_dict, load_env_state
from stridelab.learn.models import build_model
from stridelab.envs import make_env
Batch = dict[str, Any]


def policy_weights(spec: dict, model: torch.nn.Module, version: int) -> dict:
    """What the learner broadcasts once per iteration: the actor's description and CPU weights.

    Args:
        spec: ``policy_model``, ``policy_cfg``, ``policy_obs_groups``, ``num_actions`` (as in a checkpoint).
        model: the learner's actor (on any device).
        version: number of PPO updates behind these weights (the policy lag is counted in versions).
    """
    return {"spec": spec, "version": int(version),
            "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}}


def collect_rollout(env: Any, actor: torch.nn.Module, num_steps: int, stochastic: bool = True,
                    behaviour: bool = False) -> Batch:
    """Step ``env`` ``num_steps`` control steps with ``actor``; everything the learner needs, as numpy.

    Shapes (``T = num_steps``, ``n = env.num_envs``):
        ``obs``: {group: (T + 1, n, size)} float32 (row ``t`` is what the actor saw at step ``t``; row
        ``T`` the observation after the last step); ``actions`` (T, n, num_actions) float32;
        ``rewards`` (T, n) float32; ``dones``, ``time_outs`` (T, n) bool; ``logs``: the env's
        ``extras["log"]`` of each step (T dicts of floats); ``unstable_total`` (int);
        ``episode_length`` (n,) control steps since each env's reset. With ``behaviour``: the sampling
        distribution's ``log_prob`` (T, n) and ``dist_params`` (tuple of (T, n, ...)), i.e. what the
        behaviour policy did, for asynchronous PPO.

    Args:
        stochastic: sample from the actor's distribution (training); otherwise its mean.
    """
    obs = env.get_observations()
    out_obs = {g: np.empty((num_steps + 1, *v.shape), dtype=np.float32) for g, v in obs.items()}
    n, a = env.num_envs, env.num_actions
    actions = np.empty((num_steps, n, a), dtype=np.float32)
    rewards = np.empty((num_steps, n), dtype=np.float32)
    dones = np.empty((num_steps, n), dtype=bool)
    time_outs = np.empty((num_steps, n), dtype=bool)
    log_prob = np.empty((num_steps, n), dtype=np.float32) if behaviour else None
    params: list[np.ndarray] | None = None
    logs = []
    with torch.inference_mode():
        for t in range(num_steps):
            for g, v in obs.items():
                out_obs[g][t] = v.numpy()
            act = actor(obs, stochastic_output=stochastic)
            if behaviour:
                log_prob[t] = actor.get_output_log_prob(act).numpy()
                dist = actor.output_distribution_params  # e.g. (mean, std), each (n, num_actions)
                if params is None:
                    params = [np.empty((num_steps, *p.shape), dtype=np.float32) for p in dist]
                for buf, p in zip(params, dist):
                    buf[t] = p.numpy()
            obs, rew, done, extras = env.step(act)
            if getattr(actor, "is_recurrent", False):
                actor.reset(done)  # a recurrent actor forgets the episodes that ended; its state carries over
            actions[t] = act.numpy()
            rewards[t] = rew.numpy()
            dones[t] = done.numpy()
            time_outs[t] = extras["time_outs"].numpy()
            logs.append({k: float(v) for k, v in extras.get("log", {}).items()})
        for g, v in obs.items():
            out_obs[g][num_steps] = v.numpy()
    batch: Batch = {"obs": out_obs, "actions": actions, "rewards": rewards, "dones": dones, "time_outs": time_outs,
                    "logs": logs, "unstable_total": int(getattr(env, "unstable_total", 0)),
                    "episode_length": np.asarray(env.episode_length_buf.numpy(), dtype=np.int64).copy()}
    if behaviour:
        batch["log_prob"] = log_prob
        batch["dist_params"] = tuple(params or ())
    return batch


class RolloutWorker:
    """One rollout worker (a Ray actor when created by :class:`~stridelab.distributed.pool.WorkerPool`).

    Args:
        env_cfg: this worker's env config (its own ``num_envs`` and ``num_threads``; ``seed`` is the run's).
        worker: index of this worker in the pool (0 .. workers - 1).
        restart: how many times this worker has been re-created; with ``worker`` and the run's seed it
            selects the env seed and the action-sampling seed (:func:`~.options.worker_seeds`).
        torch_threads: torch intra-op threads for the policy copy.
    """

    def __init__(self, env_cfg: EnvConfig, worker: int, restart: int, torch_threads: int = 1) -> None:
        env_seed, torch_seed = worker_seeds(env_cfg.seed, worker, restart)
        torch.set_num_threads(torch_threads)
        torch.manual_seed(torch_seed)
        self.worker, self.restart, self.env_seed = worker, restart, env_seed
        self.env = make_env(replace(env_cfg, seed=env_seed))
        self._actor: torch.nn.Module | None = None
        self._spec: dict | None = None
        self._version: int | None = None

    # ---- identity ----------------------------------------------------------------------------------
    def info(self) -> dict:
        """``pid``, ``host``, ``worker``, ``restart``, ``env_seed`` and ``num_envs`` of this worker."""
        return {"pid": os.getpid(), "host": socket.gethostname(), "worker": self.worker, "restart": self.restart,
                "env_seed": self.env_seed, "num_envs": self.env.num_envs}

    # ---- the VecEnv side -----------------------------------------------------------------------------
    def observations(self) -> dict[str, np.ndarray]:
        """The current observations: {group: (n, size)} float32."""
        return {g: v.numpy().copy() for g, v in self.env.get_observations().items()}

    def episode_lengths(self) -> np.ndarray:
        """Control steps since each env's reset. Shape: (n,)."""
        return self.env.episode_length_buf.numpy().copy()

    def set_episode_lengths(self, lengths: np.ndarray) -> None:
        """Set each env's step count (rsl-rl randomizes them at the start of training). Shape: (n,)."""
        self.env.episode_length_buf = torch.from_numpy(np.array(lengths, dtype=np.int64))

    def step(self, actions: np.ndarray) -> Batch:
        """One control step of every env (the per-step ``VecEnv.step``). ``actions`` Shape: (n, num_actions).

        Returns ``obs`` {group: (n, size)}, ``rewards`` (n,), ``dones`` and ``time_outs`` (n,) bool,
        ``log`` (dict of floats), ``unstable_total`` and ``episode_length`` (n,).
        """
        obs, rew, done, extras = self.env.step(torch.as_tensor(np.asarray(actions, dtype=np.float32)))
        return {"obs": {g: v.numpy().copy() for g, v in obs.items()}, "rewards": rew.numpy().copy(),
                "dones": done.numpy().copy(), "time_outs": extras["time_outs"].numpy().copy(),
                "log": {k: float(v) for k, v in extras.get("log", {}).items()},
                "unstable_total": int(self.env.unstable_total), "episode_length": self.episode_lengths()}

    # ---- rollouts ------------------------------------------------------------------------------------
    def collect(self, weights: dict, num_steps: int, stochastic: bool = True, behaviour: bool = False) -> Batch:
        """A whole rollout with the broadcast ``weights`` (:func:`policy_weights`); see :func:`collect_rollout`.

        The batch also carries ``version`` (of the weights used) and ``worker``.
        """
        actor = self._load(weights)
        batch = collect_rollout(self.env, actor, num_steps, stochastic=stochastic, behaviour=behaviour)
        batch.update(version=self._version, worker=self.worker)
        return batch

    def _load(self, weights: dict) -> torch.nn.Module:
        """The actor copy with ``weights`` (rebuilt when the description changes, reloaded when the version does)."""
        if self._actor is None or weights["spec"] != self._spec:
            # constructing a model draws its initial weights: keep the sampling stream untouched, so that
            # a worker restored from a snapshot samples exactly what the snapshotted one would have
            with torch.random.fork_rng(devices=[]):
                self._actor = build_model(weights["spec"], weights["state_dict"])
            self._spec = weights["spec"]
        elif weights["version"] != self._version:
            self._actor.load_state_dict(weights["state_dict"], strict=True)
        self._version = weights["version"]
        return self._actor

    # ---- snapshots -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The env snapshot and the sampling RNG (tensors and plain values: a checkpoint may hold it)."""
        return {"worker": self.worker, "restart": self.restart, "env": env_state_dict(self.env),
                "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly from :meth:`state_dict` (same config and number of envs)."""
        load_env_state(self.env, state["env"])
        torch.set_rng_state(state["torch_rng"])
