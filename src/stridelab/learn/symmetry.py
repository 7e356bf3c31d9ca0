"""Mirror-symmetry augmentation for rsl-rl-lib's ``Symmetry`` extension (Mittal et al. 2024).

rsl-rl-lib calls :func:`mirror_augment` with the env, a mini-batch of observations (TensorDict) and
actions; it returns the batch with the left/right mirrored copies appended. The mirror maps come
from the env's own terms (:mod:`stridelab.mdp.symmetry`), computed once per env.
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDict

from stridelab.errors import ConfigError


def mirror_maps(env: Any) -> dict:
    """{"obs": {group: (perm, sign)}, "action": (perm, sign)} as torch tensors, cached on the env."""
    cached = getattr(env, "_mirror_maps", None)
    if cached is None:
        spec = env.robot.spec
        obs = env.observations.mirror_maps(spec)
        perm, sign = env.action_term.mirror(spec)
        cached = {"obs": {k: (torch.as_tensor(p), torch.as_tensor(s, dtype=torch.float32)) for k, (p, s) in obs.items()},
                  "action": (torch.as_tensor(perm), torch.as_tensor(sign, dtype=torch.float32))}
        env._mirror_maps = cached
    return cached


def supports_symmetry(env: Any) -> bool:
    """Whether every observation term and the action term of ``env`` can be mirrored."""
    try:
        mirror_maps(env)
    except ConfigError:
        return False
    return True


def mirror_augment(env: Any, obs: TensorDict | None = None, actions: torch.Tensor | None = None
                   ) -> tuple[TensorDict | None, torch.Tensor | None]:
    """Original and mirrored samples, stacked: shapes (2B, ...). Either input may be None."""
    maps = mirror_maps(env)
    out_obs = out_actions = None
    if obs is not None:
        groups = {}
        for key, value in obs.items():
            perm, sign = maps["obs"][key]
            groups[key] = torch.cat([value, value[:, perm] * sign.to(value.device)], dim=0)
        out_obs = TensorDict(groups, batch_size=[2 * obs.batch_size[0]], device=obs.device)
    if actions is not None:
        perm, sign = maps["action"]
        out_actions = torch.cat([actions, actions[:, perm] * sign.to(actions.device)], dim=0)
    return out_obs, out_actions


def reuse_update_forward(alg: Any) -> bool:
    """Make the logged mirror loss of augmentation free: the same figure without a second actor pass.

    With augmentation and no mirror loss, rsl-rl-lib's ``Symmetry.compute_loss`` still runs the actor once
    more on every doubled mini-batch, with autograd on, only to log ``Loss/symmetry``. The update's own
    forward pass has just computed those action means (the distribution's mean on the augmented batch;
    the normalizer does not change between the two passes), so this replaces ``compute_loss`` on ``alg``'s
    extension with the same MSE from them. Gradients and the training trajectory are unchanged. Only
    for a Gaussian action distribution (its mean is the deterministic output); otherwise nothing changes.

    Returns:
        Whether the replacement was installed.
    """
    from rsl_rl.extensions.symmetry import Symmetry
    from rsl_rl.modules.distribution import GaussianDistribution

    sym = getattr(alg, "symmetry", None)
    actor = getattr(alg, "actor", None)
    if not isinstance(sym, Symmetry) or not sym.use_data_augmentation or sym.use_mirror_loss:
        return False
    if not isinstance(getattr(actor, "distribution", None), GaussianDistribution):
        return False

    def logged_loss(actor: Any, batch: Any, original_batch_size: int) -> torch.Tensor:
        mean = actor.distribution.mean.detach()  # (2 n, num_actions): original rows, then mirrored rows
        _, mirrored = sym.data_augmentation_func(env=sym.env, obs=None, actions=mean[:original_batch_size])
        return torch.nn.functional.mse_loss(mean[original_batch_size:], mirrored[original_batch_size:])

    sym.compute_loss = logged_loss
    return True
