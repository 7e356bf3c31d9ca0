"""Evolution strategies: the fitness of a population of parameter vectors, in-process or on Ray workers.

The population is spread over the env batch: with ``envs_per_member = m``, member ``i`` of a chunk
drives envs ``i*m .. i*m + m - 1`` of that chunk's env, and a :class:`PopulationPolicy` computes every
member's actions in one batched call (no loop over members or envs). A population of ``P`` members is
cut into chunks of ``members_per_batch``; chunk ``c`` is always evaluated in an env built from the same
config and the seed ``chunk_seed(seed, c)``, so a member's fitness depends on its parameters, its chunk
and the seed only: not on where the chunk runs. :func:`evaluate_population` runs the chunks one after
the other in-process, or spreads them over the workers of a
:class:`~stridelab.distributed.pool.WorkerPool` (a worker that dies is re-created and its chunks are
evaluated again: same seeds, same fitnesses).

Fitness = the summed reward of ``num_steps`` control steps (episodes that end are reset and go on, as in
training), averaged over the member's ``m`` envs.

Plug-in point: a picklable object with ``num_params``, ``act(obs, params, envs_per_member)`` and
optionally ``setup_env(env, params, envs_per_member)`` (e.g. dynamics identification writes each
member's model parameters into its envs there; ETG's trajectory generator maps its parameters to
actions in ``act``). :class:`MLPActorPopulation` is the one shipped: a member is a full weight vector
of the actor's MLP (the ES mean plus a perturbation, made by the caller).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import torch
from tensordict import TensorDict
from torch import nn

from stridelab.config import EnvConfig
from stridelab.errors import ConfigError
from stridelab.learn.models import build_model
from stridelab.envs import make_env
_ES_TAG = 0x4553  # "ES": keeps chunk seeds apart from the rollout workers' seed stream


class PopulationPolicy(Protocol):
    """What :func:`evaluate_population` needs from a population's policy (must be picklable)."""

    num_params: int

    def act(self, obs: TensorDict, params: torch.Tensor, envs_per_member: int) -> torch.Tensor:
        """Actions of every env. ``obs`` batch (p*m,); ``params`` (p, num_params); returns (p*m, num_actions)."""


def chunk_seed(seed: int, chunk: int) -> int:
    """The env seed of population chunk ``chunk`` (``np.random.SeedSequence([seed, "ES", chunk])``)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, _ES_TAG, int(chunk)]).generate_state(1)[0] >> 1)


class MLPActorPopulation:
    """Members are flat weight vectors of an rsl-rl ``MLPModel`` actor's MLP; the normalizer stays the base's.

    Layout of a vector: for each ``nn.Linear`` of ``model.mlp`` in order, its weight (out x in, row-major)
    then its bias. :meth:`center` is the base model's vector; with it, :meth:`act` equals the base
    model's deterministic actions.

    Args:
        spec: the policy description of a checkpoint (``policy_model``, ``policy_cfg``,
            ``policy_obs_groups``, ``num_actions``).
        state_dict: the base model's weights (normalizer statistics included).
    """

    def __init__(self, spec: dict, state_dict: dict[str, torch.Tensor]) -> None:
        self.spec = spec
        self.state_dict = {k: v.detach().to("cpu", copy=True) for k, v in state_dict.items()}
        self._model: nn.Module | None = None
        self.num_params = sum(layer.weight.numel() + layer.bias.numel() for layer in self._linears())

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "state_dict": self.state_dict, "num_params": self.num_params, "_model": None}

    def model(self) -> nn.Module:
        """The base model (built once per process)."""
        if self._model is None:
            with torch.random.fork_rng(devices=[]):  # leave the caller's random stream as it was
                self._model = build_model(self.spec, self.state_dict)
        return self._model

    def _linears(self) -> list[nn.Linear]:
        return [m for m in self.model().mlp if isinstance(m, nn.Linear)]

    def center(self) -> np.ndarray:
        """The base model's weights as one vector. Shape: (num_params,), float32."""
        parts = [t.detach().reshape(-1) for layer in self._linears() for t in (layer.weight, layer.bias)]
        return torch.cat(parts).numpy().astype(np.float32)

    def act(self, obs: TensorDict, params: torch.Tensor, envs_per_member: int) -> torch.Tensor:
        """Every member's deterministic actions, one batched matmul per layer (``torch.baddbmm``).

        Args:
            obs: observations of ``p * m`` envs, member-major.
            params: (p, num_params).
        Returns:
            (p * m, num_actions).
        """
        model, p, m = self.model(), params.shape[0], envs_per_member
        x = model.get_latent(obs).reshape(p, m, -1)  # the base normalizer: (p, m, in)
        offset = 0
        for layer in model.mlp:
            if isinstance(layer, nn.Linear):
                n_out, n_in = layer.weight.shape
                w = params[:, offset:offset + n_out * n_in].reshape(p, n_out, n_in)
                offset += n_out * n_in
                b = params[:, offset:offset + n_out].reshape(p, 1, n_out)
                offset += n_out
                x = torch.baddbmm(b, x, w.transpose(1, 2))  # x W^T + b per member
            else:
                x = layer(x)
        out = x.reshape(p * m, -1)
        return model.distribution.deterministic_output(out) if model.distribution is not None else out


def evaluate_chunk(policy: Any, env_cfg: EnvConfig, chunk: int, params: np.ndarray, num_steps: int,
                   envs_per_member: int, seed: int) -> np.ndarray:
    """Fitnesses of one chunk of members. ``params`` Shape: (p, num_params). Returns (p,) float64.

    The env is ``env_cfg`` with ``p * envs_per_member`` envs and seed ``chunk_seed(seed, chunk)``.
    """
    p, m = int(params.shape[0]), envs_per_member
    env = make_env(replace(env_cfg, num_envs=p * m, seed=chunk_seed(seed, chunk)))
    try:
        setup = getattr(policy, "setup_env", None)
        if setup is not None:
            setup(env, params, m)
        weights = torch.as_tensor(np.asarray(params, dtype=np.float32))
        total = np.zeros(p * m)
        obs = env.get_observations()
        with torch.inference_mode():
            for _ in range(num_steps):
                obs, reward, _, _ = env.step(policy.act(obs, weights, m))
                total += reward.numpy()
    finally:
        env.close()
    return total.reshape(p, m).mean(axis=1)


def evaluate_population(params: np.ndarray, policy: Any, env_cfg: EnvConfig, *, num_steps: int = 200,
                        envs_per_member: int = 4, seed: int = 0, members_per_batch: int = 16,
                        pool: Any = None) -> np.ndarray:
    """The fitness of each member of a population (see the module docstring).

    Args:
        params: the population. Shape: (P, policy.num_params).
        policy: a picklable :class:`PopulationPolicy`.
        env_cfg: the task's env config (``num_envs`` and ``seed`` are replaced per chunk).
        num_steps: control steps each member is evaluated for.
        envs_per_member: envs per member (the fitness is their mean).
        seed: the evaluation seed (same seed, same fitnesses).
        members_per_batch: members per env batch (chunk); part of the evaluation's definition, so it
            does not change with the number of workers.
        pool: a :class:`~stridelab.distributed.pool.WorkerPool` to evaluate the chunks on; ``None``: in-process.
    Returns:
        Shape: (P,), float64.
    """
    params = np.asarray(params, dtype=np.float32)
    if params.ndim != 2 or params.shape[1] != policy.num_params:
        raise ConfigError(f"the population has shape {params.shape} but the policy takes {policy.num_params} "
                          f"parameters; pass an array of shape (members, {policy.num_params}).")
    if num_steps < 1 or envs_per_member < 1 or members_per_batch < 1:
        raise ConfigError("num_steps, envs_per_member and members_per_batch must each be at least 1.")
    chunks = [(c, params[start:start + members_per_batch])
              for c, start in enumerate(range(0, params.shape[0], members_per_batch))]
    if pool is None:
        results = [evaluate_chunk(policy, env_cfg, c, chunk, num_steps, envs_per_member, seed) for c, chunk in chunks]
    else:
        results = pool.evaluate(policy, env_cfg, chunks, num_steps, envs_per_member, seed)
    return np.concatenate(results) if results else np.zeros(0)
