"""The built-in robots and ready-made specs for reference models (:data:`BUILTIN_ROBOTS`; the registry that
names them is :mod:`stridelab.robots.registry`)."""

from __future__ import annotations

from stridelab.robots.spec import RobotSpec

_LEGS = ("FL", "FR", "RL", "RR")
_QUAD_JOINTS = tuple(f"{leg}_{part}_joint" for leg in _LEGS for part in ("hip", "thigh", "calf"))
# Left/right mirror of a FL, FR, RL, RR quadruped: swap the sides, negate abduction.
_QUAD_MIRROR_PERM = (3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8)
_QUAD_MIRROR_SIGN = (-1.0, 1.0, 1.0) * 4
_QUAD_FEET_MIRROR = (1, 0, 3, 2)

# Standing pose from legged_gym's a1_config.py (hip +-0.1, thigh 0.8 front / 1.0 rear, calf -1.5 rad;
# action scale 0.25 rad). PD gains kp 35 N m/rad, kd 0.5 N m s/rad from MuJoCo Playground's Go1
# joystick task: legged_gym's kp 20 lets this model sag 7 cm and splay its hips 0.2 rad at rest.
_A1_POSE = (0.1, 0.8, -1.5, -0.1, 0.8, -1.5, 0.1, 1.0, -1.5, -0.1, 1.0, -1.5)

QUADRUPED = RobotSpec(
    name="quadruped",
    source="builtin:quadruped",
    joint_names=_QUAD_JOINTS,
    default_pose=_A1_POSE,
    kp=(35.0,) * 12,
    kd=(0.5,) * 12,
    base_body="trunk",
    feet=tuple(f"{leg}_foot" for leg in _LEGS),
    terminate_contacts=("trunk",),
    penalize_contacts=tuple(f"{leg}_thigh" for leg in _LEGS),
    mirror_perm=_QUAD_MIRROR_PERM,
    mirror_sign=_QUAD_MIRROR_SIGN,
    feet_mirror_perm=_QUAD_FEET_MIRROR,
    init_height=0.30,
    base_height_target=0.28,  # rests at 0.27 m on its PD controllers in the default pose
    action_scale=0.25,
)

# Unitree Go2 from MuJoCo Menagerie (or MENAGERIE_ROOT). Gains kp 20 / kd 0.5 and the standing pose
# follow unitree_rl_gym's go2_config.py; the trunk rests at about 0.27 m in that pose.
GO2 = RobotSpec(
    name="go2",
    # the robot file alone (the loader adds a floor): unitree_mujoco's scene.xml, the one in ../shared/robots,
    # also puts two 8 cm bars and a staircase 1.2-3.4 m ahead of the spawn point, which every forward walk hit
    source="menagerie:unitree_go2/go2",
    joint_names=_QUAD_JOINTS,
    default_pose=_A1_POSE,
    kp=(20.0,) * 12,
    kd=(0.5,) * 12,
    base_body="base_link",
    feet=_LEGS,
    terminate_contacts=("base_link",),
    penalize_contacts=tuple(f"{leg}_thigh" for leg in _LEGS),
    mirror_perm=_QUAD_MIRROR_PERM,
    mirror_sign=_QUAD_MIRROR_SIGN,
    feet_mirror_perm=_QUAD_FEET_MIRROR,
    init_height=0.33,
    base_height_target=0.27,
    limit_collisions=True,
    timestep=0.005,  # the file uses MuJoCo's default 0.002 s; 0.005 s x 4 = the tasks' 50 Hz policy
)

# Built-in Cassie-class biped (robots/assets/biped.xml; its header cites every figure). Joint order:
# left leg, then right leg, each hip roll, hip yaw, hip pitch, knee, foot (toe pitch).
_BIPED_PARTS = ("hip_roll", "hip_yaw", "hip_pitch", "knee", "foot")
_BIPED_JOINTS = tuple(f"{side}_{part}" for side in ("left", "right") for part in _BIPED_PARTS)
# Sagittal-plane mirror: swap the legs (i <-> i + 5), negate hip roll and hip yaw (both legs have the same
# joint axes, so the pitch joints keep their sign).
_BIPED_MIRROR_PERM = (5, 6, 7, 8, 9, 0, 1, 2, 3, 4)
_BIPED_MIRROR_SIGN = (-1.0, -1.0, 1.0, 1.0, 1.0) * 2
# Standing pose = the `home` keyframe: knees bent 63 deg, feet level (Cassie's own home pose, re-expressed in
# this model's joints, bends them 73 deg). It is the PD target: under gravity the knees sag a further
# 0.09 rad (to 68 deg), and the pose is chosen so that the robot then rests with its pelvis level and its
# centre of mass 2 cm behind the middle of the feet.
_BIPED_POSE = (0.0, 0.0, 0.60, -1.10, 0.62) * 2

# PD gains. Hip roll / yaw: kp 100, kd 10 as OSU apex's Cassie env (P = 100, 100, 88, 96, 50 N m/rad,
# D = 10, 10, 8, 9.6, 5 N m s/rad for hip roll, yaw, pitch, knee, foot) and legged_gym's cassie_config.py
# (hip_abduction, hip_rotation 100). Hip pitch: kp 200 as legged_gym's hip_flexion. Knee and toe are
# stiffer than any Cassie source, because with Cassie's gains (knee 96-200, toe 40-50) this model cannot
# stand on its PD alone: its feet are 0.16 m lines side by side, so only the toe joints resist pitching
# over, and together they need more than m g h = 33.3 kg x 9.81 x 0.68 m = 220 N m/rad (we use 2 x 300);
# the knee carries 38 N m at rest, so kp 200 lets it sag 0.19 rad and pitch the pelvis forward by as much.
# Measured with this pose: it falls with knee kp 200 or toe kp 100 and is marginal at 250 / 150.
# kd = kp / 10, apex's ratio. The toe torque limit (45 N m) still bounds what the toe can do.
BIPED = RobotSpec(
    name="biped",
    source="builtin:biped",
    joint_names=_BIPED_JOINTS,
    default_pose=_BIPED_POSE,
    kp=(100.0, 100.0, 200.0, 400.0, 300.0) * 2,
    kd=(10.0, 10.0, 20.0, 40.0, 30.0) * 2,
    base_body="pelvis",
    feet=("left_foot", "right_foot"),
    terminate_contacts=("pelvis",),
    mirror_perm=_BIPED_MIRROR_PERM,
    mirror_sign=_BIPED_MIRROR_SIGN,
    feet_mirror_perm=(1, 0),
    init_height=0.88,  # the toes touch the floor at 0.878 m in the default pose
    base_height_target=0.85,  # rests at 0.845 m on its PD controllers in the default pose
    # 0.25 rad as unitree_rl_gym's h1_config.py; legged_gym's Cassie uses 0.5 with half our knee kp, the
    # same torque per unit action.
    action_scale=0.25,
)

BUILTIN_ROBOTS = (QUADRUPED, GO2, BIPED)
