"""The one registry: named tasks (env class, robot and configs) and named robots.

Tasks register themselves in ``stridelab/tasks/*.py`` and robots in ``stridelab/robots/builtin.py``;
both are loaded on first use, never at import. A robot is addressed by registry name or by a
RobotSpec YAML file (whose ``source`` may be a path, ``builtin:NAME`` or ``menagerie:NAME``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from stridelab.config import EnvConfig, override
from stridelab.errors import ConfigError, unknown_name

DEFAULT_ENV_CLASS = "stridelab.envs.locomotion_env:LocomotionEnv"


@dataclass(frozen=True)
class TaskEntry:
    """A registered task.

    Attributes:
        name: e.g. ``quadruped-flat``.
        description: one line for ``stridelab list``.
        env_cfg: factory of the task's :class:`~stridelab.config.EnvConfig` (robot and terms).
        train_cfg: factory of its :class:`~stridelab.learn.config.TrainConfig`.
        env_class: ``"module:Class"`` of the env that runs it.
    """

    name: str
    description: str
    env_cfg: Callable[[], EnvConfig]
    train_cfg: Callable[[], Any]
    env_class: str = DEFAULT_ENV_CLASS


TASKS: dict[str, TaskEntry] = {}
ROBOTS: dict[str, Any] = {}
_BUILTIN_MODULES = ("stridelab.robots.builtin", "stridelab.tasks.quadruped", "stridelab.tasks.rough",
                    "stridelab.tasks.biped", "stridelab.tasks.courses")


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def register_task(entry: TaskEntry, replace_existing: bool = False) -> TaskEntry:
    """Add a task (a test or a user package may register its own)."""
    if entry.name in TASKS and not replace_existing:
        raise ValueError(f"task {entry.name!r} is registered twice")
    TASKS[entry.name] = entry
    return entry


def register_robot(spec: Any, replace_existing: bool = False) -> Any:
    """Add a :class:`~stridelab.robots.spec.RobotSpec` under its name."""
    if spec.name in ROBOTS and not replace_existing:
        raise ValueError(f"robot {spec.name!r} is registered twice")
    ROBOTS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskEntry:
    _load_builtins()
    if name not in TASKS:
        raise ConfigError(unknown_name("task", name, sorted(TASKS), "the task registry").replace(
            "valid names are", "run `stridelab list` to see them; valid names are"))
    return TASKS[name]


def list_tasks() -> list[TaskEntry]:
    _load_builtins()
    return [TASKS[k] for k in sorted(TASKS)]


def get_robot(name: str, **overrides: Any) -> Any:
    """A registered robot spec, or one read from a YAML file, with fields replaced (e.g. ``source=...``)."""
    from stridelab.robots.builtin import robot_from_yaml

    if name.endswith((".yaml", ".yml")):
        spec = robot_from_yaml(name)
    else:
        _load_builtins()
        if name not in ROBOTS:
            raise ConfigError(unknown_name("robot", name, sorted(ROBOTS), "the robot registry").replace(
                "valid names are", "or give a RobotSpec YAML file; valid names are"))
        spec = ROBOTS[name]
    return replace(spec, **overrides) if overrides else spec


def load_robot_of(name: str, terrain: Any = None) -> Any:
    """Load (compile and index) the robot ``name`` refers to, on ``terrain`` (a TerrainConfig) if given."""
    from stridelab.robots.loader import load_robot

    return load_robot(get_robot(name), terrain=terrain) if terrain is not None else load_robot(get_robot(name))


def make_env_cfg(name: str, **overrides: Any) -> EnvConfig:
    """The task's env config with ``overrides`` (nested dicts for nested sections)."""
    cfg = get_task(name).env_cfg()
    return override(cfg, **overrides) if overrides else cfg


def env_class_of(cfg: EnvConfig) -> type:
    """The env class of ``cfg.task`` (the default locomotion env for an unregistered task name)."""
    _load_builtins()
    path = TASKS[cfg.task].env_class if cfg.task in TASKS else DEFAULT_ENV_CLASS
    module, _, cls = path.partition(":")
    return getattr(importlib.import_module(module), cls)


def make_env(cfg: EnvConfig, **kwargs: Any) -> Any:
    """Build the env a config describes (the registry names its class)."""
    return env_class_of(cfg)(cfg, **kwargs)


def make(name: str, **overrides: Any) -> Any:
    """Build a registered task's environment: ``make("quadruped-flat", num_envs=1024, seed=0)``."""
    return make_env(make_env_cfg(name, **overrides))
