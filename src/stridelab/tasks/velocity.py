"""The velocity-tracking task as term tables: what every locomotion task starts from.

Observation scales and noise follow legged_gym; the reward weights follow Isaac Lab's flat velocity
task (tracking, air time, orientation) plus legged_gym's clip at zero and termination penalty after
it (docs/benchmarks.md has the runs that chose them). Weights are per second.
"""

from __future__ import annotations

from stridelab.config import (EnvConfig, EventTermCfg, ObsGroupCfg, ObsTermCfg, RewardTermCfg, TermCfg,
                              TerminationTermCfg)


def policy_group(history: int = 0) -> ObsGroupCfg:
    """What the robot measures: IMU, command, encoders, last action (45 values for 12 joints)."""
    return ObsGroupCfg(history=history, noise=1.0, clip=100.0, terms={
        "base_ang_vel": ObsTermCfg("base_ang_vel", scale=0.25, noise=0.2),
        "projected_gravity": ObsTermCfg("projected_gravity", noise=0.05),
        "velocity_commands": ObsTermCfg("velocity_commands", scale=(2.0, 2.0, 0.25)),
        "joint_pos": ObsTermCfg("joint_pos_rel", noise=0.01),
        "joint_vel": ObsTermCfg("joint_vel", scale=0.05, noise=1.5),
        "last_action": ObsTermCfg("last_action"),
    })


def privileged_group() -> ObsGroupCfg:
    """What only the simulator knows (critic and teacher inputs): true velocity, contacts, and every
    randomized parameter whose randomization is on."""
    return ObsGroupCfg(noise=0.0, terms={
        "base_lin_vel": ObsTermCfg("base_lin_vel", scale=2.0),
        "foot_contact": ObsTermCfg("foot_contact"),
        "randomized": ObsTermCfg("randomized_parameters"),
    })


def velocity_rewards() -> dict[str, RewardTermCfg]:
    return {
        "track_lin_vel_xy_exp": RewardTermCfg("track_lin_vel_xy_exp", weight=1.5, params={"std": 0.5}),
        "track_ang_vel_z_exp": RewardTermCfg("track_ang_vel_z_exp", weight=0.75, params={"std": 0.5}),
        "lin_vel_z_l2": RewardTermCfg("lin_vel_z_l2", weight=-2.0),
        "ang_vel_xy_l2": RewardTermCfg("ang_vel_xy_l2", weight=-0.05),
        "flat_orientation_l2": RewardTermCfg("flat_orientation_l2", weight=-2.5),
        "base_height_l2": RewardTermCfg("base_height_l2", weight=-10.0),
        "torques_l2": RewardTermCfg("torques_l2", weight=-2e-4),
        "joint_acc_l2": RewardTermCfg("joint_acc_l2", weight=-2.5e-7),
        "action_rate_l2": RewardTermCfg("action_rate_l2", weight=-0.01),
        "feet_air_time": RewardTermCfg("feet_air_time", weight=0.25, params={"threshold": 0.5}),
        "undesired_contacts": RewardTermCfg("undesired_contacts", weight=-1.0),
        "joint_pos_limits": RewardTermCfg("joint_pos_limits", weight=-10.0, params={"soft_ratio": 0.9}),
        # paid once per fall, after the clip at zero (legged_gym), so that falling always costs
        "termination": RewardTermCfg("is_terminated", weight=-20.0, after_clip=True),
        # gait terms, off here; with_gait_clock turns feet_slide and stand_still on (the others: runs D-G in
        # docs/benchmarks.md); turn on with e.g. --env.rewards.spot-air-time.weight 1.0
        "feet_slide": RewardTermCfg("feet_slide", weight=0.0),  # Isaac Lab
        "stand_still": RewardTermCfg("stand_still", weight=0.0, params={"min_command": 0.1}),  # legged_gym
        "spot_air_time": RewardTermCfg("spot_air_time", weight=0.0, params={"mode_time": 0.2}),  # Isaac Lab Spot
        "air_time_variance": RewardTermCfg("air_time_variance", weight=0.0, params={"max_time": 0.5}),  # Isaac Lab
    }


def velocity_terminations(max_tilt: float = 1.0) -> dict[str, TerminationTermCfg]:
    return {
        "time_out": TerminationTermCfg("time_out", time_out=True),
        "base_contact": TerminationTermCfg("base_contact"),
        "bad_orientation": TerminationTermCfg("bad_orientation", params={"max_tilt": max_tilt}),
    }


def randomization_events() -> dict[str, EventTermCfg]:
    """Friction and base mass on; every other randomization present but off (neutral ranges drop a term and
    cost nothing) until its range is widened, e.g. ``--env.events.push.params.velocity 0.5`` or
    ``--env.events.latency.params.delay-s 0 0.04``. ``tasks/rough.py`` turns all of them on."""
    return {
        "friction": EventTermCfg("randomize_friction", params={"range": (0.5, 1.25)}),
        "base_mass": EventTermCfg("randomize_base_mass", params={"added_mass": (-1.0, 1.0), "com_offset": (0.0, 0.0),
                                                                 "inertia_factor": (1.0, 1.0)}),
        "link_mass": EventTermCfg("randomize_link_mass", params={"factor": (1.0, 1.0)}),
        "actuator_gains": EventTermCfg("randomize_actuator_gains", params={
            "motor_strength": (1.0, 1.0), "kp_factor": (1.0, 1.0), "kd_factor": (1.0, 1.0)}),
        "joint_dynamics": EventTermCfg("randomize_joint_dynamics", params={
            "damping_factor": (1.0, 1.0), "armature_factor": (1.0, 1.0), "frictionloss": (0.0, 0.0)}),
        "gravity": EventTermCfg("randomize_gravity", params={"xy_offset": (0.0, 0.0), "z_offset": (0.0, 0.0)}),
        "latency": EventTermCfg("randomize_action_latency", params={"delay_s": (0.0, 0.0)}),
        "push": EventTermCfg("push_by_setting_velocity", mode="interval", interval_s=(10.0, 15.0),
                             params={"velocity": 0.0, "angular_velocity": 0.0}),
        # last: the pose reset runs after the parameters changed (it recomputes the derived quantities)
        "reset_robot": EventTermCfg("reset_robot", params={"joint_noise": 0.1}),
    }


def velocity_commands() -> dict[str, TermCfg]:
    return {"velocity": TermCfg("velocity_command", params={
        "resample_s": 10.0, "lin_vel_x": (-1.0, 1.0), "lin_vel_y": (-0.5, 0.5), "ang_vel_yaw": (-1.0, 1.0),
        "standing_fraction": 0.05, "min_lin_vel": 0.1})}


def with_gait_clock(cfg: EnvConfig, offsets: tuple[float, ...] | None = None, frequency: float = 2.0,
                    weight: float = 2.0, duty: float = 0.5, standing_fraction: float = 0.15) -> EnvConfig:
    """``cfg`` with a natural, clocked gait (docs/benchmarks.md, runs X1-X6):

    - the ``gait`` command (walk-these-ways' gait clock, fixed frequency and offsets) and its sin/cos in
      the policy observation (zero at zero command); ``offsets=None`` derives an alternating gait (a trot
      for a quadruped) from the robot's feet mirror map;
    - walk-these-ways' contact-schedule reward in place of legged_gym's air-time reward, whose 0.5 s
      threshold would penalize every step of a 2 Hz gait;
    - Isaac Lab's ``feet_slide`` (-0.5) and legged_gym's ``stand_still`` (-1.0), with ``standing_fraction``
      of the commands zero, so that the robot stands on all feet when told to.
    """
    from dataclasses import replace

    policy = cfg.observations["policy"]
    observations = {**cfg.observations, "policy": replace(policy, terms={
        **policy.terms, "gait_clock": ObsTermCfg("gait_clock")})}
    rewards = {**cfg.rewards,
               "feet_air_time": replace(cfg.rewards["feet_air_time"], weight=0.0),
               "feet_slide": replace(cfg.rewards["feet_slide"], weight=-0.5),
               "stand_still": replace(cfg.rewards["stand_still"], weight=-1.0),
               "gait_contact_schedule": RewardTermCfg("gait_contact_schedule", weight=weight, params={"duty": duty})}
    velocity = cfg.commands["velocity"]
    commands = {**cfg.commands,
                "velocity": replace(velocity, params={**velocity.params, "standing_fraction": standing_fraction}),
                "gait": TermCfg("gait_clock", params={
                    "frequency": frequency, "duty": duty, **({} if offsets is None else {"offsets": tuple(offsets)})})}
    return replace(cfg, observations=observations, rewards=rewards, commands=commands)


def flat_velocity_task(task: str, robot: str) -> EnvConfig:
    """A robot tracking (vx, vy, yaw rate) commands on flat ground."""
    return EnvConfig(
        task=task, robot=robot,
        action=TermCfg("joint_position", {"clip": 10.0}),
        commands=velocity_commands(),
        observations={"policy": policy_group(), "privileged": privileged_group()},
        rewards=velocity_rewards(),
        terminations=velocity_terminations(),
        events=randomization_events(),
    )
