"""Mirror symmetry for recurrent policies: a mirror loss over whole observation sequences.

rsl-rl-lib's ``Symmetry`` extension mirrors single samples, which is exact for an MLP but not for a
recurrent policy: the hidden state carries the past. Following the mirror loss of OSU's apex
(MirrorPPO), the policy's actions on a trajectory are compared with its actions on the mirrored trajectory:

    L_mirror = mean over valid steps t and actions j of
               ( M_a mu(o_1..o_t | h_0) - mu(M_o o_1 .. M_o o_t | h'_0) )_j ^ 2

where ``mu`` is the actor's action mean (its deterministic output), ``M_o`` mirrors every observation
group (the terms' own maps: joints and feet swap sides, y components and yaw flip, the gait clock's
feet swap, which for an alternating gait is the half-cycle phase shift, height scans flip left/right)
and ``M_a`` mirrors the actions (the robot's joint permutation and signs). ``h_0`` is the state the
trajectory started from (what PPO's update uses: the state stored with the rollout, zero after a
reset) and ``h'_0`` the state of the same actor on the *mirrored* history of that env. A policy that
commutes with the mirror has zero loss. Gradients flow through both terms, as in apex.

Cost (:class:`RecurrentMirrorLoss`). The first term is PPO's own forward pass: the update has just
computed ``mu(o | h_0)`` for every step of the mini-batch, so it is reused (no pass of our own). The
second needs ``h'_0``, which is not the mirror of ``h_0`` (the mirror of a hidden state is unknown):
during the rollout a *mirror twin* state per env (:class:`MirrorTwin`) runs the actor's recurrent layer
on the mirrored observations (no autograd, one RNN step per env step) and is stored per step like
rsl-rl stores its own states. The update then runs one pass, on the mirrored trajectories of a random
share ``fraction`` of the mini-batch's trajectories, from their twin states (default 1/4 in
:class:`stridelab.learn.config.TrainConfig`; docs/benchmarks.md has the measured speeds). Where every
trajectory starts after a reset (both states zero) this is exactly :func:`recurrent_mirror_loss`, the
earlier zero-state loss, which ran two passes from zero states and is kept as the reference.

:class:`RecurrentMirrorLoss` has the interface of rsl-rl's ``Symmetry`` that ``PPO.update`` calls
(``augment_batch``, ``compute_loss``, ``use_mirror_loss``, ``mirror_loss_coeff``), so rsl-rl adds
``mirror_loss_coeff * L_mirror`` to its loss and logs ``Loss/symmetry`` itself;
:class:`stridelab.learn.ppo.StridelabPPO` plugs it in and drives the twin from its ``act`` and
``process_env_step``.
"""

from __future__ import annotations

from typing import Any

import torch
from rsl_rl.models.mlp_model import MLPModel
from rsl_rl.modules import RNN
from rsl_rl.utils import unpad_trajectories
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


HiddenState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def zero_hidden_state(actor: nn.Module, batch: int) -> HiddenState:
    """The zero state of an rsl-rl ``RNNModel`` for ``batch`` sequences: (layers, batch, hidden), a pair for an LSTM."""
    rnn = actor.rnn.rnn
    param = next(rnn.parameters())
    zeros = torch.zeros(rnn.num_layers, batch, rnn.hidden_size, device=param.device, dtype=param.dtype)
    return (zeros, zeros.clone()) if isinstance(rnn, nn.LSTM) else zeros


def _as_rnn_state(tensors: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> HiddenState:
    return tuple(tensors) if len(tensors) == 2 else tensors[0]


def padded_action_means(actor: nn.Module, obs: TensorDict) -> torch.Tensor:
    """The action means of a recurrent rsl-rl actor on padded trajectories, each run from the zero state.

    The actor's own layers (normalizer, RNN, MLP head, the distribution's deterministic output), kept
    padded so that any subset of trajectories can be run. Steps past a trajectory's end hold padding and
    do not affect the valid steps (the RNN is causal). Shapes: obs (T, B) batch; returns (T, B, A).
    """
    latent = MLPModel.get_latent(actor, obs)  # the selected groups, concatenated and normalized: (T, B, D)
    out, _ = actor.rnn.rnn(latent, zero_hidden_state(actor, latent.shape[1]))
    out = actor.mlp(out)
    return actor.distribution.deterministic_output(out) if actor.distribution is not None else out


def pad_steps(values: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-env steps back into padded trajectories: the inverse of rsl-rl's ``unpad_trajectories``, with autograd.

    Shapes: values (T, n_envs, ...) as the actor returns them in PPO's update; masks (T, n_traj) bool;
    returns (T, n_traj, ...) with zeros past each trajectory's end.
    """
    steps = values.transpose(0, 1).reshape(-1, *values.shape[2:])  # env by env, in time order
    index = masks.transpose(0, 1)  # (n_traj, T): trajectories in env order, as the valid steps are
    padded = values.new_zeros(*index.shape, *values.shape[2:]).index_put((index,), steps)
    return padded.transpose(0, 1)


def _masked_mse(diff: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    valid = masks.to(diff.dtype).unsqueeze(-1)
    return (diff.pow(2) * valid).sum() / (valid.sum() * diff.shape[-1])


def _draw(num: int, fraction: float, generator: torch.Generator | None, device: torch.device) -> torch.Tensor | None:
    """A random subset of ``fraction`` of ``num`` trajectories (at least one), or None for all of them."""
    if fraction >= 1.0:
        return None
    return torch.randperm(num, generator=generator)[:max(1, round(fraction * num))].to(device)


def recurrent_mirror_loss(actor: nn.Module, obs: TensorDict, masks: torch.Tensor, mirror: Mirror,
                          fraction: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """The zero-state sequence mirror loss: both terms run by two passes of their own, each trajectory from zero.

    The reference for :class:`RecurrentMirrorLoss` (which reuses PPO's pass and starts the mirrored one from
    the twin state): on trajectories that all start after a reset the two are equal.

    Args:
        actor: an rsl-rl ``RNNModel`` (its deterministic output is the action mean).
        obs: padded trajectories as rsl-rl's recurrent mini-batches hold them, batch shape (T, B).
        masks: (T, B) bool, True on the valid steps of each trajectory.
        mirror: the env's :class:`Mirror`.
        fraction: the share of the B trajectories, drawn at random, the loss is computed on (at least one).
        generator: the random source of the draw (torch's global one if None).

    Returns:
        Scalar: mean squared difference over the valid steps and the action dimensions.
    """
    obs = obs.select(*actor.obs_groups)  # only the groups the actor reads
    keep = _draw(masks.shape[1], fraction, generator, masks.device)
    if keep is not None:
        obs, masks = obs[:, keep], masks[:, keep]
    num = masks.shape[1]
    both = torch.cat([obs, mirror.obs(obs)], dim=1)  # (T, 2b): the trajectories, then their mirrors
    means = padded_action_means(actor, both)
    return _masked_mse(mirror.actions(means[:, :num]) - means[:, num:], masks)


def trajectory_start_mask(dones: torch.Tensor) -> torch.Tensor:
    """Where rsl-rl's trajectories start: the first step and every step after a done. Shapes: dones (T, N, 1) or
    (T, N); returns (T, N) bool."""
    starts = torch.zeros(dones.shape[:2], dtype=torch.bool, device=dones.device)
    starts[1:] = dones.reshape(dones.shape[:2])[:-1].bool()
    starts[0] = True
    return starts


class MirroredRNN(RNN):
    """rsl-rl's ``RNN`` that also runs extra sequences in the same call: the mirrored ones, when asked.

    An actor's ``rnn`` module becomes this class in place (:func:`fuse_mirror_pass`; same parameters, same
    state-dict keys, so checkpoints and export are unchanged). With ``request`` None it is rsl-rl's ``RNN``.
    With a request (:class:`MirrorRequest`), the request's latents are appended along the batch axis and its
    states to the hidden states, one recurrent call runs both, the extra outputs and final states go to the
    request, and the caller gets rsl-rl's own result. On a CPU a recurrent call costs about the same for 100
    sequences as for 200 (its time loop dominates), so the mirrored pass rides on the pass rsl-rl makes anyway.
    """

    request: MirrorRequest | None = None

    def forward(self, input: torch.Tensor, masks: torch.Tensor | None = None, hidden_state: Any = None
                ) -> torch.Tensor:
        req = self.request
        if req is None:
            return super().forward(input, masks, hidden_state)
        batch_mode = masks is not None
        own = hidden_state if batch_mode else self.hidden_state
        num = input.shape[1] if batch_mode else input.shape[0]
        if own is None:  # rsl-rl's rollout state before the first step: zero
            own = [t.new_zeros(t.shape[0], num, t.shape[2]) for t in req.state]
        own = list(own) if isinstance(own, (tuple, list)) else [own]
        x = torch.cat([input, req.latent], dim=1 if batch_mode else 0)
        state = _as_rnn_state([torch.cat([a, b], dim=1) for a, b in zip(own, req.state)])
        out, final = self.rnn(x if batch_mode else x.unsqueeze(0), state)
        final = list(final) if isinstance(final, tuple) else [final]
        req.output, req.final = out[:, num:], [t[:, num:] for t in final]
        if batch_mode:
            return unpad_trajectories(out[:, :num], masks)
        self.hidden_state = _as_rnn_state([t[:, :num] for t in final])
        return out[:, :num]


class MirrorRequest:
    """Extra sequences for :class:`MirroredRNN`: ``latent`` (T, b, D) in the update or (N, D) in a rollout step, and
    their initial ``state`` (per tensor (layers, b, H)); after the call ``output`` (T, b, H) / (1, N, H) and ``final``
    (the final states)."""

    def __init__(self, latent: torch.Tensor, state: list[torch.Tensor]) -> None:
        self.latent, self.state = latent, state
        self.output: torch.Tensor | None = None
        self.final: list[torch.Tensor] | None = None


def fuse_mirror_pass(actor: nn.Module) -> None:
    """Make ``actor.rnn`` a :class:`MirroredRNN` (in place: its class only)."""
    if not isinstance(actor.rnn, MirroredRNN):
        actor.rnn.__class__ = MirroredRNN


def mirrored_latent(actor: nn.Module, mirror: Mirror, obs: TensorDict) -> torch.Tensor:
    """The actor's normalized input on the mirrored observations (the normalizer is not mirror-symmetric)."""
    return MLPModel.get_latent(actor, mirror.obs(obs.select(*actor.obs_groups)))


class MirrorTwin:
    """Each env's recurrent state of the actor on the mirrored observation history, kept during rollouts.

    :meth:`begin_step` records the state as the rollout step's and asks the actor's :class:`MirroredRNN` to advance
    it on the mirrored observations in the same call as the actor's own step (no autograd: rollouts run without);
    :meth:`end_step` takes the new state.

    Attributes:
        state: the current twin state: [h] (GRU) or [h, c] (LSTM), each (layers, N, H); None before the first step.
        saved: per tensor of ``state``, its value before each rollout step: (T, layers, N, H).
    """

    def __init__(self, mirror: Mirror) -> None:
        self.mirror = mirror
        self.state: list[torch.Tensor] | None = None
        self.saved: list[torch.Tensor] | None = None

    def begin_step(self, actor: nn.Module, obs: TensorDict, index: int, num_steps: int) -> None:
        """Record the state as rollout step ``index`` of ``num_steps`` and ask for its advance by the mirror of ``obs``
        (N envs) in the actor's next recurrent call."""
        with torch.no_grad():
            if self.state is None:
                zero = zero_hidden_state(actor, obs.batch_size[0])
                self.state = list(zero) if isinstance(zero, tuple) else [zero]
            if self.saved is None or self.saved[0].shape[0] != num_steps:
                self.saved = [s.new_zeros(num_steps, *s.shape) for s in self.state]
            for buf, s in zip(self.saved, self.state):
                buf[index] = s
            fuse_mirror_pass(actor)
            actor.rnn.request = MirrorRequest(mirrored_latent(actor, self.mirror, obs), self.state)

    def end_step(self, actor: nn.Module) -> None:
        """Take the advanced state from the actor's call (and clear the request)."""
        req, actor.rnn.request = actor.rnn.request, None
        if req is None or req.final is None:
            raise RuntimeError("the mirror twin's step was asked for but the actor made no recurrent call")
        self.state = [t.detach().clone() for t in req.final]

    def reset(self, dones: torch.Tensor) -> None:
        """Zero the states of the envs whose episode ended. Shape: dones (N,)."""
        if self.state is not None:
            ended = dones.reshape(-1).bool()
            for s in self.state:
                s[:, ended] = 0.0

    def trajectory_starts(self, starts: torch.Tensor) -> list[torch.Tensor]:
        """The twin state at the start of every trajectory of the stored rollout, in rsl-rl's trajectory order
        (env by env, in time order). Shapes: starts (T, N) bool (:func:`trajectory_start_mask`); returns per tensor
        (n_traj, layers, H)."""
        if self.saved is None:
            raise RuntimeError("the mirror twin has no stored rollout: the rollout must act through StridelabPPO.act")
        return [s.permute(2, 0, 1, 3)[starts.transpose(0, 1)] for s in self.saved]


class RecurrentMirrorLoss:
    """rsl-rl ``Symmetry``'s interface for the sequence mirror loss (no augmentation), fused into PPO's forward pass.

    ``augment_batch`` (which rsl-rl calls before its forward pass) asks the actor's :class:`MirroredRNN` to run the
    mirrored trajectories of a random share ``fraction`` of the mini-batch, from their twin states, in the same
    recurrent call as the update's own; ``compute_loss`` finishes them (the MLP head) and compares with the
    update's own action means.

    Attributes:
        mirror: the env's :class:`Mirror`.
        twin: the mirror twin states (:class:`MirrorTwin`), advanced by :class:`~stridelab.learn.ppo.StridelabPPO`.
        mirror_loss_coeff: weight of the loss in PPO's loss.
        fraction: share of each mini-batch's trajectories the mirrored pass runs on, in (0, 1] (checked by
            :class:`stridelab.learn.config.TrainConfig`).
    """

    use_data_augmentation = False
    use_mirror_loss = True

    def __init__(self, env: Any, mirror_loss_coeff: float, fraction: float = 1.0,
                 generator: torch.Generator | None = None) -> None:
        self.mirror = Mirror.of_env(env)
        self.twin = MirrorTwin(self.mirror)
        self.mirror_loss_coeff = float(mirror_loss_coeff)
        self.fraction = float(fraction)
        self.generator = generator
        self.actor: nn.Module | None = None  # set by StridelabPPO
        self._starts: list[torch.Tensor] | None = None
        self._slices: list[slice] = []
        self._calls = 0
        self._keep: torch.Tensor | None = None

    def begin_update(self, storage: Any, num_mini_batches: int) -> None:
        """Before PPO's update: the twin states of the stored rollout's trajectories, cut into rsl-rl's mini-batches
        (env slices of ``num_envs // num_mini_batches``, their trajectories in order)."""
        starts = trajectory_start_mask(storage.dones)
        self._starts = self.twin.trajectory_starts(starts)
        size = storage.num_envs // num_mini_batches
        counts = [int(starts[:, i * size:(i + 1) * size].sum()) for i in range(num_mini_batches)]
        bounds = [0, *torch.tensor(counts).cumsum(0).tolist()]
        self._slices = [slice(bounds[i], bounds[i + 1]) for i in range(num_mini_batches)]
        self._calls = 0

    def twin_starts(self, index: int) -> list[torch.Tensor]:
        """The twin states at the trajectory starts of mini-batch ``index`` (rsl-rl's order), per tensor (layers,
        n_traj, H); rsl-rl's ``batch.hidden_states[0]`` holds the actor's own states in the same layout."""
        if self._starts is None:
            raise RuntimeError("RecurrentMirrorLoss.begin_update() must run before PPO's update")
        return [s[self._slices[index]].transpose(0, 1) for s in self._starts]

    def augment_batch(self, batch: Any, original_batch_size: int) -> None:
        """Ask the actor's next recurrent call (the update's forward pass) to run the mirrored trajectories too."""
        if batch.masks is None:
            raise ConfigError("the recurrent mirror loss needs trajectory mini-batches; it works only with a recurrent "
                              "actor (--policy lstm or gru).")
        twin = self.twin_starts(self._calls % len(self._slices))
        self._calls += 1
        if twin[0].shape[1] != batch.masks.shape[1]:
            raise RuntimeError(f"mirror twin: {twin[0].shape[1]} trajectory starts for {batch.masks.shape[1]} "
                               f"trajectories in the mini-batch")
        obs = batch.observations
        self._keep = _draw(batch.masks.shape[1], self.fraction, self.generator, batch.masks.device)
        if self._keep is not None:
            obs, twin = obs[:, self._keep], [t[:, self._keep] for t in twin]
        fuse_mirror_pass(self.actor)
        self.actor.rnn.request = MirrorRequest(mirrored_latent(self.actor, self.mirror, obs),
                                               [t.contiguous() for t in twin])

    def compute_loss(self, actor: nn.Module, batch: Any, original_batch_size: int) -> torch.Tensor:
        """The mirror loss of ``actor`` on a recurrent mini-batch from the update's forward pass (both terms)."""
        req, actor.rnn.request = getattr(actor.rnn, "request", None), None
        if req is None or req.output is None:
            raise RuntimeError("the recurrent mirror loss found no mirrored pass: augment_batch() must precede PPO's "
                               "forward pass")
        out = actor.mlp(req.output)
        mirrored = actor.distribution.deterministic_output(out) if actor.distribution is not None else out
        first = pad_steps(actor.distribution.mean, batch.masks)  # the update's own means, (T, n_traj, A)
        masks = batch.masks
        if self._keep is not None:
            first, masks = first[:, self._keep], masks[:, self._keep]
        return _masked_mse(self.mirror.actions(first) - mirrored, masks)
