"""Naming the parts of a robot file: feet and contact bodies by body (link) or geom name, and mesh paths.

Published files often leave collision geoms unnamed (URDF ``<collision>`` elements rarely have names),
so a foot may be named by its body: that body's collision geoms. Unnamed collision geoms of such a
body get a generated name (``<body>_collision<i>``) so that sensors can refer to them. URDF links
joined by fixed joints stay bodies of their own (``fusestatic`` off), so their link names remain
addressable. ``package://PKG/path`` mesh references are resolved against the spec's ``mesh_dir``, the
file's folder and its parents.
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
            body = bodies[name]
            collision = [g for g in body.geoms if is_collision(g)]
            if need_geoms and not collision:
                raise RobotSpecError(f"{what} body {name!r} of robot {robot!r} has no collision geometry; name the "
                                     f"link or geom that touches the ground.")
            for i, g in enumerate(collision):
                if not g.name:
                    g.name = f"{name}_collision{i}"
            parts.append(Part(name, "body", tuple(g.name for g in collision)))
        else:
            raise RobotSpecError(unknown_part(what, name, sorted(bodies), sorted(geoms), robot))
    return parts


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
