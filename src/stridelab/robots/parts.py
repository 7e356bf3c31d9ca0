"""Naming the parts of a robot file: feet and contact bodies by body (link) or geom name, and mesh paths.

Published files often leave collision geoms unnamed (URDF ``<collision>`` elements rarely have names),
so a foot may be named by its body: that body's collision geoms. Unnamed collision geoms of such a
body get a generated name (``<body>_collision<i>``) so that sensors can refer to them. URDF links
joined by fixed joints stay bodies of their own (``fusestatic`` off), so their link names remain
addressable. ``package://PKG/path`` mesh references are resolved against the spec's ``mesh_dir``, the
file's folder and its parents.

Links welded together (no joint between them) move as one rigid body. legged_gym's A1 URDF, for one, has an
empty root link ``base`` with its ``trunk`` (all the mass and the collision box) on a fixed joint: the base
body may be named by any link welded to the root (:func:`base_root`), and a contact part naming a link
without collision geometry stands for the one link welded to it that has some (:func:`resolve_parts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco

from stridelab.errors import RobotSpecError, did_you_mean


@dataclass(frozen=True)
class Part:
    """A foot or contact part. ``kind`` is ``"body"`` or ``"geom"``; ``geoms`` its collision geom names."""

    name: str
    kind: str
    geoms: tuple[str, ...]

    @property
    def objtype(self) -> mujoco.mjtObj:
        return mujoco.mjtObj.mjOBJ_BODY if self.kind == "body" else mujoco.mjtObj.mjOBJ_GEOM


def is_collision(geom: mujoco.MjsGeom) -> bool:
    return bool(geom.contype or geom.conaffinity)


def resolve_parts(mjspec: mujoco.MjSpec, names: tuple[str, ...], what: str, robot: str,
                  need_geoms: bool = False) -> list[Part]:
    """Parts for ``names`` (geom names win over body names); unknown names list both kinds.

    Args:
        what: e.g. ``"foot"``, for the error message.
        need_geoms: a body without collision geoms is an error (feet must touch the ground).
    """
    geoms = {g.name: g for g in mjspec.geoms if g.name}
    bodies = {b.name: b for b in mjspec.bodies if b.name and b.name != "world"}
    parts = []
    for name in names:
        if name in geoms:
            parts.append(Part(name, "geom", (name,)))
        elif name in bodies:
            body = _with_collision(bodies[name])
            collision = [g for g in body.geoms if is_collision(g)]
            if need_geoms and not collision:
                raise RobotSpecError(f"{what} body {name!r} of robot {robot!r} has no collision geometry; name the "
                                     f"link or geom that touches the ground.")
            for i, g in enumerate(collision):
                if not g.name:
                    g.name = f"{name}_collision{i}"
            parts.append(Part(body.name, "body", tuple(g.name for g in collision)))
        else:
            raise RobotSpecError(unknown_part(what, name, sorted(bodies), sorted(geoms), robot))
    return parts


def welded(body: mujoco.MjsBody) -> list[mujoco.MjsBody]:
    """The bodies rigidly attached to ``body`` (no joint between them), ``body`` first: up to the first body
    with joints (or the world's child), then down through every child without joints."""
    root = body
    while not root.joints and root.parent.name != "world":
        root = root.parent
    group, todo = [], [root]
    while todo:
        b = todo.pop(0)
        group.append(b)
        todo.extend(c for c in b.bodies if not c.joints)
    return [body] + [b for b in group if b is not body]


def _with_collision(body: mujoco.MjsBody) -> mujoco.MjsBody:
    """``body``, or, when it has no collision geoms, the one body welded to it that has some."""
    if any(is_collision(g) for g in body.geoms):
        return body
    solid = [b for b in welded(body)[1:] if b.name and any(is_collision(g) for g in b.geoms)]
    return solid[0] if len(solid) == 1 else body


def base_root(mjspec: mujoco.MjSpec, name: str, robot: str) -> mujoco.MjsBody:
    """The body that carries (or gets) the free joint for base body ``name``: ``name`` itself when it is a child of
    the world or has the free joint, else the world's child it is welded to (legged_gym's A1: ``trunk`` on a
    fixed joint below an empty root link ``base`` resolves to ``base``).

    Raises:
        RobotSpecError: a joint lies between ``name`` and the world's child.
    """
    body = mjspec.body(name)
    root = body
    while root.parent.name != "world" and not any(j.type == mujoco.mjtJoint.mjJNT_FREE for j in root.joints):
        if root.joints:
            raise RobotSpecError(
                f"base body {name!r} of robot {robot!r} moves on joint {root.joints[0].name!r} relative to the robot's "
                f"root link {_world_child(root).name!r}; name the root link, or a link welded to it, as base_body.")
        root = root.parent
    return root


def _world_child(body: mujoco.MjsBody) -> mujoco.MjsBody:
    while body.parent.name != "world":
        body = body.parent
    return body


def unknown_part(what: str, name: str, bodies: list[str], geoms: list[str], robot: str) -> str:
    """One sentence for a part name that is neither a body nor a geom, listing the valid names of both."""
    def shown(names: list[str]) -> str:
        return ", ".join(names[:30]) + (", ..." if len(names) > 30 else "") if names else "(none)"

    return (f"unknown {what} {name!r} in robot {robot!r}{did_you_mean(name, bodies + geoms)}; name a body (link) or a "
            f"geom: bodies are {shown(bodies)}; named geoms are {shown(geoms)}.")


def resolve_package_paths(mjspec: mujoco.MjSpec, path: Path, mesh_dir: str | None) -> None:
    """Rewrite ``package://PKG/rest`` mesh files to the first existing candidate path."""
    roots = ([Path(mesh_dir)] if mesh_dir else []) + [path.parent, *path.parent.parents][:4]
    for mesh in mjspec.meshes:
        if not mesh.file.startswith("package://"):
            continue
        package, _, rest = mesh.file[len("package://"):].partition("/")
        candidates = [c for root in roots for c in (root / rest, root / package / rest)]
        found = next((c for c in candidates if c.is_file()), None)
        mesh.file = str(found.resolve()) if found else str(roots[0] / rest)
