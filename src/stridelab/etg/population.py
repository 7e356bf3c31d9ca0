"""Fitness of a population of generators: P members x K envs each, in one batched env.

Env ``i`` runs member ``i // K``'s generator (:meth:`stridelab.mdp.etg.etg_residual.set_weights` with one
row per env) under the same residual policy, deterministic. A member's fitness is the mean over its K
envs of the return of one episode: the sum of the task's rewards from a reset until its first
termination or ``episode_s`` seconds, as ETG-RL scores its ES candidates by the episode return with the
current policy. Every member meets the same conditions, so that the ranking reflects the generators:

- K velocity commands, drawn once per call by the task's own command term, are the same for every member
  (slot ``k`` of each member gets command ``k``); a steering command term (a course's: ``steers = True``)
  keeps steering each env's yaw rate, and only its forward and lateral commands are shared;
- the gait clocks start at phase 0 (no random start);
- on terrain, slot ``k`` of every member spawns on the same tile (rows and columns spread over the K
  slots); the curriculum is off;
- pushes (interval events) are off.

Reset noise and randomized physics (friction, mass) still differ between envs: K averages over them.

:func:`evaluate_population` is a plain function of a batch of parameter vectors, so that a Ray fan-out can
call it per slice of the population on its workers; :class:`PopulationEvaluator` keeps the env between
generations.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from stridelab.config import EnvConfig, override

log = logging.getLogger(__name__)


@dataclass
class PopulationResult:
    """What one evaluation measured.

    Attributes:
        fitness: mean return per member. Shape: (P,).
        returns: return per env, member-major. Shape: (P, K).
        lengths: episode length per env [control steps]. Shape: (P, K).
        env_steps: env transitions simulated (P x K x steps until every episode ended; ended envs count too:
            they cost the same).
        seconds: wall-clock time [s].
    """

    fitness: np.ndarray
    returns: np.ndarray
    lengths: np.ndarray
    env_steps: int
    seconds: float


def population_env_cfg(env_cfg: EnvConfig, num_envs: int, episode_s: float, seed: int) -> EnvConfig:
    """The task for population evaluation: no curriculum, no pushes, clocks from phase 0, one long episode."""
    from stridelab.eval.grid import eval_env_cfg

    cfg = eval_env_cfg(replace(env_cfg, curriculum={}), num_envs, episode_s, seed)
    gait = {name: {"params": {"random_start": False}} for name, t in cfg.commands.items()
            if t.func.rpartition(":")[2] == "gait_clock"}
    return override(cfg, commands=gait) if gait else cfg


class PopulationEvaluator:
    """One env of ``members * envs_per_member`` envs of an ETG task, reused for every call.

    Args:
        env_cfg: an ETG task (:func:`stridelab.etg.config.etg_env_cfg`).
        members: population size P (the number of parameter vectors per call).
        envs_per_member: K.
        episode_s: episode length [s].
        seed: seed of the env and of the commands.
        num_threads: physics threads (0: all cores).
    """

    def __init__(self, env_cfg: EnvConfig, members: int, envs_per_member: int, episode_s: float, seed: int = 0,
                 num_threads: int | None = None) -> None:
        from stridelab.envs import make_env
        self.members, self.k = int(members), int(envs_per_member)
        n = self.members * self.k
        cfg = population_env_cfg(env_cfg, n, episode_s, seed)
        if num_threads is not None:
            cfg = replace(cfg, num_threads=num_threads)
        self.env = make_env(cfg)
        self.steps = int(round(episode_s / self.env.dt))
        self.rng = np.random.default_rng(seed + 7919)
        self._share_tiles()

    def _share_tiles(self) -> None:
        """On terrain: slot k of every member on the same tile (levels drawn once, types spread over the slots)."""
        terrain = getattr(self.env.robot, "terrain", None)
        if terrain is None:
            return
        from stridelab.mdp.terrain import tiles_of

        tiles = tiles_of(self.env, "ES population evaluation")
        rows = self.rng.integers(0, tiles.num_rows, size=self.k)
        cols = np.floor(np.arange(self.k) * tiles.num_cols / self.k).astype(np.int64)
        tiles.rows[:] = np.tile(rows, self.members)
        tiles.cols[:] = np.tile(cols, self.members)

    def _commands(self) -> None:
        """Before the reset: the task's own sampler draws K commands (slots), held by every member."""
        velocity = self.env.commands.velocity
        if velocity is None or getattr(velocity, "steers", False) or not hasattr(velocity, "set_fixed"):
            return
        velocity.set_fixed(None)  # sample again (standing fraction and all), then hold the first K
        self.env.set_commands(np.tile(velocity.command[:self.k].copy(), (self.members, 1)))

    def _steered_commands(self) -> None:
        """After the reset, for a command term that steers (a course's): every member takes slot k's forward and
        lateral command (the term keeps steering the yaw rate from each env's pose; the first observation still
        shows the env's own draw)."""
        velocity = self.env.commands.velocity
        if velocity is not None and getattr(velocity, "steers", False):
            velocity.command[:, :2] = np.tile(velocity.command[:self.k, :2], (self.members, 1))

    def __call__(self, params: np.ndarray, policy: Callable | None = None,
                 call_seed: int | None = None) -> PopulationResult:
        """Fitness of each row of ``params`` (Shape: (P, D) generator weights [m]) under ``policy``
        (observation TensorDict -> actions; ``None``: zero residual, the generator alone).

        ``call_seed`` re-seeds the env's random stream first (commands, reset noise, randomized physics):
        evaluators built alike then draw the same conditions for the same call, wherever they run (the Ray
        evaluator's workers, a re-created worker). ``None`` continues the stream of the previous call."""
        t0 = time.monotonic()
        params = np.asarray(params, dtype=np.float64)
        if params.shape[0] != self.members:
            raise ValueError(f"the evaluator was built for {self.members} members, got {params.shape[0]}")
        env = self.env
        if call_seed is not None:
            env.rng.bit_generator.state = np.random.default_rng(call_seed).bit_generator.state
        env.action_term.set_weights(np.repeat(params, self.k, axis=0))
        self._commands()
        obs = env.reset_all()
        self._steered_commands()
        if policy is not None and hasattr(policy, "reset"):
            policy.reset()
        n = env.num_envs
        alive = np.ones(n, dtype=bool)
        returns = np.zeros(n)
        lengths = np.zeros(n, dtype=np.int64)
        zeros = torch.zeros(n, env.num_actions)
        steps = 0
        with torch.inference_mode():
            for steps in range(1, self.steps + 1):
                actions = policy(obs) if policy is not None else zeros
                obs, reward, dones, _ = env.step(actions)
                returns += reward.numpy().astype(np.float64) * alive
                lengths += alive
                alive &= ~dones.numpy()
                if not alive.any():
                    break
        returns = returns.reshape(self.members, self.k)
        return PopulationResult(returns.mean(axis=1), returns, lengths.reshape(self.members, self.k),
                                n * steps, time.monotonic() - t0)


def evaluate_population(env_cfg: EnvConfig, params: np.ndarray, policy: Callable | None = None,
                        envs_per_member: int = 4, episode_s: float = 5.0, seed: int = 0,
                        num_threads: int | None = None) -> PopulationResult:
    """Fitness of each generator in ``params`` (Shape: (P, D)) on ``env_cfg``: a plain function over a batch
    of parameter vectors (builds its env; for repeated calls keep a :class:`PopulationEvaluator`)."""
    evaluator = PopulationEvaluator(env_cfg, len(params), envs_per_member, episode_s, seed, num_threads)
    return evaluator(params, policy)
