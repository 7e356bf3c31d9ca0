"""Biped velocity-tracking tasks: the built-in Cassie-class biped on a gait clock."""

from __future__ import annotations

from dataclasses import replace

from stridelab.config import EnvConfig
from stridelab.registry import TaskEntry, register_task
from stridelab.tasks.velocity import flat_velocity_task, with_gait_clock


def biped_flat_task(task: str = "biped-flat", robot: str = "biped") -> EnvConfig:
    """Forward walking at 0-1 m/s with small lateral and turning commands, on an alternating gait clock.

    The clock runs at 1.5 Hz with each foot in stance for 60 % of the cycle (double support around each
    touchdown), Cassie's walking cadence in OSU apex and HasRL (a 0.6-0.7 s cycle). A biped that falls
    over pitches or rolls past 0.8 rad.
    """
    cfg = with_gait_clock(flat_velocity_task(task, robot), frequency=1.5, duty=0.6)
    velocity = cfg.commands["velocity"]
    commands = {**cfg.commands, "velocity": replace(velocity, params={
        **velocity.params, "lin_vel_x": (0.0, 1.0), "lin_vel_y": (-0.3, 0.3), "ang_vel_yaw": (-0.5, 0.5)})}
    terminations = {**cfg.terminations,
                    "bad_orientation": replace(cfg.terminations["bad_orientation"], params={"max_tilt": 0.8})}
    return replace(cfg, commands=commands, terminations=terminations)


def _train_cfg():
    from stridelab.learn.config import TrainConfig

    return TrainConfig()


register_task(TaskEntry(
    name="biped-flat",
    description="built-in 10-DoF Cassie-class biped walking at commanded speeds on a 1.5 Hz gait clock",
    env_cfg=biped_flat_task,
    train_cfg=_train_cfg,
), replace_existing=True)
