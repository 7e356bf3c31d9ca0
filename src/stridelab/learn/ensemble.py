"""Ensembles of trained policies: the mean of several policies' deterministic actions (as OSU's apex plays them).

Members are loaded as :func:`stridelab.learn.policy.load_policy` loads one policy; they must read the same
observation groups with the same description (terms, parameters, scales, noise, history, clip: what
``policy.json`` records), drive the same robot through the same action term at the same control rate,
and run the same gait clock, so that one observation vector feeds them all and their actions can be
averaged. Recurrent members keep their own hidden state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tensordict import TensorDict

from stridelab.config import EnvConfig
from stridelab.errors import ConfigError
from stridelab.learn.config import TrainConfig
from stridelab.learn.models import InferencePolicy
from stridelab.learn.policy import LoadedPolicy, load_policy

log = logging.getLogger(__name__)


class EnsemblePolicy:
    """Deterministic, no-gradient mean of the members' actions: observation TensorDict -> (num_envs, num_actions).

    ``reset(dones)`` clears the recurrent state of every recurrent member (all envs, or where ``dones`` is set).
    """

    def __init__(self, members: Sequence[InferencePolicy]) -> None:
        if not members:
            raise ConfigError("an ensemble needs at least one policy; pass one or more run directories.")
        self.members = list(members)

    @property
    def is_recurrent(self) -> bool:
        return any(m.is_recurrent for m in self.members)

    def __call__(self, obs: TensorDict) -> torch.Tensor:
        with torch.inference_mode():
            return torch.stack([m(obs) for m in self.members]).mean(dim=0)

    def reset(self, dones: torch.Tensor | None = None) -> None:
        for member in self.members:
            member.reset(dones)


@dataclass
class LoadedEnsemble:
    """Several trained policies played as one (:class:`EnsemblePolicy`), with the first member's configs.

    Attributes:
        members: the loaded members, in the order given.
        policy: their ensemble.
    """

    members: list[LoadedPolicy]
    policy: EnsemblePolicy

    @property
    def env_cfg(self) -> EnvConfig:
        return self.members[0].env_cfg

    @property
    def train_cfg(self) -> TrainConfig:
        return self.members[0].train_cfg

    @property
    def checkpoint(self) -> Path:
        """The first member's checkpoint (outputs go beside it)."""
        return self.members[0].checkpoint

    @property
    def data(self) -> dict[str, Any]:
        return self.members[0].data

    @property
    def obs_groups(self) -> dict[str, int]:
        return self.members[0].obs_groups

    @property
    def num_actions(self) -> int:
        return self.members[0].num_actions


def policy_interface(loaded: LoadedPolicy, env: Any | None = None) -> dict[str, Any]:
    """What a policy reads and drives, as plain data: the descriptions of the observation groups it reads
    (``policy.json``'s ``observation``, without the training noise), the action term, the gait clock, the
    joints and the control period.

    ``env``: a built env of the policy's task (default: a one-env env built from ``loaded.env_cfg``).
    """
    if env is None:
        from stridelab.config import override
        from stridelab.envs import make_env
        env = make_env(override(loaded.env_cfg, num_envs=1, num_threads=1))
    groups = env.observations.groups
    missing = [g for g in loaded.obs_groups if g not in groups]
    if missing:
        raise ConfigError(f"the policy of {str(loaded.checkpoint)!r} reads observation groups {missing} that its task "
                          f"does not build; use the stridelab version that trained it.")
    gait = env.commands.gait
    observation = {}
    for g in loaded.obs_groups:  # training noise does not change what the vector means
        desc = groups[g].describe()
        observation[g] = {**desc, "terms": [{k: v for k, v in t.items() if k != "noise"} for t in desc["terms"]]}
    return {
        "observation": observation,
        "action": env.action_term.describe(),
        "gait": gait.describe() if gait is not None else None,
        "joint_names": list(env.robot.spec.joint_names),
        "control_dt": float(env.dt),
    }


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first place where two plain-data trees differ, with both values (``"action.params.scale (0.25 vs 0.5)"``),
    or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            where = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                return where
            found = first_difference(a[key], b[key], where)
            if found is not None:
                return found
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path} (length {len(a)} vs {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    return None if a == b else f"{path} ({_short(a)} vs {_short(b)})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_members(members: Sequence[LoadedPolicy], interfaces: Sequence[dict[str, Any]] | None = None) -> None:
    """Raise :class:`ConfigError` unless every member reads and drives exactly what the first one does.

    ``interfaces``: the members' :func:`policy_interface` (computed when not given).
    """
    first = members[0]
    for member in members[1:]:
        if member.obs_groups != first.obs_groups or member.num_actions != first.num_actions:
            raise ConfigError(f"ensemble members differ: {str(first.checkpoint)!r} reads {first.obs_groups} and gives "
                              f"{first.num_actions} actions, {str(member.checkpoint)!r} reads {member.obs_groups} and "
                              f"gives {member.num_actions}; ensemble only policies trained on the same task.")
    interfaces = list(interfaces) if interfaces is not None else [policy_interface(m) for m in members]
    for member, interface in zip(members[1:], interfaces[1:]):
        where = first_difference(interfaces[0], interface)
        if where is not None:
            raise ConfigError(f"ensemble members must read the same observations and drive the same actions, but "
                              f"{str(first.checkpoint)!r} and {str(member.checkpoint)!r} differ in {where}; ensemble "
                              f"only policies trained with the same observation, action and gait settings.")


def load_ensemble(targets: Sequence[Path | str]) -> LoadedEnsemble:
    """The policies of several runs (or checkpoints) as one ensemble, checked with :func:`check_members`."""
    members = [load_policy(t) for t in targets]
    check_members(members)
    log.info("ensemble of %d policies: %s", len(members), ", ".join(str(m.checkpoint) for m in members))
    return LoadedEnsemble(members, EnsemblePolicy([m.policy for m in members]))


def load_policies(targets: Sequence[Path | str]) -> LoadedPolicy | LoadedEnsemble:
    """One target: :func:`load_policy`; several: :func:`load_ensemble`."""
    if len(targets) == 1:
        return load_policy(targets[0])
    return load_ensemble(targets)
