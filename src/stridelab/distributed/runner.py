"""The PPO learner of a Ray run: rsl-rl-lib's iteration with the rollout collected on the workers.

:class:`RayRunner` is :class:`~stridelab.learn.runners.StridelabRunner` (so checkpoints, walk checks,
budgets and TensorBoard work as in-process) with ``learn`` re-stated around one change: instead of
``num_steps_per_env`` calls of ``alg.act`` + ``env.step``, each iteration

1. broadcasts the actor's weights once (``RayVecEnv.collect``: one object in Ray's object store);
2. receives one batch per worker (observations of every group, actions, rewards, dones, time-outs, logs);
3. evaluates the critic (and, synchronously, the actor's distribution) on the whole batch in one
   forward pass and feeds the transitions to rsl-rl's own ``process_env_step``, so the storage, the
   time-out bootstrapping, ``compute_returns`` and ``update`` are rsl-rl's, unchanged;
4. logs through rsl-rl's logger, plus ``Ray/worker_restarts`` and ``Ray/policy_lag``.

Synchronous (default): the workers sampled with exactly the weights the learner then evaluates, so the
log-probabilities and distribution parameters recomputed here are those of the behaviour policy (to
float rounding): PPO stays on-policy. The observation normalizer is updated on the learner from the
whole batch by rsl-rl's ``update`` (as in-process: rsl-rl updates it there, not during the rollout).

Asynchronous (``--async-rollouts``): the batch was sampled with the weights of the previous iteration
(policy lag 1, logged); the workers send the behaviour policy's log-probabilities and distribution
parameters, which become PPO's "old" ones, so its ratio is the importance weight of the newer policy
and its KL (adaptive learning rate) is measured against the policy that acted.
"""

from __future__ import annotations

import logging
import os
import time

import torch
from rsl_rl.utils import check_nan

from stridelab.distributed.vec_env import RayVecEnv, Rollout
from stridelab.distributed.worker import policy_weights
from stridelab.learn.runners import StridelabRunner

log = logging.getLogger(__name__)


class RayRunner(StridelabRunner):
    """rsl-rl-lib PPO fed by :class:`~stridelab.distributed.vec_env.RayVecEnv` rollouts.

    Attributes:
        policy_spec: the actor's description sent with its weights (set by the trainer; see
            :func:`~stridelab.distributed.worker.policy_weights`).
        version: PPO updates done so far (the weights' version; the policy lag is counted in versions).
        last_lag: the mean policy lag of the last batch [iterations].
    """

    env: RayVecEnv

    def __init__(self, env: RayVecEnv, train_cfg: dict, log_dir: str | None = None, device: str = "cpu") -> None:
        super().__init__(env, train_cfg, log_dir=log_dir, device=device)
        self.policy_spec: dict | None = None
        self.version = 0
        self.last_lag = 0.0

    def learn(self, num_learning_iterations: int, init_at_random_ep_len: bool = False) -> None:
        """rsl-rl's ``OnPolicyRunner.learn`` with the rollout collected on the workers (see the module docstring)."""
        if self.policy_spec is None:
            raise RuntimeError("RayRunner.policy_spec must be set before learn()")
        if init_at_random_ep_len:
            self.env.episode_length_buf = torch.randint_like(self.env.episode_length_buf,
                                                             high=int(self.env.max_episode_length))
        self.alg.train_mode()
        self.logger.init_logging_writer()
        start_it = self.current_learning_iteration
        total_it = start_it + num_learning_iterations
        for it in range(start_it, total_it):
            start = time.time()
            weights = policy_weights(self.policy_spec, self.alg.get_policy(), self.version)
            rollout = self.env.collect(weights, self.cfg["num_steps_per_env"])
            with torch.inference_mode():
                last_obs = self._store(rollout)
                stop = time.time()
                collect_time, start = stop - start, stop
                self.alg.compute_returns(last_obs)
            loss_dict = self.alg.update()
            self.version += 1
            stop = time.time()
            learn_time = stop - start
            self.current_learning_iteration = it
            self.logger.log(it=it, start_it=start_it, total_it=total_it, collect_time=collect_time,
                            learn_time=learn_time, loss_dict=loss_dict, learning_rate=self.alg.learning_rate,
                            action_std=self.alg.get_policy().output_std, rnd_weight=None)
            if self.logger.writer is not None and it % self.cfg["save_interval"] == 0:
                self.save(os.path.join(self.logger.log_dir, f"model_{it}.pt"))
        if self.logger.writer is not None:
            self.save(os.path.join(self.logger.log_dir, f"model_{self.current_learning_iteration}.pt"))
            self.logger.stop_logging_writer()

    def _store(self, rollout: Rollout) -> object:
        """Fill rsl-rl's storage (and its logger's episode statistics) from one rollout; returns the last obs.

        Shapes: ``T`` steps of ``N`` envs; every tensor is moved to the learner's device once.
        """
        alg, dev = self.alg, self.device
        obs = rollout.obs.to(dev)
        steps, n = rollout.actions.shape[0], rollout.actions.shape[1]
        actions, rewards = rollout.actions.to(dev), rollout.rewards.to(dev)
        dones, time_outs = rollout.dones.to(dev), rollout.time_outs.to(dev)
        if self.cfg.get("check_for_nan", True):
            check_nan(obs, rewards, dones)
        flat = obs[:steps].reshape(steps * n)
        values = alg.critic(flat).reshape(steps, n, -1)
        if rollout.log_prob is None:  # synchronous: the learner's actor is the behaviour policy
            alg.actor(flat, stochastic_output=True)
            log_prob = alg.actor.get_output_log_prob(actions.reshape(steps * n, -1)).reshape(steps, n)
            params = tuple(p.reshape(steps, n, *p.shape[1:]) for p in alg.actor.output_distribution_params)
        else:
            log_prob = rollout.log_prob.to(dev)
            params = tuple(p.to(dev) for p in rollout.dist_params)
        self._account(rollout)
        for t in range(steps):  # a loop over steps, as rsl-rl's own rollout; every env at once
            tr = alg.transition
            tr.hidden_states = (None, None)
            tr.observations, tr.actions, tr.values = obs[t], actions[t], values[t]
            tr.actions_log_prob = log_prob[t]
            tr.distribution_params = tuple(p[t] for p in params)
            extras = {"time_outs": time_outs[t], "log": rollout.logs[t]}
            alg.process_env_step(obs[t + 1], rewards[t], dones[t], extras)
            self.logger.process_env_step(rewards[t], dones[t], extras, None)
        return obs[steps]

    def _account(self, rollout: Rollout) -> None:
        """Restarts and policy lag into the last step's log (``Ray/worker_restarts``, ``Ray/policy_lag``);
        a re-created worker's envs start new episodes, so the logger's running sums for its rows restart."""
        for k in rollout.restarted:
            rows = self.env.pool.rows(k)
            self.logger.cur_reward_sum[rows] = 0
            self.logger.cur_episode_length[rows] = 0
        lags = [self.version - v for v in rollout.versions]
        self.last_lag = sum(lags) / len(lags)
        if max(lags) > 1:
            raise RuntimeError(f"policy lag {max(lags)} exceeds the bound of 1 iteration")
        if rollout.logs:
            rollout.logs[-1]["Ray/worker_restarts"] = float(self.env.pool.total_restarts)
            rollout.logs[-1]["Ray/policy_lag"] = float(self.last_lag)
        if self.env.async_rollouts:
            log.debug("policy lag %.2f iterations (per worker %s)", self.last_lag, lags)

