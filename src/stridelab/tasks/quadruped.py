"""Quadruped velocity-tracking tasks."""

from __future__ import annotations

from stridelab.registry import TaskEntry, register_task
from stridelab.tasks.velocity import flat_velocity_task, with_gait_clock


def _train_cfg():
    from stridelab.learn.config import TrainConfig

    return TrainConfig()


register_task(TaskEntry(
    name="quadruped-flat",
    description="built-in 12-DoF quadruped (A1 class) tracking (vx, vy, yaw rate) commands on flat ground "
                "with a 2 Hz trot clock",
    env_cfg=lambda: with_gait_clock(flat_velocity_task("quadruped-flat", "quadruped")),
    train_cfg=_train_cfg,
), replace_existing=True)

register_task(TaskEntry(
    name="go2-flat",
    description="Unitree Go2 (MuJoCo Menagerie / MENAGERIE_ROOT) tracking velocity commands on flat ground",
    env_cfg=lambda: with_gait_clock(flat_velocity_task("go2-flat", "go2")),
    train_cfg=_train_cfg,
), replace_existing=True)
