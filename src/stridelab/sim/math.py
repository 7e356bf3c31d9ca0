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
    return vec * (2.0 * w * w - 1.0) - np.cross(u, vec) * (2.0 * w) + u * (2.0 * np.sum(u * vec, axis=1, keepdims=True))


def quat_rotate(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Rotate body-frame vectors into the world frame: ``R(q) v``. Shapes as :func:`quat_rotate_inverse`."""
    w = quat[:, :1]
    u = quat[:, 1:]
    vec = np.broadcast_to(vec, u.shape)
    return vec * (2.0 * w * w - 1.0) + np.cross(u, vec) * (2.0 * w) + u * (2.0 * np.sum(u * vec, axis=1, keepdims=True))


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
