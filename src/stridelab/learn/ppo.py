"""stridelab's PPO: rsl-rl-lib's PPO plus a mirror loss for recurrent policies and a hard KL limit.

Selected by ``class_name = "stridelab.learn.ppo:StridelabPPO"`` in the algorithm config, so rsl-rl's
``OnPolicyRunner`` builds it like its own PPO (:meth:`stridelab.learn.config.TrainConfig.rsl_rl_dict`
picks it when a feature below is on; otherwise training uses rsl-rl's PPO unchanged).

- **Recurrent mirror loss.** rsl-rl refuses its ``Symmetry`` extension with a recurrent actor. Given a
  ``symmetry_cfg`` with ``use_mirror_loss`` and a recurrent actor, this class builds rsl-rl's PPO
  without it and installs :class:`stridelab.learn.mirror.RecurrentMirrorLoss` in its place, which
  mirrors whole trajectories (see :mod:`stridelab.learn.mirror`): ``act`` also advances each env's mirror
  twin state, ``process_env_step`` resets it at episode ends, and ``update`` hands the stored twin states
  to the loss. rsl-rl's update adds ``mirror_loss_coeff * loss`` and logs ``Loss/symmetry``. With an MLP
  actor, rsl-rl's own extension is used as given.
- **KL limit by line search** (``max_kl > 0``), the idea of apex's adaptive-step Adam: after rsl-rl's
  update of an iteration (all epochs and mini-batches), the mean KL(old || new) of the action
  distribution over the iteration's whole batch is measured; while it exceeds ``max_kl`` the step
  is halved: every floating-point tensor of the actor (weights, action std, normalizer statistics)
  is set to ``old + alpha * (new - old)`` with ``alpha = 1/2, 1/4, ...``, at most
  ``kl_line_search_steps`` times; if the limit is still exceeded the actor keeps its old values
  (``alpha = 0``). The critic keeps its full update. ``old`` is the policy that collected the batch,
  so its distribution is the one stored with the rollout. Logged: ``Loss/kl`` (after the search),
  ``Loss/kl_unconstrained`` and ``Loss/kl_step`` (alpha).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from rsl_rl.algorithms import PPO

from stridelab.errors import ConfigError
from stridelab.learn.mirror import RecurrentMirrorLoss

log = logging.getLogger(__name__)


class StridelabPPO(PPO):
    """rsl-rl-lib's PPO with a recurrent mirror loss and an optional hard KL limit (module docstring).

    Args (beyond rsl-rl's PPO):
        max_kl: the KL limit of one iteration's update (mean over the batch, summed over actions); 0: none.
        kl_line_search_steps: halvings of the step before giving up on the update of the actor.
    """

    def __init__(self, actor: Any, critic: Any, storage: Any, *, symmetry_cfg: dict | None = None,
                 max_kl: float = 0.0, kl_line_search_steps: int = 10, **kwargs: Any) -> None:
        mirror = None
        if symmetry_cfg and actor.is_recurrent:
            if symmetry_cfg.get("use_data_augmentation"):
                raise ConfigError("symmetry 'augment' mirrors single samples and cannot train a recurrent policy; use "
                                  "--train.symmetry loss (the sequence mirror loss) or off.")
            if symmetry_cfg.get("use_mirror_loss"):
                mirror = RecurrentMirrorLoss(symmetry_cfg["env"], symmetry_cfg.get("mirror_loss_coeff", 1.0),
                                             symmetry_cfg.get("mirror_loss_fraction", 1.0))
            symmetry_cfg = None
        super().__init__(actor, critic, storage, symmetry_cfg=symmetry_cfg, **kwargs)
        if mirror is not None:
            from rsl_rl.modules.distribution import GaussianDistribution

            if not isinstance(actor.distribution, GaussianDistribution):
                raise ConfigError(f"the recurrent mirror loss compares action means and needs a Gaussian action "
                                  f"distribution, not {type(actor.distribution).__name__}; turn symmetry off.")
            mirror.actor = actor
            self.symmetry = mirror
        if max_kl < 0 or kl_line_search_steps < 0:
            raise ConfigError(f"algorithm.max_kl = {max_kl} and kl_line_search_steps = {kl_line_search_steps} must be "
                              f">= 0 (max_kl 0: no limit).")
        self.max_kl = float(max_kl)
        self.kl_line_search_steps = int(kl_line_search_steps)

    # ---- the recurrent mirror loss's twin states ---------------------------------------------------
    def act(self, obs: Any) -> torch.Tensor:
        """rsl-rl's ``act``; with the recurrent mirror loss the mirror twin also records and advances its state."""
        if not isinstance(self.symmetry, RecurrentMirrorLoss):
            return super().act(obs)
        self.symmetry.twin.begin_step(self.actor, obs, self.storage.step, self.storage.num_transitions_per_env)
        actions = super().act(obs)
        self.symmetry.twin.end_step(self.actor)
        return actions

    def process_env_step(self, obs: Any, rewards: torch.Tensor, dones: torch.Tensor, extras: dict) -> None:
        super().process_env_step(obs, rewards, dones, extras)
        if isinstance(self.symmetry, RecurrentMirrorLoss):
            self.symmetry.twin.reset(dones)

    # ---- the KL limit ----------------------------------------------------------------------------
    def update(self) -> dict[str, float]:
        """rsl-rl's update, then (with ``max_kl``) the line search; returns rsl-rl's losses plus the KL figures."""
        if isinstance(self.symmetry, RecurrentMirrorLoss):
            self.symmetry.begin_update(self.storage, self.num_mini_batches)
        if self.max_kl <= 0:
            return super().update()
        old = {k: v.detach().clone() for k, v in self._raw_actor.state_dict().items()}
        batch = self.kl_batch()
        losses = super().update()
        kl_full = self.batch_kl(batch)
        alpha, kl = line_search(self._raw_actor, old, lambda: self.batch_kl(batch), self.max_kl,
                                self.kl_line_search_steps)
        if alpha == 0.0:
            log.warning("KL limit: even 1/%d of the update has KL %.4g > %.4g; the actor keeps its old weights",
                        2 ** self.kl_line_search_steps, kl_full, self.max_kl)
        losses.update(kl=kl, kl_unconstrained=kl_full, kl_step=alpha)
        return losses

    def kl_batch(self) -> dict[str, Any]:
        """The rollout in storage as one batch for :meth:`batch_kl` (call before ``update`` clears the storage).

        MLP actor: observations (T*N rows). Recurrent actor: the padded trajectories with their masks and
        the actor's stored hidden states, as rsl-rl's recurrent mini-batches hold them (one batch of all envs).
        ``old`` is the distribution parameters stored with the rollout, e.g. (mean, std), each (T*N, A) or (T, N, A).
        """
        st = self.storage
        if self.actor.is_recurrent:
            b = next(st.recurrent_mini_batch_generator(1, 1))
            return {"obs": b.observations, "masks": b.masks, "hidden": b.hidden_states[0],
                    "old": b.old_distribution_params}
        return {"obs": st.observations.flatten(0, 1), "masks": None, "hidden": None,
                "old": tuple(p.flatten(0, 1) for p in st.distribution_params)}

    def batch_kl(self, batch: dict[str, Any]) -> float:
        """Mean over the batch of KL(old || current actor), summed over the action dimensions."""
        with torch.no_grad():
            self.actor(batch["obs"], masks=batch["masks"], hidden_state=batch["hidden"], stochastic_output=True)
            new = self.actor.output_distribution_params
            return float(self.actor.get_kl_divergence(batch["old"], new).mean())


def line_search(module: torch.nn.Module, old: dict[str, torch.Tensor], kl: Any, max_kl: float, steps: int
                ) -> tuple[float, float]:
    """Halve the step from ``old`` to ``module``'s current values until ``kl()`` <= ``max_kl``.

    Every floating-point tensor of ``module.state_dict()`` is set in place to ``old + alpha * (new - old)``
    for ``alpha = 1, 1/2, ..., 1/2**steps``; if none is within the limit, to ``old`` (``alpha = 0``).
    Integer buffers (counters) keep their new values.

    Returns:
        (alpha, the KL at alpha).
    """
    current = module.state_dict()
    new = {k: v.detach().clone() for k, v in current.items()}
    alpha, value = 1.0, kl()
    for _ in range(steps):
        if value <= max_kl:
            return alpha, value
        alpha *= 0.5
        _blend(current, old, new, alpha)
        value = kl()
    if value <= max_kl:
        return alpha, value
    _blend(current, old, new, 0.0)
    return 0.0, kl()


def _blend(current: dict[str, torch.Tensor], old: dict[str, torch.Tensor], new: dict[str, torch.Tensor],
           alpha: float) -> None:
    with torch.no_grad():
        for key, tensor in current.items():
            if tensor.is_floating_point():
                tensor.copy_(old[key] + alpha * (new[key] - old[key]))
