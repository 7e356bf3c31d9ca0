"""Batched rotation helpers. Quaternions are MuJoCo's (w, x, y, z). All functions are pure."""

from __future__ import annotations

import numpy as np


def quat_rotate_inverse(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Express world vectors in the body frame: ``R(q)^T v``.

    With q = (w, u): R^T v = v (2w^2 - 1) - 2 w (u x v) + 2 u (u . v).

    Args:
        quat: Shape: (n, 4).
        vec: Shape: (n, 3) or (3,).
    Returns:
        Shape: (n, 3).
    """
    w = quat[:, :1]
    u = quat[:, 1:]
    vec = np.broadcast_to(vec, u.shape)
    return vec * (2.0 * w * w - 1.0) - _cross(u, vec) * (2.0 * w) + u * (2.0 * np.sum(u * vec, axis=1, keepdims=True))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (n, 3) arrays (np.cross is several times slower on small rows)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return out


def projected_gravity(quat: np.ndarray) -> np.ndarray:
    """World gravity direction (0, 0, -1) in the body frame: -R(q)^T e_z. Shape: (n, 3).

    R^T e_z = (2(xz - wy), 2(yz + wx), 1 - 2(x^2 + y^2)) for q = (w, x, y, z).
    """
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    out = np.empty((len(quat), 3))
    out[:, 0] = -2.0 * (x * z - w * y)
    out[:, 1] = -2.0 * (y * z + w * x)
    out[:, 2] = 2.0 * (x * x + y * y) - 1.0
    return out


def quat_rotate(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Rotate body-frame vectors into the world frame: ``R(q) v``. Shapes as :func:`quat_rotate_inverse`."""
    w = quat[:, :1]
    u = quat[:, 1:]
    vec = np.broadcast_to(vec, u.shape)
    return vec * (2.0 * w * w - 1.0) + _cross(u, vec) * (2.0 * w) + u * (2.0 * np.sum(u * vec, axis=1, keepdims=True))


def wrap_angle(x: np.ndarray) -> np.ndarray:
    """Angles [rad] wrapped to [-pi, pi). Shape: as ``x``."""
    return np.mod(x + np.pi, 2.0 * np.pi) - np.pi


def yaw_of(quat: np.ndarray) -> np.ndarray:
    """Heading angle [rad] of each quaternion. Shape: (n,)."""
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def quat_from_yaw(yaw: np.ndarray) -> np.ndarray:
    """Quaternions of pure rotations about z. Shape: (n, 4)."""
    out = np.zeros((len(yaw), 4))
    out[:, 0] = np.cos(yaw / 2)
    out[:, 3] = np.sin(yaw / 2)
    return out
