"""ETG's population problem: the fitness of trajectory generators, for the one population evaluator.

:class:`ETGProblem` is what ETG hands to :class:`stridelab.distributed.population.PopulationEvaluator` (which
owns the batched env of P members x K envs, the call seeds, the Ray fan-out and the step accounting). A member
is a generator's weight vector [m] (Shape: (2 num_rbf,)); env ``i`` runs member ``i // K``'s generator
(:meth:`stridelab.mdp.etg.etg_residual.set_weights` with one row per env) under the same residual policy,
deterministic (the call's context; ``None``: zero residual, the generator alone). An env's value is the return
of one episode: the sum of the task's rewards from a reset until its first termination or ``episode_s``
seconds, as ETG-RL scores its ES candidates by the episode return with the current policy; a member's fitness
is the mean over its K envs. Every member meets the same conditions, so that the ranking reflects the
generators:

- K velocity commands, drawn once per call by the task's own command term, are the same for every member
  (slot ``k`` of each member gets command ``k``); a steering command term (a course's: ``steers = True``)
  keeps steering each env's yaw rate, and only its forward and lateral commands are shared;
- the gait clocks start at phase 0 (no random start);
- on terrain, slot ``k`` of every member spawns on the same tile (rows and columns spread over the K slots,
  fixed when the env is built); the curriculum is off;
- pushes (interval events) are off.

Reset noise and randomized physics (friction, mass) still differ between envs: K averages over them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from stridelab.config import EnvConfig, override


@dataclass(frozen=True)
class ETGProblem:
    """ETG's :class:`~stridelab.distributed.population.PopulationProblem` (module docstring).

    Attributes:
        episode_s: episode length [s].
    """

    episode_s: float = 5.0

    def steps(self, dt: float) -> int:
        """Control steps of one episode at control period ``dt`` [s]."""
        return int(round(self.episode_s / dt))

    def prepare_cfg(self, env_cfg: EnvConfig) -> EnvConfig:
        """The task for population evaluation: no curriculum, no pushes, clocks from phase 0, one long episode."""
        from stridelab.eval.grid import eval_env_cfg

        cfg = eval_env_cfg(replace(env_cfg, curriculum={}), env_cfg.num_envs, self.episode_s, env_cfg.seed)
        gait = {name: {"params": {"random_start": False}} for name, t in cfg.commands.items()
                if t.func.rpartition(":")[2] == "gait_clock"}
        return override(cfg, commands=gait) if gait else cfg

    def prepare_env(self, env: Any, envs_per_member: int) -> None:
        """On terrain: slot k of every member on the same tile (levels drawn once from the evaluation seed, types
        spread over the slots)."""
        if getattr(env.robot, "terrain", None) is None:
            return
        from stridelab.mdp.terrain import tiles_of

        k = envs_per_member
        tiles = tiles_of(env, "ES population evaluation")
        rows = np.random.default_rng(env.cfg.seed + 7919).integers(0, tiles.num_rows, size=k)
        cols = np.floor(np.arange(k) * tiles.num_cols / k).astype(np.int64)
        members = env.num_envs // k
        tiles.rows[:] = np.tile(rows, members)
        tiles.cols[:] = np.tile(cols, members)

    def write_members(self, env: Any, params: np.ndarray, envs_per_member: int) -> None:
        """Member ``i``'s generator weights (row ``i`` of ``params``, Shape: (P, 2 num_rbf) [m]) in its K envs."""
        env.action_term.set_weights(np.repeat(params, envs_per_member, axis=0))

    def rollout(self, env: Any, envs_per_member: int, context: Callable | None) -> np.ndarray:
        """One episode per env under the residual policy ``context`` (observation TensorDict -> actions;
        ``None``: zero residual). Returns each env's return. Shape: (num_envs,)."""
        policy, k = context, envs_per_member
        members = env.num_envs // k
        _share_commands(env, k, members)
        obs = env.reset_all()
        _share_steered_commands(env, k, members)
        if policy is not None and hasattr(policy, "reset"):
            policy.reset()
        n = env.num_envs
        alive = np.ones(n, dtype=bool)
        returns = np.zeros(n)
        zeros = torch.zeros(n, env.num_actions)
        with torch.inference_mode():
            for _ in range(self.steps(env.dt)):
                actions = policy(obs) if policy is not None else zeros
                obs, reward, dones, _ = env.step(actions)
                returns += reward.numpy().astype(np.float64) * alive
                alive &= ~dones.numpy()
                if not alive.any():
                    break
        return returns


def _share_commands(env: Any, k: int, members: int) -> None:
    """Before the reset: the task's own sampler draws K commands (slots), held by every member."""
    velocity = env.commands.velocity
    if velocity is None or getattr(velocity, "steers", False) or not hasattr(velocity, "set_fixed"):
        return
    velocity.set_fixed(None)  # sample again (standing fraction and all), then hold the first K
    env.set_commands(np.tile(velocity.command[:k].copy(), (members, 1)))


def _share_steered_commands(env: Any, k: int, members: int) -> None:
    """After the reset, for a command term that steers (a course's): every member takes slot k's forward and
    lateral command (the term keeps steering the yaw rate from each env's pose; the first observation still shows
    the env's own draw)."""
    velocity = env.commands.velocity
    if velocity is not None and getattr(velocity, "steers", False):
        velocity.command[:, :2] = np.tile(velocity.command[:k, :2], (members, 1))
