"""Biped velocity-tracking tasks: the built-in Cassie-class biped on a gait clock."""

from __future__ import annotations

from dataclasses import replace

from stridelab.config import EnvConfig, ObsTermCfg, RewardTermCfg
from stridelab.tasks.entry import TaskEntry
from stridelab.tasks.velocity import flat_velocity_task, with_gait_clock


NOMINAL_FREQUENCY = 1.5  # [Hz] Cassie's walking cadence in OSU apex and HasRL (a 0.6-0.7 s cycle)
FREQUENCY_RANGE = (1.25, 2.0)  # [Hz] the stepping-frequency command's range (apex samples phase_add likewise)
DUTY = 0.6  # stance fraction: double support around each touchdown
# Robot-agnostic weights (the same for the built-in biped, Unitree H1 and any humanoid; docs/design.md):
# torque penalty on (tau / tau_max)^2, mean over joints. -4 equals legged_gym's base-config torques weight
# -1e-5 [1/(N m)^2] for H1's limits (200/200/200/300/40 N m per leg: -1e-5 x sum of squared limits) and about
# -2e-5 for the built-in biped's (legged_gym's Cassie uses -5e-6); the task's old -2e-4 is legged_gym's 12 kg A1.
TORQUE_WEIGHT = -4.0
STEP_PER_LEG = 0.3  # longest step as a share of leg length: 0.25 m for H1 (0.79 m legs), 0.26 m for ours (0.85 m)
FORCE_EXCESS_WEIGHT = -1.0  # per body weight of foot force above 1.2 body weights (soft touchdowns)
# After a stop command the clock steps on for one cycle (a step with each foot) before the robot must stand: at
# once, 15 of 16 policies walking at 0.5 m/s planted both feet and fell forward (docs/benchmarks.md section 14).
SETTLE_CYCLES = 1.0


def biped_flat_task(task: str = "biped-flat", robot: str = "biped") -> EnvConfig:
    """Forward walking at 0-1 m/s with small lateral and turning commands, on an alternating gait clock.

    The clock's stepping frequency is a command in 1.25-2 Hz (nominal 1.5 Hz, observed by the policy as
    ``gait_frequency``), each foot in stance for 60 % of the cycle. The gait-cycle reward is apex/HasRL's
    (``gait_force_speed``: foot force in stance, foot speed in swing), in place of the quadruped's
    contact-flag schedule. A biped that falls over pitches or rolls past 0.8 rad.

    The defaults carry across robots: the torque penalty is on torques as a share of each joint's limit,
    foot forces above 1.2 body weights are penalized, and the clock's frequency rises with the commanded
    speed so that no step is longer than 0.3 leg lengths (read from the model). Told to stop, the robot
    steps on for one clock cycle before it must stand on both feet. The same weights train
    the built-in biped and H1; a robot that must differ says so in its spec's ``reward_weights``.
    """
    cfg = with_gait_clock(flat_velocity_task(task, robot), frequency=NOMINAL_FREQUENCY, duty=DUTY)
    velocity = cfg.commands["velocity"]
    commands = {**cfg.commands,
                "velocity": replace(velocity, params={**velocity.params, "lin_vel_x": (0.0, 1.0),
                                                      "lin_vel_y": (-0.3, 0.3), "ang_vel_yaw": (-0.5, 0.5)}),
                "gait": replace(cfg.commands["gait"], params={**cfg.commands["gait"].params,
                                                              "frequency_range": FREQUENCY_RANGE,
                                                              "max_step_per_leg": STEP_PER_LEG,
                                                              "settle_cycles": SETTLE_CYCLES})}
    policy = cfg.observations["policy"]
    observations = {**cfg.observations, "policy": replace(policy, terms={
        **policy.terms, "gait_frequency": ObsTermCfg("gait_frequency", params={"nominal": NOMINAL_FREQUENCY})})}
    schedule = cfg.rewards["gait_contact_schedule"]
    rewards = {**cfg.rewards, "gait_contact_schedule": replace(schedule, weight=0.0),
               "gait_force_speed": RewardTermCfg("gait_force_speed", weight=schedule.weight, params={"duty": DUTY}),
               "torques_l2": replace(cfg.rewards["torques_l2"], weight=0.0),
               "torques_normalized_l2": RewardTermCfg("torques_normalized_l2", weight=TORQUE_WEIGHT),
               "power_normalized": RewardTermCfg("power_normalized", weight=0.0),
               "feet_force_excess": RewardTermCfg("feet_force_excess", weight=FORCE_EXCESS_WEIGHT,
                                                  params={"threshold": 1.2})}
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
