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
