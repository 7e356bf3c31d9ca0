"""Quadruped velocity-tracking tasks."""

from __future__ import annotations

from stridelab.config import EnvConfig
from stridelab.tasks import TaskEntry, register


def _train_cfg():
    from stridelab.learn.config import TrainConfig

    return TrainConfig()


register(TaskEntry(
    name="quadruped-flat",
    description="built-in 12-DoF quadruped (A1 class) tracking (vx, vy, yaw rate) commands on flat ground",
    env_cfg=lambda: EnvConfig(task="quadruped-flat", robot="quadruped"),
    train_cfg=_train_cfg,
))

register(TaskEntry(
    name="go2-flat",
    description="Unitree Go2 (MuJoCo Menagerie / MENAGERIE_ROOT) tracking velocity commands on flat ground",
    env_cfg=lambda: EnvConfig(task="go2-flat", robot="go2"),
    train_cfg=_train_cfg,
))
