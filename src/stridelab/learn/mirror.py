"""Mirror symmetry for recurrent policies: a mirror loss over whole observation sequences.

rsl-rl-lib's ``Symmetry`` extension mirrors single samples, which is exact for an MLP but not for a
recurrent policy: the hidden state carries the past, and the mirror of a hidden state is unknown.
Following the mirror loss of OSU's apex (MirrorPPO), the policy is instead run twice over each
trajectory of a mini-batch, both times from the zero hidden state (which is its own mirror):

    L_mirror = mean over valid steps t and actions j of
               ( M_a mu(o_1..o_t) - mu(M_o o_1 .. M_o o_t) )_j ^ 2

where ``mu`` is the actor's action mean (its deterministic output), ``M_o`` mirrors every observation
group (the terms' own maps: joints and feet swap sides, y components and yaw flip, the gait clock's
feet swap, which for an alternating gait is the half-cycle phase shift, height scans flip left/right)
and ``M_a`` mirrors the actions (the robot's joint permutation and signs). A policy that commutes with
the mirror has zero loss. Gradients flow through both terms, as in apex.

Cost. The two passes run over 2b trajectories with autograd on, on top of the update's own pass over
the mini-batch's B trajectories; the update's pass cannot be reused, because it starts each trajectory
from the hidden state stored with the rollout (PPO's ratio needs the policy that acted), whose mirror
is unknown. So the loss is computed on a random share ``fraction`` of the trajectories (b = fraction
x B, default 1/4 in :class:`stridelab.learn.config.TrainConfig`): an estimate of the same loss (its
valid steps pooled over the drawn trajectories) at that share of the cost (docs/benchmarks.md has the measured speeds).

:class:`RecurrentMirrorLoss` has the interface of rsl-rl's ``Symmetry`` that ``PPO.update`` calls
(``augment_batch``, ``compute_loss``, ``use_mirror_loss``, ``mirror_loss_coeff``), so rsl-rl adds
``mirror_loss_coeff * L_mirror`` to its loss and logs ``Loss/symmetry`` itself;
:class:`stridelab.learn.ppo.StridelabPPO` plugs it in.
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDict
from torch import nn

from stridelab.errors import ConfigError
from stridelab.learn.symmetry import mirror_maps


class Mirror:
    """Left/right mirror of observation groups and actions, along the last axis, for any leading shape.

    ``mirrored[..., i] = value[..., perm[i]] * sign[i]``; both maps are involutions.

    Attributes:
        obs_maps: group name -> (perm (n,) int64, sign (n,) float32).
        action_map: (perm (num_actions,), sign (num_actions,)).
    """

    def __init__(self, obs_maps: dict[str, tuple[torch.Tensor, torch.Tensor]],
                 action_map: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.obs_maps = obs_maps
        self.action_map = action_map

    @classmethod
    def of_env(cls, env: Any) -> Mirror:
        """The env's mirror (:func:`stridelab.learn.symmetry.mirror_maps`); a ConfigError names a term or a robot
        that cannot be mirrored."""
        maps = mirror_maps(env)
        return cls(maps["obs"], maps["action"])

    @staticmethod
    def _apply(value: torch.Tensor, perm: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
        return value[..., perm.to(value.device)] * sign.to(device=value.device, dtype=value.dtype)

    def obs(self, obs: TensorDict) -> TensorDict:
        """Every group of ``obs`` mirrored. Shapes: (*batch, group size) per group, batch shape kept."""
        groups = {}
        for key, value in obs.items():
            if key not in self.obs_maps:
                raise ConfigError(f"observation group {key!r} has no mirror map (known: {', '.join(self.obs_maps)}); "
                                  f"turn symmetry off (--train.symmetry off).")
            groups[key] = self._apply(value, *self.obs_maps[key])
        return TensorDict(groups, batch_size=obs.batch_size, device=obs.device)

    def actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Mirrored actions. Shape: (*batch, num_actions)."""
        return self._apply(actions, *self.action_map)


def zero_hidden_state(actor: nn.Module, batch: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The zero state of an rsl-rl ``RNNModel`` for ``batch`` sequences: (layers, batch, hidden), a pair for an LSTM."""
    rnn = actor.rnn.rnn
    param = next(rnn.parameters())
    zeros = torch.zeros(rnn.num_layers, batch, rnn.hidden_size, device=param.device, dtype=param.dtype)
    return (zeros, zeros.clone()) if isinstance(rnn, nn.LSTM) else zeros


def padded_action_means(actor: nn.Module, obs: TensorDict) -> torch.Tensor:
    """The action means of a recurrent rsl-rl actor on padded trajectories, each run from the zero state.

    The actor's own layers (normalizer, RNN, MLP head, the distribution's deterministic output), kept
    padded so that any subset of trajectories can be run. Steps past a trajectory's end hold padding and
    do not affect the valid steps (the RNN is causal). Shapes: obs (T, B) batch; returns (T, B, A).
    """
    from rsl_rl.models.mlp_model import MLPModel

    latent = MLPModel.get_latent(actor, obs)  # the selected groups, concatenated and normalized: (T, B, D)
    hidden, _ = actor.rnn.rnn(latent, zero_hidden_state(actor, latent.shape[1]))
    out = actor.mlp(hidden)
    return actor.distribution.deterministic_output(out) if actor.distribution is not None else out


def recurrent_mirror_loss(actor: nn.Module, obs: TensorDict, masks: torch.Tensor, mirror: Mirror,
                          fraction: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """The sequence mirror loss (module docstring) of a recurrent rsl-rl actor on padded trajectories.

    Args:
        actor: an rsl-rl ``RNNModel`` (its deterministic output is the action mean).
        obs: padded trajectories as rsl-rl's recurrent mini-batches hold them, batch shape (T, B).
        masks: (T, B) bool, True on the valid steps of each trajectory.
        mirror: the env's :class:`Mirror`.
        fraction: the share of the B trajectories, drawn at random, the loss is computed on (at least
            one); 1: all. An estimate of the full loss at ``fraction`` of its cost.
        generator: the random source of the draw (torch's global one if None).

    Returns:
        Scalar: mean squared difference over the valid steps and the action dimensions.
    """
    obs = obs.select(*actor.obs_groups)  # only the groups the actor reads
    num = masks.shape[1]
    if fraction < 1.0:
        keep = torch.randperm(num, generator=generator)[:max(1, round(fraction * num))].to(masks.device)
        obs, masks = obs[:, keep], masks[:, keep]
        num = masks.shape[1]
    both = torch.cat([obs, mirror.obs(obs)], dim=1)  # (T, 2b): the trajectories, then their mirrors
    means = padded_action_means(actor, both)
    diff = mirror.actions(means[:, :num]) - means[:, num:]  # (T, b, A)
    valid = masks.to(diff.dtype).unsqueeze(-1)
    return (diff.pow(2) * valid).sum() / (valid.sum() * diff.shape[-1])


class RecurrentMirrorLoss:
    """rsl-rl ``Symmetry``'s interface for :func:`recurrent_mirror_loss` (no augmentation, a mirror loss only).

    Attributes:
        mirror: the env's :class:`Mirror`.
        mirror_loss_coeff: weight of the loss in PPO's loss.
        fraction: share of each mini-batch's trajectories the loss is computed on, in (0, 1] (checked by
            :class:`stridelab.learn.config.TrainConfig`; see :func:`recurrent_mirror_loss`).
    """

    use_data_augmentation = False
    use_mirror_loss = True

    def __init__(self, env: Any, mirror_loss_coeff: float, fraction: float = 1.0) -> None:
        self.mirror = Mirror.of_env(env)
        self.mirror_loss_coeff = float(mirror_loss_coeff)
        self.fraction = float(fraction)

    def augment_batch(self, batch: Any, original_batch_size: int) -> None:
        """Nothing: sequences are mirrored inside :meth:`compute_loss`."""

    def compute_loss(self, actor: nn.Module, batch: Any, original_batch_size: int) -> torch.Tensor:
        """The mirror loss of ``actor`` on a recurrent mini-batch (``batch.observations``, ``batch.masks``)."""
        if batch.masks is None:
            raise ConfigError("the recurrent mirror loss needs trajectory mini-batches; it works only with a recurrent "
                              "actor (--policy lstm or gru).")
        return recurrent_mirror_loss(actor, batch.observations, batch.masks, self.mirror, self.fraction)
