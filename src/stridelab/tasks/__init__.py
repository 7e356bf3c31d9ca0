"""Task registry: named environment configurations. ``stridelab.make(name, **overrides)`` builds one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stridelab.config import EnvConfig, override
from stridelab.errors import ConfigError, unknown_name


@dataclass(frozen=True)
class TaskEntry:
    """A registered task: its environment config and the training config factory."""

    name: str
    description: str
    env_cfg: Callable[[], EnvConfig]
    train_cfg: Callable[[], Any]


TASKS: dict[str, TaskEntry] = {}


def register(entry: TaskEntry) -> TaskEntry:
    if entry.name in TASKS:
        raise ValueError(f"task {entry.name!r} is registered twice")
    TASKS[entry.name] = entry
    return entry


def _load_builtin_tasks() -> None:
    from stridelab.tasks import quadruped  # noqa: F401  (registers on import)


def get_task(name: str) -> TaskEntry:
    _load_builtin_tasks()
    if name not in TASKS:
        raise ConfigError(unknown_name("task", name, sorted(TASKS), "the task registry") .replace(
            "valid names are", "run `stridelab list` to see them; valid names are"))
    return TASKS[name]


def list_tasks() -> list[TaskEntry]:
    _load_builtin_tasks()
    return [TASKS[k] for k in sorted(TASKS)]


def make_env_cfg(name: str, **overrides: Any) -> EnvConfig:
    """The task's env config with ``overrides`` (nested dicts for nested sections)."""
    cfg = get_task(name).env_cfg()
    return override(cfg, **overrides) if overrides else cfg


def make(name: str, **overrides: Any):
    """Build the task's environment: ``make("quadruped-flat", num_envs=1024, seed=0)``."""
    from stridelab.envs.locomotion_env import LocomotionEnv

    return LocomotionEnv(make_env_cfg(name, **overrides))
