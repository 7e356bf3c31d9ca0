"""Building the env a config describes: ``EnvConfig.env_class`` names its class (``"module:Class"``), so any
layer that holds a config (evaluation, Ray workers, export) can build it without the task registry."""

from __future__ import annotations

import importlib
from typing import Any

from stridelab.config import EnvConfig
from stridelab.errors import ConfigError


def env_class_of(cfg: EnvConfig) -> type:
    """The class ``cfg.env_class`` names.

    Raises:
        ConfigError: the module does not import or has no such class.
    """
    module, _, name = cfg.env_class.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"env_class = {cfg.env_class!r} cannot be imported ({exc}); give 'package.module:Class' of "
                          f"an env class, e.g. 'stridelab.envs.locomotion_env:LocomotionEnv'.") from None
    if not isinstance(cls, type):
        raise ConfigError(f"env_class = {cfg.env_class!r} is not a class; give 'package.module:Class'.")
    return cls


def make_env(cfg: EnvConfig, **kwargs: Any) -> Any:
    """Build the env ``cfg`` describes (``kwargs`` go to its constructor)."""
    return env_class_of(cfg)(cfg, **kwargs)
