"""Rough-terrain velocity tracking: the flat task's terms on a terrain grid, with a height scan and the
terrain curriculum (legged_gym's rough task).

The teacher (actor and critic) reads ``policy`` + ``extero`` (the height scan); the critic also reads
``privileged``. Every domain randomization is on (:func:`rough_randomization`), so ``privileged`` holds
every randomized quantity. The default grid: 10 rows of rising difficulty x 8 columns (flat, rough, slopes up and
down, two of stairs up and two of stairs down) of 8 m tiles.
"""

from __future__ import annotations

from dataclasses import replace

from stridelab.config import EnvConfig, EventTermCfg, ObsGroupCfg, ObsTermCfg, RewardTermCfg, TermCfg, override
from stridelab.sim.terrain.config import TerrainConfig
from stridelab.tasks.entry import TaskEntry
from stridelab.tasks.velocity import flat_velocity_task, with_gait_clock

#: the teacher's actor and critic: 3 x 128, not legged_gym's 512-256-128, whose PPO update on mirror-augmented
#: mini-batches costs 3.3x as much per sample on 2 CPU cores and held training at ~2.7k env steps/s
#: (docs/benchmarks.md, section 7)
TEACHER_HIDDEN_DIMS = (128, 128, 128)

#: stairs get twice the columns of the other types (legged_gym gives them 60 % of its grid): with one column
#: each, stairs up held 17 % of the envs and its mean row stayed near 0 in 15 M steps (docs/benchmarks.md)
ROUGH_TYPES = {"flat": 1.0, "rough": 1.0, "slope_up": 1.0, "slope_down": 1.0, "stairs_up": 2.0, "stairs_down": 2.0}


def rough_terrain() -> TerrainConfig:
    """10 levels x 8 columns of 8 m tiles (:data:`ROUGH_TYPES`), 0.05 m samples, a 3 m flat border.

    Ten rows as legged_gym: risers rise by 1.7 cm a row (5, 6.7, 8.3, 10, ... 20 cm); with five rows the step
    from 5 to 8.75 cm held the stairs-up column on its first row."""
    return TerrainConfig(num_rows=10, num_cols=8, tile_size=8.0, border=3.0, types=dict(ROUGH_TYPES))


def extero_group() -> ObsGroupCfg:
    """The height scan (legged_gym: 187 points, scale 5); noise-free (a teacher's input).

    The points read the terrain's own heights (``method="lookup"``, as legged_gym samples its height
    field) rather than casting 187 rays per env with ``Batch.ray``: at 1024 envs the rays cost 34 ms per
    control step and hold the env at 0.54x the physics limit, the lookup at 0.86x (docs/benchmarks.md).
    Both agree on treads, platforms and planar slopes (tested); ``method="ray"`` also sees geometry the
    terrain does not describe (``--env.observations.extero.terms.height-scan.params.method ray``).
    """
    return ObsGroupCfg(noise=0.0, clip=100.0, terms={
        "height_scan": ObsTermCfg("height_scan", scale=5.0, params={"offset": 0.0, "clip": 1.0,
                                                                     "method": "lookup"}),
    })


def rough_randomization() -> dict[str, EventTermCfg]:
    """Every randomization on (RL-Lite3's and ETG-RL's lists), with pushes; the pose reset is not included.

    Sampled per env at each reset, except pushes (every 10-15 s). The built-in quadruped is A1/Go1-sized
    (12 kg, 4.7 kg trunk, 5 ms substeps, decimation 4)."""
    return {
        # legged_gym's friction_range (also RL-Lite3's lite3_config)
        "friction": EventTermCfg("randomize_friction", params={"range": (0.5, 1.25)}),
        "base_mass": EventTermCfg("randomize_base_mass", params={
            "added_mass": (-1.0, 3.0),  # [kg] walk-these-ways' added_mass_range (Go1, 12 kg)
            "com_offset": (-0.03, 0.03),  # [m] RL-Lite3's com_offset_range for y and z (x: -0.05 .. 0.01)
            "inertia_factor": (0.8, 1.2)}),  # ETG-RL's base inertia ratios (RLSchool RandomWrapper), per axis
        # ETG-RL's leg mass ratios (0.8, 1.2) (there one per hip/thigh/calf group: groups=("hip", "thigh", "calf")
        # on robots with such link names); here one per link, which fits any robot
        "link_mass": EventTermCfg("randomize_link_mass", params={"factor": (0.8, 1.2)}),
        # RL-Lite3's lite3_config: motor_strength_range, Kp_factor_range, Kd_factor_range
        "actuator_gains": EventTermCfg("randomize_actuator_gains", params={
            "motor_strength": (0.8, 1.2), "kp_factor": (0.75, 1.25), "kd_factor": (0.5, 1.5)}),
        "joint_dynamics": EventTermCfg("randomize_joint_dynamics", params={
            # passive damping adds to the PD's kd: the same spread as RL-Lite3's (and walk-these-ways') Kd_factor_range
            "damping_factor": (0.5, 1.5),
            "armature_factor": (1.0, 1.05),  # MuJoCo Playground's Go1 randomize.py (dof_armature x U(1.0, 1.05))
            "frictionloss": (0.0, 0.05)}),  # [N m] ETG-RL's joint friction U(0, 0.05) (RLSchool RandomWrapper)
        # [m/s^2] ETG-RL tilts gravity by U(-1, 1) per horizontal axis (RLSchool locomotion_gym_env, random mode);
        # walk-these-ways' gravity_range is the same
        "gravity": EventTermCfg("randomize_gravity", params={"xy_offset": (-1.0, 1.0), "z_offset": (0.0, 0.0)}),
        # [s] 0-40 ms: ETG-RL draws 35-45 ms at reset and fits 40 +- 10 ms (Dynamic_parallel_model.py);
        # walk-these-ways' lag_timesteps = 6 (30 ms); here 0 to 8 substeps of 5 ms
        "latency": EventTermCfg("randomize_action_latency", params={"delay_s": (0.0, 0.04)}),
        # Isaac Lab's rough velocity task: push_robot +-0.5 m/s every 10-15 s; humanoid-gym's max_push_ang_vel 0.4
        "push": EventTermCfg("push_by_setting_velocity", mode="interval", interval_s=(10.0, 15.0),
                             params={"velocity": 0.5, "angular_velocity": 0.4}),
    }


def rough_velocity_task(task: str, robot: str, terrain: TerrainConfig | None = None) -> EnvConfig:
    """The flat velocity task on terrain, with its 2 Hz trot clock (``with_gait_clock``): spawn on curriculum
    tiles, height scan, terrain curriculum, every domain randomization on."""
    base = with_gait_clock(flat_velocity_task(task, robot))
    events = {k: v for k, v in base.events.items() if k != "reset_robot"}
    events.update(rough_randomization())
    events["reset_robot"] = EventTermCfg("reset_robot_on_terrain", params={"joint_noise": 0.1, "xy_noise": 0.5})
    # legged_gym's and Isaac Lab's rough tasks steer towards random headings: yaw-rate commands walk circles
    # (0.5 m/s at 0.5 rad/s: a circle 2 m across) that never leave a stair pit, so its curriculum could not move up
    velocity = base.commands["velocity"]
    commands = {**base.commands, "velocity": replace(velocity, func="heading_command")}
    return replace(
        base,
        commands=commands,
        terrain=terrain or rough_terrain(),
        observations={**base.observations, "extero": extero_group()},
        events=events,
        # legged_gym's feet_stumble, present but off as in legged_gym (--env.rewards.feet_stumble.weight -0.5);
        # thigh collisions are the flat task's undesired_contacts
        rewards={**base.rewards,
                 "feet_stumble": RewardTermCfg("feet_stumble", weight=0.0),
                 # walk-these-ways' foot clearance (-30, its 8 cm trot swing height), above the terrain under the
                 # foot: a foot that shuffles at 2-3 cm catches every riser
                 "feet_swing_height": RewardTermCfg("feet_swing_height", weight=-30.0, params={"height": 0.08}),
                 # on slopes and stairs the body follows the ground: Isaac Lab's rough velocity task and
                 # legged_gym's rough configs weigh orientation and base height with 0
                 "flat_orientation_l2": replace(base.rewards["flat_orientation_l2"], weight=0.0),
                 "base_height_l2": replace(base.rewards["base_height_l2"], weight=0.0)},
        curriculum={"terrain_levels": TermCfg("terrain_levels", params={"max_init_level": 2}),
                    # off (end_step 0: the full ranges from the start); a ramp from the nominal robot, e.g.
                    # --env.curriculum.randomization-strength.params.end-step 20000 (control steps per env)
                    "randomization_strength": TermCfg("randomization_strength", params={"start_step": 0,
                                                                                        "end_step": 0}),
                    # legged_gym's command curriculum, off: limits equal to the command's ranges; on with e.g.
                    # --env.curriculum.command-levels.params.limit-lin-vel-x -2 2
                    "command_levels": TermCfg("command_levels", params={
                        "limit_lin_vel_x": velocity.params["lin_vel_x"],
                        "limit_lin_vel_y": velocity.params["lin_vel_y"]})},
    )


#: the teacher's ramp on the randomization strength (control steps per env; 24 per PPO iteration): the nominal
#: robot for 100 iterations, the full ranges from iteration 500. After 60 minutes 10 cm stairs up 72 % / 67 %
#: randomized (98 % / 95 % nominal, two seeds) where full ranges from iteration 800 gave 44-49 % in three seeds
#: and full ranges from the start 19 % (docs/benchmarks.md, section 7)
TEACHER_RAMP = {"start_step": 2400, "end_step": 12000}

#: past frames of ``policy`` the teacher's actor reads (40 ms at 50 Hz), so it can feel a weak motor or a heavy
#: base from how its joints answered
TEACHER_HISTORY = 2

#: the teacher's swing-foot clearance peak [m] (``feet_swing_height``; 8 cm on the courses, walk-these-ways' trot;
#: MuJoCo Playground's Go1 and Go2 joysticks use 10 cm). With 8 cm the 10 cm risers were the edge: the nominal
#: robot climbed 9 cm 97 % and 11 cm 28 %; with 12 cm, 10 cm stairs up rose from 68 % to 85 % (nominal) and
#: 24 % to 44 % (randomized) in 60 minutes, seed 1 (docs/benchmarks.md, section 7)
TEACHER_SWING_HEIGHT = 0.12


def rough_teacher_task(task: str, robot: str) -> EnvConfig:
    """:func:`rough_velocity_task` with the teacher's recipe: :data:`TEACHER_HISTORY` frames of history in
    ``policy``, the randomization ramp :data:`TEACHER_RAMP` (evaluations drop the ramp and run the full
    ranges; ``--env.curriculum.randomization-strength.params.end-step 0`` trains on them from the start) and
    swing feet peaking at :data:`TEACHER_SWING_HEIGHT`."""
    return override(rough_velocity_task(task, robot),
                    observations={"policy": {"history": TEACHER_HISTORY}},
                    rewards={"feet_swing_height": {"params": {"height": TEACHER_SWING_HEIGHT}}},
                    curriculum={"randomization_strength": {"params": dict(TEACHER_RAMP)}})


#: wall-clock budget of ``stridelab train quadruped-rough`` [min]. On 2 CPU cores 60 minutes (14-20 M env steps)
#: left 10 cm stairs up with the training randomizations at 59-80.5 % in four runs; 120 minutes (26-30 M env
#: steps) met every terrain goal in every seed measured (84-87 %; docs/benchmarks.md section 7)
TEACHER_MAX_MINUTES = 120.0


def _train_cfg():
    from stridelab.learn.config import TrainConfig

    return TrainConfig(actor_obs_groups=("policy", "extero"), critic_obs_groups=("policy", "privileged", "extero"),
                       actor_hidden_dims=TEACHER_HIDDEN_DIMS, critic_hidden_dims=TEACHER_HIDDEN_DIMS,
                       max_minutes=TEACHER_MAX_MINUTES, stop_when_walks=False)


TASKS = (TaskEntry(
    name="quadruped-rough",
    description="built-in quadruped on a terrain grid (slopes, stairs, rough) with a height scan and a curriculum",
    env_cfg=lambda: rough_teacher_task("quadruped-rough", "quadruped"),
    train_cfg=_train_cfg,
),)
