"""The registry of named tasks: the built-in task families (each module's ``TASKS``) and any registered later.

A task is a pair of configs; building its env is :func:`stridelab.envs.make_env` on the env config, so
nothing below this layer needs the registry.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stridelab.config import EnvConfig, override
from stridelab.envs.factory import make_env
from stridelab.errors import ConfigError, unknown_name
from stridelab.tasks import biped, courses, quadruped, rough
from stridelab.tasks.entry import TaskEntry

TASKS: dict[str, TaskEntry] = {t.name: t for family in (quadruped, rough, biped, courses) for t in family.TASKS}


def register_task(entry: TaskEntry, replace_existing: bool = False) -> TaskEntry:
    """Add a task (a test or a user package may register its own)."""
    if entry.name in TASKS and not replace_existing:
        raise ValueError(f"task {entry.name!r} is registered twice")
    TASKS[entry.name] = entry
    return entry


def get_task(name: str) -> TaskEntry:
    """The registered task ``name``.

    Raises:
        ConfigError: no such task (one sentence with the valid names).
    """
    if name not in TASKS:
        raise ConfigError(unknown_name("task", name, sorted(TASKS), "the task registry").replace(
            "valid names are", "run `stridelab list` to see them; valid names are"))
    return TASKS[name]


def list_tasks() -> list[TaskEntry]:
    return [TASKS[k] for k in sorted(TASKS)]


def make_env_cfg(name: str, **overrides: Any) -> EnvConfig:
    """The task's env config with ``overrides`` (nested dicts for nested sections) and the robot's own reward
    weights (:func:`with_robot_weights`) where the overrides leave a weight at the task's."""
    defaults = get_task(name).env_cfg()
    return with_robot_weights(override(defaults, **overrides) if overrides else defaults, defaults)


def with_robot_weights(cfg: EnvConfig, defaults: EnvConfig) -> EnvConfig:
    """``cfg`` with the robot spec's ``reward_weights`` in place of the task's, for every term whose weight in
    ``cfg`` is still the one in ``defaults`` (the task's): a weight given on the command line wins.

    Raises:
        ConfigError: the spec names a reward term the task does not have (one sentence, with the valid names).
    """
    from stridelab.robots.registry import get_robot

    weights = get_robot(cfg.robot).reward_weights
    if not weights:
        return cfg
    rewards = dict(cfg.rewards)
    for name, weight in weights:
        if name not in rewards and name in defaults.rewards:
            continue  # switched off on the command line (--env.rewards.NAME None)
        if name not in rewards:
            raise ConfigError(unknown_name("reward term", name, sorted(rewards), f"the task {cfg.task}").replace(
                "valid names are", f"fix reward_weights in the robot spec {cfg.robot}; valid names are"))
        base = defaults.rewards.get(name)
        if base is None or rewards[name].weight == base.weight:
            rewards[name] = replace(rewards[name], weight=weight)
    return replace(cfg, rewards=rewards)


def make(name: str, **overrides: Any) -> Any:
    """Build a registered task's environment: ``make("quadruped-flat", num_envs=1024, seed=0)``."""
    return make_env(make_env_cfg(name, **overrides))


def make_gym(name: str, **overrides: Any) -> Any:
    """A registered task as a ``gymnasium`` vector env (:class:`stridelab.envs.gym_adapter.GymVectorEnv`)."""
    from stridelab.envs.gym_adapter import GymVectorEnv

    return GymVectorEnv(make(name, **overrides))
