"""Left/right mirror maps of observation and action terms, derived from the robot's mirror map.

A term says how it mirrors with a ``mirror`` attribute: a function ``(robot_spec, size) -> (perm, sign)``
such that ``mirrored[:, i] = value[:, perm[i]] * sign[i]`` for the term's ``size`` values. The mirror
of a whole observation group (and of its history) is assembled from its terms, never written by hand.
Mirroring is about the robot's sagittal (x-z) plane: y components and rotations about x and z change
sign, left and right joints and feet swap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from stridelab.errors import ConfigError

MirrorFn = Callable[[Any, int], tuple[np.ndarray, np.ndarray]]


def vector(*signs: float) -> MirrorFn:
    """A vector whose components keep their place and change sign by ``signs`` (e.g. a velocity: 1, -1, 1)."""
    def mirror(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
        if size != len(signs):
            raise ConfigError(f"a {len(signs)}-vector term has {size} values; it cannot be mirrored.")
        return np.arange(size), np.asarray(signs, dtype=np.float64)
    return mirror


def joints(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One value per joint: the robot's joint permutation and signs (``mirror_perm``, ``mirror_sign``)."""
    if spec.mirror_perm is None:
        raise ConfigError(f"robot {spec.name!r} has no mirror map; set mirror_perm and mirror_sign in its spec.")
    return np.asarray(spec.mirror_perm), np.asarray(spec.mirror_sign, dtype=np.float64)


def joint_magnitudes(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One unsigned value per joint (a gain, a strength factor): the joint permutation only."""
    return np.asarray(joints(spec, size)[0]), np.ones(size)


def feet(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One value per foot: the feet's left/right permutation."""
    if spec.feet_mirror_perm is None:
        raise ConfigError(f"robot {spec.name!r} has no feet mirror map; set feet_mirror_perm in its spec.")
    return np.asarray(spec.feet_mirror_perm), np.ones(size)


def scalar(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Values that do not change under mirroring (a mass, a height)."""
    return np.arange(size), np.ones(size)


def mirrored(mirror: MirrorFn) -> Callable:
    """Decorator: attach ``mirror`` to a term function or class."""
    def attach(term):
        term.mirror = mirror
        return term
    return attach


def mirror_of(term: Any, name: str, spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(perm, sign) of a built term (a function term's function, or a class instance)."""
    target = getattr(term, "func", term)
    fn = getattr(term, "mirror", None) or getattr(target, "mirror", None)
    if fn is None:
        raise ConfigError(f"observation term {name!r} does not say how it mirrors; give its function a mirror "
                          f"(stridelab.mdp.symmetry.mirrored) or turn symmetry off (--train.symmetry off).")
    perm, sign = fn(spec, size)
    return np.asarray(perm, dtype=np.int64), np.asarray(sign, dtype=np.float64)


def check_involution(perm: np.ndarray, sign: np.ndarray) -> None:
    """Mirroring twice must give the input back."""
    if not (np.array_equal(perm[perm], np.arange(len(perm))) and np.allclose(sign * sign[perm], 1.0)):
        raise ConfigError("the mirror map is not an involution (mirroring twice does not give the input back); "
                          "check the robot's mirror_perm and mirror_sign.")
