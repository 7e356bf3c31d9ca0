"""Repairs of published robot files that MuJoCo's compiler rejects but other simulators (Isaac Gym) load.

Link inertias. MuJoCo refuses an explicit inertia (``<inertial>`` of a URDF link or an MJCF body) when

* a full tensor (URDF ``<inertia>``, MJCF ``fullinertia``) has an eigenvalue below ``mjMINVAL`` (1e-15 kg m^2):
  "inertia must have positive eigenvalues";
* a moving body (one with joints) with mass has a principal moment below ``mjMINVAL`` and no static child
  that carries mass and inertia: "mass and inertia of moving bodies must be larger than mjMINVAL";
* its principal moments A, B, C break the triangle inequality A + B >= C (no rigid body has such moments):
  "inertia must satisfy A + B >= C";
* a moving body has no mass at all (a URDF link with ``<mass value="0"/>``, or no ``<inertial>`` and no collision
  geometry, between two joints) and no static child carrying mass: "mass and inertia of moving bodies must be
  larger than mjMINVAL".

:func:`repair_inertias` edits the spec so that it compiles: a non-positive tensor ``I = V diag(l) V^T``
becomes ``V diag(max(l, floor)) V^T`` (the same principal axes; ``floor`` = 1e-3 of the largest moment, or
the moment of a solid water sphere of the link's mass when no moment is positive), and a triangle violation
is left to MuJoCo's own ``compiler.balanceinertia``, which sets the three moments to their mean, and a massless
moving body gets :data:`MASSLESS_LINK_MASS` as a solid water sphere at its frame's origin. Bodies whose
inertia MuJoCo accepts are not touched, and ``balanceinertia`` is only switched on when a body needs it, so a
valid file compiles exactly as before. Inertias computed from geoms are never changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

#: MuJoCo's smallest valid mass [kg] or moment of inertia [kg m^2]
MINVAL = float(mujoco.mjMINVAL)
#: a non-positive moment is raised to this fraction of the body's largest moment
FLOOR_FRACTION = 1e-3
#: density of the solid sphere whose inertia replaces a tensor without any positive moment [kg/m^3]
SPHERE_DENSITY = 1000.0
#: mass given to a moving body that has none [kg]: 10 g, negligible beside a robot's links, large enough that the
#: joint's dynamics stay well conditioned at the tasks' 5 ms step
MASSLESS_LINK_MASS = 0.01


@dataclass(frozen=True)
class InertiaRepair:
    """One body whose inertia was changed.

    Attributes:
        body: the body (link) name.
        problem: what MuJoCo rejects, in words.
        before: principal moments in the file, ascending [kg m^2]. Shape: (3,).
        after: principal moments the compiled model has, ascending [kg m^2]. Shape: (3,).
    """

    body: str
    problem: str
    before: tuple[float, float, float]
    after: tuple[float, float, float]

    @property
    def change(self) -> float:
        """Largest change of a principal moment, as a fraction of the largest moment in the file."""
        before, after = np.array(self.before), np.array(self.after)
        return float(np.max(np.abs(after - before)) / max(np.max(np.abs(before)), MINVAL))

    def describe(self) -> str:
        def moments(values: tuple[float, ...]) -> str:
            return ", ".join(f"{v:.3g}" for v in values)

        return (f"{self.body} ({self.problem}: principal moments {moments(self.before)} -> {moments(self.after)} "
                f"kg m^2, a change of up to {100 * self.change:.0f}% of the largest)")


def _tensor(body: mujoco.MjsBody) -> tuple[np.ndarray, bool]:
    """The body's explicit inertia tensor in its inertial frame [kg m^2] and whether it was given in full
    (six values) rather than as principal moments. Shape: (3, 3)."""
    full = np.asarray(body.fullinertia, dtype=np.float64)
    if not math.isnan(full[0]):
        xx, yy, zz, xy, xz, yz = full
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]), True
    return np.diag(np.asarray(body.inertia, dtype=np.float64)), False


def _sphere_moment(mass: float) -> float:
    """Moment of inertia of a solid sphere of ``mass`` [kg] and :data:`SPHERE_DENSITY` [kg m^2]: 2/5 m r^2."""
    radius = (3.0 * mass / (4.0 * math.pi * SPHERE_DENSITY)) ** (1.0 / 3.0)
    return 0.4 * mass * radius ** 2


def _carried_by_static_child(body: mujoco.MjsBody) -> bool:
    """Whether a child without joints has mass and inertia (MuJoCo then accepts a massless moving body). A child
    whose inertia comes from its geoms is assumed to have them (its values are known only once compiled); an empty
    child (no inertial, no geom) has none."""
    for child in body.bodies:
        if child.joints:
            continue
        if not child.explicitinertial:
            if child.geoms:
                return True
            continue
        moments = np.linalg.eigvalsh(_tensor(child)[0])
        if child.mass >= MINVAL and moments.min() >= MINVAL:
            return True
    return False


def _massless_moving(body: mujoco.MjsBody) -> bool:
    """Whether MuJoCo would refuse ``body`` for having no mass: it has joints, an explicit zero mass or neither an
    inertial nor a geom to compute one from, and no static child carrying mass."""
    if not body.joints or _carried_by_static_child(body):
        return False
    if body.explicitinertial:
        return body.mass < MINVAL
    return not body.geoms


def _breaks_triangle(moments: np.ndarray) -> bool:
    """MuJoCo's test of principal moments A, B, C: A + B < C for some ordering."""
    a, b, c = moments
    return bool(a + b < c or a + c < b or b + c < a)


def repair_inertias(mjspec: mujoco.MjSpec) -> list[InertiaRepair]:
    """Make every explicit body inertia of ``mjspec`` one that MuJoCo compiles (see the module docstring); the
    spec is edited in place. Returns the repaired bodies, in body order (empty: nothing was changed)."""
    if mjspec.compiler.inertiafromgeom == mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_TRUE:
        return []  # every inertia is computed from geoms
    bound = float(mjspec.compiler.boundinertia)
    repairs, balance = [], False
    for i, body in enumerate(mjspec.bodies):
        if body.name == "world":
            continue
        if _massless_moving(body):
            moment = _sphere_moment(MASSLESS_LINK_MASS)
            body.explicitinertial, body.mass, body.ipos = True, MASSLESS_LINK_MASS, [0.0, 0.0, 0.0]
            body.iquat, body.inertia = [1.0, 0.0, 0.0, 0.0], [moment] * 3
            body.fullinertia = [float("nan")] * 6
            repairs.append(InertiaRepair(body.name or f"body {i}", f"a moving link without mass (given "
                                         f"{MASSLESS_LINK_MASS * 1000:g} g)", (0.0, 0.0, 0.0), (moment,) * 3))
            continue
        if not body.explicitinertial:
            continue
        tensor, full = _tensor(body)
        if full:
            values, axes = np.linalg.eigh(tensor)  # ascending; tensor = axes diag(values) axes^T
        else:  # principal moments as given (MuJoCo raises negative ones to compiler.boundinertia)
            values, axes = np.maximum(np.diag(tensor), bound), np.eye(3)
        before = np.sort(np.linalg.eigvalsh(tensor))
        problem = ""
        if full and values.min() < MINVAL:
            problem = "a non-positive principal moment"
        elif body.joints and body.mass >= MINVAL and values.min() < MINVAL and not _carried_by_static_child(body):
            problem = "a moving link with a zero principal moment"
        if problem:
            if values.max() >= MINVAL:
                floor = max(FLOOR_FRACTION * values.max(), 1e3 * MINVAL)
            elif body.mass >= MINVAL:
                floor = _sphere_moment(float(body.mass))
            else:
                continue  # no mass to size an inertia by: MuJoCo's error stands
            values = np.maximum(values, floor)
            if full:
                fixed = axes @ np.diag(values) @ axes.T
                body.fullinertia = [fixed[0, 0], fixed[1, 1], fixed[2, 2], fixed[0, 1], fixed[0, 2], fixed[1, 2]]
            else:
                body.inertia = values
        if _breaks_triangle(values):
            balance = True
            problem = f"{problem} and A + B < C" if problem else "A + B < C"
            values = np.full(3, values.mean())  # what compiler.balanceinertia does
        if problem:
            repairs.append(InertiaRepair(body.name or f"body {i}", problem, tuple(before), tuple(np.sort(values))))
    if balance:
        mjspec.compiler.balanceinertia = True
    return repairs


def describe_repairs(robot: str, path: str, repairs: list[InertiaRepair]) -> str:
    """The one warning about ``repairs`` of ``robot``'s file ``path``."""
    return (f"robot {robot}: MuJoCo rejects the inertia of {len(repairs)} link(s) in {path}, so they were repaired "
            f"(as Isaac Gym loads them): {'; '.join(r.describe() for r in repairs)}; correct the file's <inertial> "
            f"values to silence this warning.")
