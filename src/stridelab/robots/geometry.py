"""Sizes of a loaded robot read from its model, for defaults that scale with the robot (no per-robot tuning)."""

from __future__ import annotations

import mujoco
import numpy as np

from stridelab.robots.loader import LoadedRobot


def leg_length(robot: LoadedRobot) -> float:
    """Mean over feet of the distance from the leg's first joint (the hip: the joint of the foot's chain nearest
    the base) to the foot's collision geoms' centre, in the standing pose (``spec.default_pose``) [m].

    The step length of a walking animal or robot scales with its leg length (Alexander 1984, dynamic similarity),
    so a gait default given per leg length carries from a 0.9 m biped to a child-sized one.
    """
    model = robot.model
    data = mujoco.MjData(model)
    data.qpos[:] = model.qpos0
    data.qpos[robot.qpos_adr] = robot.spec.default_pose
    mujoco.mj_kinematics(model, data)
    lengths = []
    for foot in range(robot.num_feet):
        geoms = robot.foot_geom_ids[robot.foot_of_geom == foot]
        body = int(model.geom_bodyid[geoms[0]])
        hip_joint = -1
        while body > 0 and body not in robot.base_group:
            if model.body_jntnum[body] > 0:
                hip_joint = int(model.body_jntadr[body])
            body = int(model.body_parentid[body])
        if hip_joint < 0:
            continue
        centre = data.geom_xpos[geoms].mean(axis=0)
        lengths.append(float(np.linalg.norm(data.xanchor[hip_joint] - centre)))
    if not lengths:
        raise ValueError(f"robot {robot.spec.name!r}: no joint between a foot and the base; it has no legs to measure")
    return float(np.mean(lengths))
