"""Terrain for rough-ground training: a seeded grid of heightfield tiles of rising difficulty, plus boxes.

    cfg = TerrainConfig(num_rows=5, num_cols=4, types={"stairs_up": 1, "gaps": 1})
    terrain = build_terrain(cfg)          # numpy heights, boxes, per-tile type / level / origin
    add_to_spec(terrain, mjspec)          # a MuJoCo hfield geom and box geoms
    preview(terrain, "terrain.png")       # top-down picture

Modules: ``config`` (TerrainConfig, default figures and their sources), ``generators`` (one pure
function per terrain type), ``grid`` (assembly, height lookup, MuJoCo), ``courses`` (ETG-RL's obstacle courses), ``preview``
(matplotlib).
"""

from collections import OrderedDict

from stridelab.sim.terrain.config import TERRAIN_TYPES, TerrainConfig
from stridelab.sim.terrain.generators import GENERATORS, Box
from stridelab.sim.terrain.courses import build_course
from stridelab.sim.terrain.grid import Terrain, TerrainTile, add_to_spec, build_grid
from stridelab.sim.terrain.preview import preview, tile_label


_BUILT: OrderedDict[str, Terrain] = OrderedDict()  #: the last few terrains built, by their config's repr
_KEEP = 4


def build_terrain(cfg: TerrainConfig) -> Terrain:
    """The terrain ``cfg`` describes: the grid of tiles (:func:`~stridelab.sim.terrain.grid.build_grid`), or with
    ``cfg.course`` set, that course's lanes (:func:`~stridelab.sim.terrain.courses.build_course`).

    A terrain is deterministic in its config and frozen (read-only arrays), so the last few are kept and
    returned again for an equal config: an evaluation builds several envs on one terrain, and the rough grid
    takes 0.1-0.2 s to build and 0.05 s to encode for MuJoCo (``Terrain.hfield_file``)."""
    key = repr(cfg)
    terrain = _BUILT.pop(key, None)
    if terrain is None:
        terrain = build_course(cfg) if cfg.course else build_grid(cfg)
    _BUILT[key] = terrain
    while len(_BUILT) > _KEEP:
        _BUILT.popitem(last=False)
    return terrain


__all__ = ["GENERATORS", "TERRAIN_TYPES", "Box", "Terrain", "TerrainConfig", "TerrainTile", "add_to_spec",
           "build_terrain", "preview", "tile_label"]
