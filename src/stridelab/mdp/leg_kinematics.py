"""Leg kinematics of a 12-DoF quadruped, read from the compiled MuJoCo model: forward and analytic inverse.

Each leg is the standard layout: hip abduction about the base's x axis, then thigh and calf about the
(rotated) y axis, then the foot. Nothing is hard-coded: with the base at the origin and every leg joint
at 0, :meth:`LegKinematics.from_robot` reads from MuJoCo (``mj_kinematics``) each joint's anchor and
axis and the foot geom's centre, in the base frame. With ``R_x``, ``R_y`` rotations about the base's x and
y axes, ``th_i = s_i q_i`` (``s_i = +-1``: the joint axis's direction) and the offsets at zero angles

    d12 = thigh anchor - abduction anchor,  d23 = calf anchor - thigh anchor,  d3f = foot - calf anchor,

the foot position in the base frame is

    p = a1 + R_x(th1) (d12 + R_y(th2) (d23 + R_y(th3) d3f))                     (forward kinematics)

Inverse kinematics (closed form, vectorized over any leading shape):

1. ``R_y`` keeps y and ``R_x`` keeps x, so with ``v = p - a1`` the leg's lateral offset
   ``l_y = d12_y + d23_y + d3f_y`` is constant and, in the abduction frame, the leg reaches
   ``u = (v_x, l_y, u_z)`` with ``u_z = -sqrt(v_y^2 + v_z^2 - l_y^2)`` (foot below the hip);
   ``th1 = atan2(v_z, v_y) - atan2(u_z, l_y)``.
2. In the x-z plane the thigh must reach ``t = (v_x - d12_x, u_z - d12_z)``. With ``w = d23``,
   ``f = d3f`` (x-z parts), ``|w + R_y(th3) f|^2 = |t|^2`` gives
   ``A cos th3 + B sin th3 = (|t|^2 - |w|^2 - |f|^2) / 2`` with ``A = w.f``, ``B = w_x f_z - w_z f_x``:
   ``th3 = atan2(B, A) +- acos(...)``, the branch nearer the default pose (knee direction kept).
3. ``R_y(th)`` turns the x-z angle ``atan2(z, x)`` by ``-th``: ``th2 = angle(w + R_y(th3) f) - angle(t)``.

Targets out of reach are clipped to the nearest reachable leg length; :meth:`fk` of the result then
differs from the target (the round-trip test checks reachable targets to 1 mm against MuJoCo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from stridelab.errors import ConfigError
from stridelab.sim.math import wrap_angle

_AXIS_TOL = 1e-6
_MOVING = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))


@dataclass(frozen=True)
class LegKinematics:
    """Per-leg constants in the base frame [m]; legs follow the robot's feet.

    Attributes:
        joint_index: the leg's abduction, thigh and calf joint in the policy's joint order. Shape: (L, 3), int.
        sign: direction of each joint axis along +x, +y, +y (+1 or -1). Shape: (L, 3).
        a1: abduction joint anchor. Shape: (L, 3).
        d12, d23, d3f: offsets at zero joint angles (see the module docstring). Shape: (L, 3) each.
        default_q: the default pose's leg joint angles [rad]. Shape: (L, 3).
        default_foot: foot centres in the default pose. Shape: (L, 3).
    """

    joint_index: np.ndarray
    sign: np.ndarray
    a1: np.ndarray
    d12: np.ndarray
    d23: np.ndarray
    d3f: np.ndarray
    default_q: np.ndarray
    default_foot: np.ndarray

    @property
    def num_legs(self) -> int:
        return len(self.joint_index)

    # ---- construction ----------------------------------------------------------------------------
    @classmethod
    def from_robot(cls, robot: Any) -> LegKinematics:
        """Read the legs of a :class:`~stridelab.robots.loader.LoadedRobot` (any 3-joint-per-leg quadruped
        in the hip-abduction / thigh / calf layout). Raises :class:`ConfigError` for another layout."""
        model, spec = robot.model, robot.spec
        data = mujoco.MjData(model)
        data.qpos[:] = model.qpos0
        b = robot.base_qpos_adr
        data.qpos[b:b + 7] = [0, 0, 0, 1, 0, 0, 0]
        data.qpos[robot.qpos_adr] = 0.0
        mujoco.mj_kinematics(model, data)
        base = robot.base_body_id
        rot, origin = data.xmat[base].reshape(3, 3), data.xpos[base]

        def in_base(x: np.ndarray) -> np.ndarray:
            return rot.T @ (np.asarray(x) - origin)

        joint_of = {int(model.joint(name).id): i for i, name in enumerate(spec.joint_names)}
        first_geom = [int(robot.foot_geom_ids[np.flatnonzero(robot.foot_of_geom == f)[0]])
                      for f in range(robot.num_feet)]
        rows = {k: [] for k in ("joint_index", "sign", "a1", "d12", "d23", "d3f")}
        for foot, geom in zip(spec.feet, first_geom):
            chain = _chain_joints(model, int(model.geom_bodyid[geom]), base)
            if len(chain) != 3 or any(j not in joint_of for j in chain):
                names = [model.joint(j).name for j in chain]
                raise ConfigError(f"foot {foot!r} of robot {spec.name!r} hangs on joints {names}, not on three actuated "
                                  f"joints (abduction, thigh, calf); ETG's inverse kinematics needs that leg layout.")
            anchors = [in_base(data.xanchor[j]) for j in chain]
            signs = []
            for j, want in zip(chain, ((1.0, 0, 0), (0, 1.0, 0), (0, 1.0, 0))):
                axis = rot.T @ data.xaxis[j]
                dot = float(axis @ np.asarray(want))
                if abs(abs(dot) - 1.0) > _AXIS_TOL:
                    raise ConfigError(f"joint {model.joint(j).name!r} of robot {spec.name!r} turns about {np.round(axis, 3)} "
                                      f"in the base frame, not about {'x' if want[0] else 'y'}; ETG's inverse kinematics "
                                      f"needs hip abduction about x and thigh and calf about y.")
                signs.append(np.sign(dot))
            foot_pos = in_base(data.geom_xpos[geom])
            rows["joint_index"].append([joint_of[j] for j in chain])
            rows["sign"].append(signs)
            rows["a1"].append(anchors[0])
            rows["d12"].append(anchors[1] - anchors[0])
            rows["d23"].append(anchors[2] - anchors[1])
            rows["d3f"].append(foot_pos - anchors[2])
        arrays = {k: np.asarray(v, dtype=np.int64 if k == "joint_index" else np.float64) for k, v in rows.items()}
        default_q = np.asarray(spec.default_pose, dtype=np.float64)[arrays["joint_index"]]
        kin = cls(**arrays, default_q=default_q, default_foot=np.zeros((len(first_geom), 3)))
        object.__setattr__(kin, "default_foot", kin.fk(default_q))
        return kin

    # ---- maps ------------------------------------------------------------------------------------
    def fk(self, q: np.ndarray) -> np.ndarray:
        """Foot centres in the base frame [m] for leg joint angles ``q`` [rad]. Shape: (..., L, 3) -> (..., L, 3)."""
        th = np.asarray(q, dtype=np.float64) * self.sign
        c1, s1 = np.cos(th[..., 0]), np.sin(th[..., 0])
        c2, s2 = np.cos(th[..., 1]), np.sin(th[..., 1])
        c3, s3 = np.cos(th[..., 2]), np.sin(th[..., 2])
        f = self.d3f
        # u = d23 + R_y(th3) d3f
        ux = self.d23[:, 0] + c3 * f[:, 0] + s3 * f[:, 2]
        uy = self.d23[:, 1] + f[:, 1]
        uz = self.d23[:, 2] - s3 * f[:, 0] + c3 * f[:, 2]
        # w = d12 + R_y(th2) u
        wx = self.d12[:, 0] + c2 * ux + s2 * uz
        wy = self.d12[:, 1] + uy
        wz = self.d12[:, 2] - s2 * ux + c2 * uz
        # p = a1 + R_x(th1) w
        return np.stack([self.a1[:, 0] + wx, self.a1[:, 1] + c1 * wy - s1 * wz, self.a1[:, 2] + s1 * wy + c1 * wz],
                        axis=-1)

    def ik(self, p: np.ndarray) -> np.ndarray:
        """Leg joint angles [rad] that put the foot centres at ``p`` (base frame) [m]; the knee bends as in the
        default pose and each angle is taken within pi of its default. Shape: (..., L, 3) -> (..., L, 3)."""
        p = np.asarray(p, dtype=np.float64)
        v = p - self.a1
        ly = self.d12[:, 1] + self.d23[:, 1] + self.d3f[:, 1]
        # 1. abduction: the leg's y-z projection has the fixed lateral offset ly
        uz = -np.sqrt(np.maximum(v[..., 1] ** 2 + v[..., 2] ** 2 - ly ** 2, 1e-12))
        th1 = np.arctan2(v[..., 2], v[..., 1]) - np.arctan2(uz, ly)
        # 2. knee: distance from the thigh joint to the foot in the x-z plane
        tx, tz = v[..., 0] - self.d12[:, 0], uz - self.d12[:, 2]
        wx, wz = self.d23[:, 0], self.d23[:, 2]
        fx, fz = self.d3f[:, 0], self.d3f[:, 2]
        a, b = wx * fx + wz * fz, wx * fz - wz * fx
        radius = np.hypot(a, b)
        cos_rel = np.clip((tx ** 2 + tz ** 2 - wx ** 2 - wz ** 2 - fx ** 2 - fz ** 2) / (2.0 * radius), -1.0, 1.0)
        phi, rel = np.arctan2(b, a), np.arccos(cos_rel)
        default = self.default_q * self.sign
        near = np.abs(wrap_angle(phi + rel - default[:, 2])) <= np.abs(wrap_angle(phi - rel - default[:, 2]))
        th3 = np.where(near, phi + rel, phi - rel)
        # 3. thigh: turn the thigh-to-foot vector onto the target direction
        mx = wx + np.cos(th3) * fx + np.sin(th3) * fz
        mz = wz - np.sin(th3) * fx + np.cos(th3) * fz
        th2 = np.arctan2(mz, mx) - np.arctan2(tz, tx)
        th = np.stack([th1, th2, th3], axis=-1)
        th = default + wrap_angle(th - default)
        return th * self.sign

    def scatter(self, q_legs: np.ndarray, num_joints: int) -> np.ndarray:
        """Leg joint angles in the policy's joint order. Shape: (..., L, 3) -> (..., num_joints)."""
        out = np.zeros(q_legs.shape[:-2] + (num_joints,))
        out[..., self.joint_index.reshape(-1)] = q_legs.reshape(q_legs.shape[:-2] + (-1,))
        return out


def _chain_joints(model: mujoco.MjModel, body: int, base: int) -> list[int]:
    """Hinge and slide joints from ``base`` out to ``body`` (base side first)."""
    chain: list[int] = []
    while body != base and body > 0:
        start, count = int(model.body_jntadr[body]), int(model.body_jntnum[body])
        chain = [j for j in range(start, start + count) if int(model.jnt_type[j]) in _MOVING] + chain
        body = int(model.body_parentid[body])
    return chain
