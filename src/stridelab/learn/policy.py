"""Load a trained policy (and the configs it was trained with) from a run directory or checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stridelab.config import EnvConfig, from_dict, override, to_dict
from stridelab.errors import CheckpointError, ConfigError
from stridelab.learn.checkpoint import latest_checkpoint, load_checkpoint
from stridelab.learn.config import TrainConfig


@dataclass
class LoadedPolicy:
    """A deterministic policy (callable on observation TensorDicts) with its configs and runner."""

    policy: object
    env_cfg: EnvConfig
    train_cfg: TrainConfig
    checkpoint: Path
    data: dict
    runner: object
    env: object


def configs_of(data: dict, path: Path) -> tuple[EnvConfig, TrainConfig]:
    """The env and train configs stored in a checkpoint."""
    if "config" not in data:
        raise CheckpointError(f"checkpoint {str(path)!r} has no stored config; pass a checkpoint written by stridelab.")
    try:
        return (from_dict(EnvConfig, data["config"]["env"], "env"),
                from_dict(TrainConfig, data["config"]["train"], "train"))
    except ConfigError as err:
        raise CheckpointError(f"checkpoint {str(path)!r} was written by another stridelab version ({err})") from None


def config_dict(env_cfg: EnvConfig, train_cfg: TrainConfig) -> dict:
    return {"env": to_dict(env_cfg), "train": to_dict(train_cfg)}


def load_policy(run_or_checkpoint: Path | str) -> LoadedPolicy:
    """Build the actor from a checkpoint (normalizer included) in evaluation mode."""
    from stridelab.envs.locomotion_env import LocomotionEnv
    from stridelab.learn.trainer import build_runner, load_policy_state

    path = latest_checkpoint(Path(run_or_checkpoint))
    data = load_checkpoint(path)
    env_cfg, train_cfg = configs_of(data, path)
    env = LocomotionEnv(override(env_cfg, num_envs=1))
    runner = build_runner(env, train_cfg, None)
    load_policy_state(runner, data)
    policy = runner.get_inference_policy()
    return LoadedPolicy(policy, env_cfg, train_cfg, path, data, runner, env)
