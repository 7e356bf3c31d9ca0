"""A top-down picture of a terrain: shaded height map, tile borders, types, levels and key figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stridelab.sim.terrain.config import TerrainConfig, lerp
from stridelab.sim.terrain.generators import gap_width, stair_figures
from stridelab.sim.terrain.grid import Terrain
from stridelab.files import write_atomic


def tile_label(kind: str, level: float, cfg: TerrainConfig) -> str:
    """The key figure of a tile type at ``level``, e.g. ``"riser 13 cm"`` (``""`` for flat)."""
    if kind == "rough":
        return f"±{lerp(cfg.rough_amplitude, level) * 100:.0f} cm"
    if kind.startswith("slope"):
        return f"{lerp(cfg.slope_deg, level):.0f}°"
    if kind.startswith("stairs"):
        return f"riser {stair_figures(level, cfg)[0] * 100:.1f}".rstrip("0").rstrip(".") + " cm"
    if kind == "obstacles":
        return f"±{lerp(cfg.obstacle_height, level) * 100:.0f} cm"
    if kind == "gaps":
        return f"gap {gap_width(level, cfg):.2f} m"
    if kind == "stepping_stones":
        return f"{lerp(cfg.stone_size, level):.2f} m, gap {lerp(cfg.stone_gap, level):.2f}"
    if kind == "beam":
        return f"beam {lerp(cfg.beam_width, level) * 100:.0f} cm"
    if kind == "cave":
        return f"clear {lerp(cfg.ceiling_clearance, level):.2f} m"
    return ""


def preview(terrain: Terrain, path_png: str | Path, dpi: int = 100) -> Path:
    """Write a top-down PNG of ``terrain``: x (difficulty rows) to the right, y (type columns) up.

    Heights are hill-shaded (so 2 cm of roughness shows next to 1.6 m pyramids); ground boxes (beams)
    are drawn solid, ceilings hatched; white dots are the spawn origins. Each tile is labelled with its
    key figure at its level; the axes name the levels and the types.

    A course (a terrain with ``course``) gets its own picture
    (:func:`stridelab.sim.terrain.course_preview.preview_course`).

    Returns:
        The path written.
    """
    if getattr(terrain, "course", None) is not None:
        from stridelab.sim.terrain.course_preview import preview_course

        return preview_course(terrain, path_png, dpi=dpi)
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LightSource, Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    cfg = terrain.cfg
    t, hs = cfg.tile_size, cfg.horizontal_scale
    h = np.asarray(terrain.heights, dtype=np.float64)
    x_min, x_max, y_min, y_max = terrain.extent
    span = max(float(np.abs(h).max()), 0.05)
    norm = Normalize(vmin=-span, vmax=span)  # symmetric: 0 has one colour, up is brown, down is blue
    cmap = colormaps["terrain"]
    shade = LightSource(azdeg=315, altdeg=40).shade(h, cmap=cmap, norm=norm, vert_exag=4.0, blend_mode="overlay",
                                                   dx=hs, dy=hs)

    tile_in = 1.25  # inches per tile
    width = max(cfg.num_rows * tile_in + 4.8, 7.0)
    height = max(cfg.num_cols * tile_in + 1.2, 4.0)
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    half = hs / 2
    ax.imshow(shade, origin="lower", extent=(x_min - half, x_max + half, y_min - half, y_max + half),
              interpolation="antialiased")
    for box in terrain.boxes:
        x0, y0 = box.pos[0] - box.size[0], box.pos[1] - box.size[1]
        style = (dict(facecolor=(0.9, 0.5, 0.2, 0.25), edgecolor=(0.75, 0.3, 0.05), hatch="////", lw=0.6)
                 if box.overhead else dict(facecolor=(0.95, 0.85, 0.2), edgecolor="black", lw=0.4))
        ax.add_patch(Rectangle((x0, y0), 2 * box.size[0], 2 * box.size[1], **style))
    for i in range(cfg.num_rows + 1):
        ax.axvline(i * t, color="black", lw=0.8, alpha=0.7)
    for j in range(cfg.num_cols + 1):
        ax.axhline(j * t, color="black", lw=0.8, alpha=0.7)
    ax.plot(terrain.origins[..., 0].ravel(), terrain.origins[..., 1].ravel(), "o", ms=3, color="white",
            mec="black", mew=0.5)
    font = 8
    for tile in terrain.tiles:
        label = tile_label(tile.type, tile.level, cfg)
        if label:
            ax.text(tile.origin[0], tile.origin[1] - 0.3 * t, label, ha="center", va="center", fontsize=font,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75))
    ax.set_xticks([(i + 0.5) * t for i in range(cfg.num_rows)],
                  [f"{lv:.2f}" for lv in terrain.levels], fontsize=8)
    ax.set_yticks([(j + 0.5) * t for j in range(cfg.num_cols)], list(terrain.column_types), fontsize=9)
    ax.set_xlabel(f"difficulty level of the row (x [m]: rows are {t:g} m long)", fontsize=9)
    ax.set_xlim(x_min - half, x_max + half)
    ax.set_ylim(y_min - half, y_max + half)
    rows, cols = cfg.num_rows, cfg.num_cols
    ax.set_title(f"terrain: {rows} level{'s' * (rows > 1)} x {cols} column{'s' * (cols > 1)}, {t:g} m tiles, "
                 f"seed {cfg.seed}",
                 fontsize=10)
    handles = [Patch(facecolor=(0.95, 0.85, 0.2), edgecolor="black", label="beam (box)"),
               Patch(facecolor=(0.9, 0.5, 0.2, 0.25), edgecolor=(0.75, 0.3, 0.05), hatch="////",
                     label="ceiling (box)")]
    if terrain.boxes:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.5, label="height [m]")
    return write_atomic(Path(path_png), lambda f: fig.savefig(f, format="png"))
