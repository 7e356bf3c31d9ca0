"""Biped velocity-tracking tasks: the built-in Cassie-class biped on a gait clock."""

from __future__ import annotations

from dataclasses import replace

from stridelab.config import EnvConfig, ObsTermCfg, RewardTermCfg
from stridelab.tasks.entry import TaskEntry
from stridelab.tasks.velocity import flat_velocity_task, with_gait_clock


NOMINAL_FREQUENCY = 1.5  # [Hz] Cassie's walking cadence in OSU apex and HasRL (a 0.6-0.7 s cycle)
FREQUENCY_RANGE = (1.25, 2.0)  # [Hz] the stepping-frequency command's range (apex samples phase_add likewise)
DUTY = 0.6  # stance fraction: double support around each touchdown


def biped_flat_task(task: str = "biped-flat", robot: str = "biped") -> EnvConfig:
    """Forward walking at 0-1 m/s with small lateral and turning commands, on an alternating gait clock.

    The clock's stepping frequency is a command in 1.25-2 Hz (nominal 1.5 Hz, observed by the policy as
    ``gait_frequency``), each foot in stance for 60 % of the cycle. The gait-cycle reward is apex/HasRL's
    (``gait_force_speed``: foot force in stance, foot speed in swing), in place of the quadruped's
    contact-flag schedule. A biped that falls over pitches or rolls past 0.8 rad.
    """
    cfg = with_gait_clock(flat_velocity_task(task, robot), frequency=NOMINAL_FREQUENCY, duty=DUTY)
    velocity = cfg.commands["velocity"]
    commands = {**cfg.commands,
                "velocity": replace(velocity, params={**velocity.params, "lin_vel_x": (0.0, 1.0),
                                                      "lin_vel_y": (-0.3, 0.3), "ang_vel_yaw": (-0.5, 0.5)}),
                "gait": replace(cfg.commands["gait"], params={**cfg.commands["gait"].params,
                                                              "frequency_range": FREQUENCY_RANGE})}
    policy = cfg.observations["policy"]
    observations = {**cfg.observations, "policy": replace(policy, terms={
        **policy.terms, "gait_frequency": ObsTermCfg("gait_frequency", params={"nominal": NOMINAL_FREQUENCY})})}
    schedule = cfg.rewards["gait_contact_schedule"]
    rewards = {**cfg.rewards, "gait_contact_schedule": replace(schedule, weight=0.0),
               "gait_force_speed": RewardTermCfg("gait_force_speed", weight=schedule.weight, params={"duty": DUTY})}
    terminations = {**cfg.terminations,
                    "bad_orientation": replace(cfg.terminations["bad_orientation"], params={"max_tilt": 0.8})}
    return replace(cfg, commands=commands, observations=observations, rewards=rewards, terminations=terminations)


def _train_cfg():
    from stridelab.learn.config import TrainConfig

    return TrainConfig()


TASKS = (TaskEntry(
    name="biped-flat",
    description="built-in 10-DoF Cassie-class biped walking at commanded speeds on a 1.5 Hz gait clock",
    env_cfg=biped_flat_task,
    train_cfg=_train_cfg,
),)
