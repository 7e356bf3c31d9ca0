"""Load a trained policy (and the configs it was trained with) from a run directory or checkpoint.

Loading builds only the policy model: no env, no runner, no algorithm (see
:func:`stridelab.learn.models.build_policy_model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from stridelab.config import EnvConfig
from stridelab.learn.checkpoint import configs_of, latest_checkpoint, load_checkpoint
from stridelab.learn.config import TrainConfig
from stridelab.learn.models import InferencePolicy, build_policy_model

__all__ = ["LoadedPolicy", "configs_of", "load_policy"]


@dataclass
class LoadedPolicy:
    """A trained policy with the configs it was trained with.

    Attributes:
        policy: deterministic, no-gradient callable: observation TensorDict -> actions
            ``(num_envs, num_actions)``; ``policy.reset(dones=None)`` clears a recurrent state.
        actor: the rsl-rl model (``nn.Module``, eval mode) behind ``policy``: PPO's actor or a
            distillation student; used for export.
        env_cfg, train_cfg: the configs of the training run.
        checkpoint: the checkpoint file read.
        data: the checkpoint dict (format in :mod:`stridelab.learn.checkpoint`).
    """

    policy: InferencePolicy
    actor: nn.Module
    env_cfg: EnvConfig
    train_cfg: TrainConfig
    checkpoint: Path
    data: dict[str, Any]

    @property
    def obs_groups(self) -> dict[str, int]:
        """Observation groups the policy reads, in order, with their sizes, e.g. ``{"policy": 45}``."""
        return dict(self.data["policy_obs_groups"])

    @property
    def num_actions(self) -> int:
        return int(self.data["num_actions"])


def load_policy(run_or_checkpoint: Path | str) -> LoadedPolicy:
    """The policy of a checkpoint, or of the newest valid checkpoint of a run directory.

    Raises:
        CheckpointError: no (valid) checkpoint, or one this version cannot read.
    """
    path = latest_checkpoint(Path(run_or_checkpoint))
    data = load_checkpoint(path)
    env_cfg, train_cfg = configs_of(data, path)
    actor = build_policy_model(data)
    return LoadedPolicy(InferencePolicy(actor), actor, env_cfg, train_cfg, path, data)
