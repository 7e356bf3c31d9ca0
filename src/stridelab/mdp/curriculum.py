"""Curriculum terms: run at resets, before the reset events (so a promoted env spawns on its new tile).

A term is ``func(env, env_ids, **params)`` or a class ``Class(env, **params)`` called with ``env_ids``;
what it returns is logged as ``Curriculum/<name>`` (a dict: ``Curriculum/<name>/<key>``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stridelab.errors import ConfigError
from stridelab.mdp.terrain import tiles_of


def update_terrain_levels(rows: np.ndarray, distance: np.ndarray, required: np.ndarray, tile_size: float,
                          num_rows: int, rng: np.random.Generator) -> np.ndarray:
    """legged_gym's game-inspired rule: the new row of each env.

    An env that walked farther than half a tile moves one row up; one that walked less than half of
    what its command asked (and was not promoted) moves one row down, never below row 0; one promoted
    beyond the top row goes to a random row, so that solved envs keep the whole grid in play.

    Args:
        rows: current rows. Shape: (k,), int.
        distance: distance walked from the spawn point in the episode [m]. Shape: (k,).
        required: distance the command asked for over the episode [m]. Shape: (k,).
        tile_size: side of a tile [m].
        num_rows: rows of the grid.
        rng: draws the rows of envs beyond the top.
    Returns:
        New rows. Shape: (k,), int.
    """
    rows = np.asarray(rows, dtype=np.int64)
    up = distance > tile_size / 2
    down = (distance < 0.5 * required) & ~up
    new = rows + up - down
    beyond = new >= num_rows
    new[beyond] = rng.integers(0, num_rows, size=int(beyond.sum()))
    return np.maximum(new, 0)


class terrain_levels:  # noqa: N801 - a term, named like the function terms
    """Terrain curriculum (legged_gym): per env a row (level) and a column (type) of the terrain grid.

    At each reset, envs move up or down a row by :func:`update_terrain_levels`, from the distance between
    their base and their spawn point and the distance their velocity command asked for over the episode
    (``|command_xy| * episode_length_s``, as legged_gym). Envs start on rows ``0..max_init_level``.

    Returns the mean row per terrain type, logged as ``Curriculum/<name>/<type>``.
    """

    def __init__(self, env: Any, max_init_level: int = 0) -> None:
        if max_init_level < 0:
            raise ConfigError(f"terrain_levels max_init_level = {max_init_level} must be >= 0.")
        self.env = env
        self.tiles = tiles_of(env, "terrain_levels", max_init_row=max_init_level)
        cfg = self.tiles.terrain.cfg
        self.tile_size, self.num_rows = cfg.tile_size, cfg.num_rows
        self.types = list(self.tiles.terrain.column_types)

    def __call__(self, env_ids: np.ndarray) -> dict[str, float]:
        env, tiles = self.env, self.tiles
        ids = env_ids[np.isfinite(tiles.spawn_xy[env_ids, 0])]  # envs that have walked an episode
        if len(ids):
            b = env.robot.base_qpos_adr
            distance = np.linalg.norm(env.sim.qpos[ids, b:b + 2] - tiles.spawn_xy[ids], axis=1)
            command = env.commands.get("velocity")[ids, :2] if "velocity" in env.commands.terms \
                else np.zeros((len(ids), 2))
            required = np.linalg.norm(command, axis=1) * env.cfg.episode_length_s
            tiles.rows[ids] = update_terrain_levels(tiles.rows[ids], distance, required, self.tile_size,
                                                    self.num_rows, env.rng)
        out: dict[str, float] = {}
        for kind in dict.fromkeys(self.types):
            on = np.isin(tiles.cols, [j for j, t in enumerate(self.types) if t == kind])
            if on.any():
                out[kind] = float(tiles.rows[on].mean())
        return out

    def reset(self, env_ids: np.ndarray) -> None:
        """The levels persist across episodes."""

    def state_dict(self) -> dict:
        return self.tiles.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.tiles.load_state_dict(state)
