"""What a registered task is: a name, a line of description and the factories of its two configs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stridelab.config import EnvConfig


@dataclass(frozen=True)
class TaskEntry:
    """A registered task.

    Attributes:
        name: e.g. ``quadruped-flat``.
        description: one line for ``stridelab list``.
        env_cfg: factory of the task's :class:`~stridelab.config.EnvConfig` (robot, terms, and the env class
            that runs them: ``EnvConfig.env_class``).
        train_cfg: factory of its :class:`~stridelab.learn.config.TrainConfig`.
    """

    name: str
    description: str
    env_cfg: Callable[[], EnvConfig]
    train_cfg: Callable[[], Any]
