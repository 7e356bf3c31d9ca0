"""A picture of an obstacle course: its side elevation (key figures labelled) over a top-down view of its lanes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from stridelab.sim.terrain.courses import CourseTerrain
from stridelab.files import write_atomic


def preview_course(terrain: CourseTerrain, path_png: str | Path, dpi: int = 100) -> Path:
    """Write a PNG of a course: above, the ground along the centre line of the last level's first lane (ETG-RL's
    figures; x [m] against height [m]) with ceilings hatched, beams in yellow, the spawn point and the finish line,
    and each obstacle's key figure; below, every level's lanes seen from above (hill-shaded heights, boxes, spawn
    points, each level's finish line).

    Returns:
        The path written.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LightSource, Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    course, cfg = terrain.course, terrain.cfg
    hs = cfg.horizontal_scale
    x_min, x_max, y_min, y_max = terrain.extent
    h = np.asarray(terrain.heights, dtype=np.float64)
    fig = Figure(figsize=(max(9.0, 0.55 * (x_max - x_min)), 7.0), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    side, top = fig.subplots(2, 1, sharex=True, height_ratios=(1.0, 1.25))

    # side elevation of the last level's first lane, from the heights (as the robot's height scan sees them)
    rows, cols = cfg.num_rows, cfg.num_cols
    y0 = ((rows - 1) * cols + 0.5) * course.lane_width
    xs = np.arange(x_min, x_max + hs / 2, hs / 4)
    ground = terrain.height_at(xs, np.full_like(xs, y0), boxes=False)
    low = float(min(ground.min(), -0.1))
    side.fill_between(xs, low - 0.05, ground, color=(0.55, 0.5, 0.45), lw=0)
    side.plot(xs, ground, color="black", lw=0.8)
    for box in terrain.boxes:
        if abs(box.pos[1] - y0) > box.size[1] + 1e-9:
            continue  # another lane's beam
        style = (dict(facecolor=(0.9, 0.5, 0.2, 0.35), edgecolor=(0.75, 0.3, 0.05), hatch="////", lw=0.6)
                 if box.overhead else dict(facecolor=(0.95, 0.85, 0.2, 0.6), edgecolor="black", hatch="..", lw=0.4))
        side.add_patch(Rectangle((box.pos[0] - box.size[0], box.bottom), 2 * box.size[0], 2 * box.size[2], **style))
    top_z = max(float(ground.max()), max((b.top for b in terrain.boxes), default=0.0))
    span = top_z - low
    labelled = [seg for seg in course.segments if seg.label]
    for k, seg in enumerate(labelled):  # neighbours alternate between two heights so that labels never overlap
        z = max(seg.z0, seg.z1) + (seg.clearance + cfg.ceiling_thickness if seg.kind == "cave" else 0.0)
        side.annotate(seg.label, ((seg.x0 + seg.x1) / 2, z), xytext=(0, 6 + 14 * (k % 2)), textcoords="offset points",
                      ha="center", va="bottom", fontsize=8, arrowprops=dict(arrowstyle="-", lw=0.5, color="0.4"),
                      bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    for ax in (side, top):
        ax.axvline(course.spawn_x, color="tab:green", lw=1.2, ls=":")
    side.axvline(course.finish_x, color="tab:red", lw=1.4, ls="--")
    for i, level in enumerate(terrain.courses):  # each level's own finish line over its lanes
        top.plot([level.finish_x] * 2, [i * cols * course.lane_width, (i + 1) * cols * course.lane_width],
                 color="tab:red", lw=1.4, ls="--")
    side.text(course.spawn_x, 0.97, " spawn", color="tab:green", fontsize=8, va="top",
              transform=side.get_xaxis_transform())
    side.text(course.finish_x, 0.97, " finish line", color="tab:red", fontsize=8, va="top",
              transform=side.get_xaxis_transform())
    side.set_ylim(low - 0.05, top_z + max(0.4 * span, 0.25))
    side.set_ylabel("height [m]")
    levels = f"{rows} levels of {cols} lanes" if rows > 1 else f"{cols} lanes"
    title = (f"course {course.name} (ETG-RL): {course.summary().split(': ', 1)[1]}; {levels} of "
             f"{course.lane_width:g} m, seed {cfg.seed}")
    side.set_title(textwrap.fill(title, int(fig.get_figwidth() * 11)), fontsize=10)
    side.grid(alpha=0.3)

    # top-down view of every lane
    norm = Normalize(vmin=float(h.min()), vmax=max(float(h.max()), float(h.min()) + 0.05))
    cmap = colormaps["cividis"]
    shade = LightSource(azdeg=315, altdeg=40).shade(h, cmap=cmap, norm=norm, vert_exag=4.0, blend_mode="overlay",
                                                   dx=hs, dy=hs)
    top.imshow(shade, origin="lower", extent=(x_min - hs / 2, x_max + hs / 2, y_min - hs / 2, y_max + hs / 2),
               interpolation="antialiased", aspect="auto")
    for box in terrain.boxes:
        if box.overhead:
            top.add_patch(Rectangle((box.pos[0] - box.size[0], box.pos[1] - box.size[1]), 2 * box.size[0],
                                    2 * box.size[1], facecolor=(0.9, 0.5, 0.2, 0.25), edgecolor=(0.75, 0.3, 0.05),
                                    hatch="////", lw=0.6))
        else:  # a beam is thinner than a pixel: a thick line along it
            top.plot([box.pos[0] - box.size[0], box.pos[0] + box.size[0]], [box.pos[1], box.pos[1]],
                     color="tab:orange", lw=2.0, solid_capstyle="butt")
    for j in range(rows * cols + 1):
        top.axhline(j * course.lane_width, color="black", lw=1.2 if j % cols == 0 else 0.6, alpha=0.6)
    origins = np.asarray(terrain.origins).reshape(-1, 3)
    top.plot(origins[:, 0], origins[:, 1], "o", ms=4, color="white", mec="black", mew=0.6)
    if rows > 1:  # one tick per level, with the level's key figure
        top.set_yticks([(i + 0.5) * cols * course.lane_width for i in range(rows)],
                       [f"level {i}: {level.segments[0].label}" for i, level in enumerate(terrain.courses)],
                       fontsize=7)
    else:
        top.set_yticks([(j + 0.5) * course.lane_width for j in range(cols)], [f"lane {j}" for j in range(cols)],
                       fontsize=8)
    top.set_xlabel("x along the course [m] (robots walk towards +x)")
    top.set_xlim(x_min - hs / 2, x_max + hs / 2)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=top, shrink=0.8, label="height [m]", pad=0.01)
    return write_atomic(Path(path_png), lambda f: fig.savefig(f, format="png"))
