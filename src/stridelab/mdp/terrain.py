"""Which terrain tile each env is on: shared by the curriculum (which moves envs between rows) and the
reset event that spawns them (:func:`stridelab.mdp.events.reset_robot_on_terrain`).

The assignment lives on the env (``env.terrain_tiles``), made by the first term that needs it: the
curriculum term makes it with its initial levels; without one, rows are drawn uniformly once. Columns
(terrain types) are spread evenly over the envs, as in legged_gym.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stridelab.errors import ConfigError


class TerrainTiles:
    """Per-env tile (row = difficulty level, col = terrain type) and the spawn point of its episode.

    Attributes:
        rows, cols: tile of each env. Shapes: (n,), int.
        spawn_xy: where each env was placed at its last reset [m]; NaN before its first spawn. Shape: (n, 2).
    """

    def __init__(self, terrain: Any, num_envs: int, rng: np.random.Generator, max_init_row: int | None = None) -> None:
        cfg = terrain.cfg
        self.terrain = terrain
        self.num_rows, self.num_cols = cfg.num_rows, cfg.num_cols
        top = self.num_rows - 1 if max_init_row is None else min(max(int(max_init_row), 0), self.num_rows - 1)
        self.rows = rng.integers(0, top + 1, size=num_envs)
        self.cols = np.floor(np.arange(num_envs) * self.num_cols / num_envs).astype(np.int64)
        self.spawn_xy = np.full((num_envs, 2), np.nan)

    def origins(self, env_ids: np.ndarray) -> np.ndarray:
        """Spawn origins (x, y, z) of the envs' tiles [m]. Shape: (k, 3)."""
        return np.asarray(self.terrain.origins)[self.rows[env_ids], self.cols[env_ids]]

    def state_dict(self) -> dict:
        return {"rows": torch.from_numpy(self.rows.copy()), "cols": torch.from_numpy(self.cols.copy()),
                "spawn_xy": torch.from_numpy(self.spawn_xy.copy())}

    def load_state_dict(self, state: dict) -> None:
        self.rows[:] = state["rows"].numpy()
        self.cols[:] = state["cols"].numpy()
        self.spawn_xy[:] = state["spawn_xy"].numpy()


def terrain_of(env: Any, term: str) -> Any:
    """The env's built terrain; a one-sentence ConfigError naming ``term`` on flat ground."""
    terrain = getattr(env.robot, "terrain", None)
    if terrain is None:
        raise ConfigError(f"term {term!r} needs terrain, but the task has the flat floor; set env.terrain (a "
                          f"TerrainConfig) or use a rough task such as quadruped-rough.")
    return terrain


def tiles_of(env: Any, term: str, max_init_row: int | None = None) -> TerrainTiles:
    """The env's tile assignment, made on first use (see the module docstring)."""
    tiles = getattr(env, "terrain_tiles", None)
    if tiles is None:
        tiles = TerrainTiles(terrain_of(env, term), env.num_envs, env.rng, max_init_row)
        env.terrain_tiles = tiles
    return tiles
