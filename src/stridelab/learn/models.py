"""The deployable policy: an rsl-rl-lib model rebuilt from a checkpoint, and its inference wrapper.

Rebuilding needs no env and no runner: the checkpoint records the model's rsl-rl config, the
observation groups it reads with their sizes and the number of actions (see
:mod:`stridelab.learn.checkpoint`), so the model is constructed from a zero observation TensorDict
of those sizes and then given its weights.
"""

from __future__ import annotations

from typing import Any

import torch
from rsl_rl.utils import resolve_callable
from tensordict import TensorDict
from torch import nn

from stridelab.errors import CheckpointError
from stridelab.learn.checkpoint import policy_state_dict


class InferencePolicy:
    """Deterministic actions from an rsl-rl-lib model, as rsl-rl's own inference policy gives them.

    Calling it maps an observation TensorDict (``num_envs`` rows; one ``(num_envs, size)`` tensor per
    group the model reads) to actions of shape ``(num_envs, num_actions)`` (the distribution's mean;
    no gradient). A recurrent model keeps its hidden state between calls, one row per env, exactly
    as during training; :meth:`reset` clears it (all envs, or those where ``dones`` is set).
    Other attributes (``obs_normalizer``, ``mlp``, ``rnn``, ...) are the model's.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.reset()

    @property
    def is_recurrent(self) -> bool:
        return bool(getattr(self.model, "is_recurrent", False))

    def __call__(self, obs: TensorDict) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(obs)

    def reset(self, dones: torch.Tensor | None = None) -> None:
        """Clear the recurrent state of every env (``dones=None``) or of the envs where ``dones`` (n,) is set."""
        with torch.inference_mode():  # the state was made in inference mode: only change it there
            self.model.reset(dones)

    def __getattr__(self, name: str) -> Any:
        if name == "model":  # not set yet (during unpickling or copying)
            raise AttributeError(name)
        return getattr(self.model, name)


def model_class(class_name: str) -> type[nn.Module]:
    """The rsl-rl model class named in a checkpoint (``"MLPModel"``, ``"RNNModel"`` or ``"module:Class"``)."""
    try:
        cls = resolve_callable(class_name)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"the checkpoint's policy model class {class_name!r} cannot be found ({exc}); install "
                              f"the package that defines it or retrain.") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise CheckpointError(f"the checkpoint's policy model class {class_name!r} is not a torch module; pass a "
                              f"checkpoint written by stridelab train.")
    return cls


def build_policy_model(data: dict[str, Any]) -> nn.Module:
    """The checkpoint's deployable policy model with its weights (normalizer included), in eval mode.

    Args:
        data: a checkpoint from :func:`stridelab.learn.checkpoint.load_checkpoint`.
    """
    return build_model(data, policy_state_dict(data))


def build_model(spec: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """An rsl-rl model from its description, with ``state_dict`` loaded (strict), in eval mode.

    Args:
        spec: ``policy_model`` (its observation-set name), ``policy_cfg`` (rsl-rl model config with
            ``class_name``), ``policy_obs_groups`` (group -> size, in order) and ``num_actions``.
        state_dict: the model's weights and normalizer statistics.
    """
    cfg = dict(spec["policy_cfg"])
    cls = model_class(cfg.pop("class_name"))
    name, sizes = spec["policy_model"], spec["policy_obs_groups"]
    obs = TensorDict({group: torch.zeros(1, size) for group, size in sizes.items()}, batch_size=[1])
    try:
        model = cls(obs, {name: list(sizes)}, name, int(spec["num_actions"]), **cfg)
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, TypeError, ValueError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"the checkpoint's policy cannot be rebuilt ({reason}); pass a checkpoint written by "
                              f"stridelab train with this version.") from None
    return model.eval()
