"""Joints held fixed (``RobotSpec.fixed_joints``): removed from the model, their bodies moved to the held angle."""

from __future__ import annotations

import logging

import mujoco
import numpy as np

from stridelab.errors import RobotSpecError, unknown_name
from stridelab.robots.spec import RobotSpec, joint_matches

log = logging.getLogger(__name__)

_QPOS_SIZE = {mujoco.mjtJoint.mjJNT_FREE: (7, 6), mujoco.mjtJoint.mjJNT_BALL: (4, 3)}


def fix_joints(mjspec: mujoco.MjSpec, spec: RobotSpec) -> None:
    """Remove ``spec.fixed_joints`` from the model, their bodies moved to the held angle (see RobotSpec)."""
    if not spec.fixed_joints:
        return
    joints = [j for j in mjspec.joints]
    named = [j.name for j in joints if j.name]
    held: dict[str, float] = {}
    for pattern, value in spec.fixed_joints:
        hits = [n for n in named if joint_matches(pattern, n)]
        if not hits:
            raise RobotSpecError(unknown_name("fixed joint pattern", pattern, named, f"robot {spec.name!r}"))
        held.update({n: value for n in hits})
    clash = sorted(set(held) & set(spec.joint_names))
    if clash:
        raise RobotSpecError(f"robot {spec.name!r}: {', '.join(map(repr, clash))} is both actuated (joint_names) "
                             f"and in fixed_joints; take it out of one of them.")
    qpos_drop, qvel_drop, qadr, vadr = [], [], 0, 0
    for j in joints:
        nq, nv = _QPOS_SIZE.get(j.type, (1, 1))
        if j.name in held:
            if j.type not in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE):
                raise RobotSpecError(f"robot {spec.name!r}: fixed joint {j.name!r} is not a hinge or slide joint; "
                                     f"fix only 1-DoF joints.")
            _move_to(j, held[j.name] - float(j.ref), spec)
            qpos_drop.append(qadr)
            qvel_drop.append(vadr)
        qadr, vadr = qadr + nq, vadr + nv
    for key in mjspec.keys:  # keyframes lose the removed joints' entries
        if len(key.qpos):
            key.qpos = np.delete(np.asarray(key.qpos), qpos_drop)
        if len(key.qvel):
            key.qvel = np.delete(np.asarray(key.qvel), qvel_drop)
    for sensor in list(mjspec.sensors):  # joint sensors of removed joints (encoders of the held arms)
        if sensor.objtype == mujoco.mjtObj.mjOBJ_JOINT and sensor.objname in held:
            mjspec.delete(sensor)
    for j in joints:
        if j.name in held:
            mjspec.delete(j)
    log.info("robot %s: %d joints held fixed: %s", spec.name, len(held), ", ".join(sorted(held)))


def _move_to(joint: mujoco.MjsJoint, value: float, spec: RobotSpec) -> None:
    """Move ``joint``'s body as if the joint stood at ``value`` [rad or m] from its reference."""
    if value == 0.0:
        return
    body = joint.parent
    if body.alt.type != mujoco.mjtOrientation.mjORIENTATION_QUAT:
        raise RobotSpecError(f"robot {spec.name!r}: body {body.name!r} gives its orientation other than as a "
                             f"quaternion, so fixed joint {joint.name!r} can only be held at its reference angle; "
                             f"use 0 or write the body's quat.")
    axis = np.asarray(joint.axis, dtype=np.float64) / np.linalg.norm(joint.axis)
    quat = np.array(body.quat, dtype=np.float64)  # a copy: body.quat changes below
    shift = np.zeros(3)
    if joint.type == mujoco.mjtJoint.mjJNT_SLIDE:
        local = axis * value
    else:  # a rotation about the axis through the joint's anchor
        turn = np.zeros(4)
        mujoco.mju_axisAngle2Quat(turn, axis, value)
        anchor = np.array(joint.pos, dtype=np.float64)
        rotated = np.zeros(3)
        mujoco.mju_rotVecQuat(rotated, anchor, turn)
        local = anchor - rotated
        new_quat = np.zeros(4)
        mujoco.mju_mulQuat(new_quat, quat, turn)
        body.quat = new_quat
    mujoco.mju_rotVecQuat(shift, local, quat)
    body.pos = np.asarray(body.pos, dtype=np.float64) + shift
