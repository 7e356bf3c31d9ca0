"""Curriculum terms: run at resets, before the reset events (so a promoted env spawns on its new tile).

A term is ``func(env, env_ids, **params)`` or a class ``Class(env, **params)`` called with ``env_ids``;
what it returns is logged as ``Curriculum/<name>`` (a dict: ``Curriculum/<name>/<key>``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stridelab.errors import ConfigError
from stridelab.mdp.terrain import tiles_of

Range = tuple[float, float]


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


def update_course_levels(rows: np.ndarray, walked: np.ndarray, distance: np.ndarray, required: np.ndarray,
                         num_rows: int, demote_fraction: float = 0.5, promote_fraction: float = 0.9) -> np.ndarray:
    """The new level of each env on a course curriculum: up one level after crossing the finish line, or after
    walking ``promote_fraction`` of what was asked (the command's distance over the episode) when that is at least
    half the course (a slow command cannot reach the finish line in one episode, yet its env crossed the
    obstacles on the way); down one after walking less than ``demote_fraction`` of what was asked (at most the
    course); never below 0 nor above the top level (a solved course keeps its envs at its figures).

    Args:
        rows: current levels. Shape: (k,), int.
        walked: distance along the course from the spawn point [m]. Shape: (k,).
        distance: spawn point to finish line of each env's level [m]. Shape: (k,).
        required: distance the command asked for over the episode [m]. Shape: (k,).
    Returns:
        New levels. Shape: (k,), int.
    """
    up = (walked >= distance) | ((walked >= promote_fraction * required) & (required >= distance / 2))
    down = ~up & (walked < demote_fraction * np.minimum(required, distance))
    return np.clip(np.asarray(rows, dtype=np.int64) + up - down, 0, num_rows - 1)


class course_levels:  # noqa: N801 - a term, named like the function terms
    """Course curriculum: the gap width, beam width, riser height, slope and ceiling clearance of an ETG-RL course
    ramp from easy (level 0) to the course's own figures (the last level) by success, as the terrain grid's
    curriculum ramps its tiles (:mod:`stridelab.sim.terrain.courses` lays out the levels' lanes).

    At each reset an env moves by :func:`update_course_levels`: up after crossing its level's finish line (or
    walking ``promote_fraction`` of what its command asked, when that is half the course or more), down after
    walking less than ``demote_fraction`` of what its command asked. Envs start on levels
    ``0..max_init_level``. Returns the mean level index and the share of envs on the last level, logged as
    ``Curriculum/<name>/mean_level`` and ``Curriculum/<name>/at_course``.
    """

    def __init__(self, env: Any, max_init_level: int = 0, demote_fraction: float = 0.5,
                 promote_fraction: float = 0.9) -> None:
        if max_init_level < 0 or not 0 <= demote_fraction <= 1 or not 0 < promote_fraction <= 1:
            raise ConfigError(f"course_levels max_init_level = {max_init_level}, demote_fraction = {demote_fraction}, "
                              f"promote_fraction = {promote_fraction}: give a level >= 0, a demote fraction in "
                              f"[0, 1] and a promote fraction in (0, 1].")
        self.env, self.demote_fraction, self.promote_fraction = env, float(demote_fraction), float(promote_fraction)
        self.tiles = tiles_of(env, "course_levels", max_init_row=max_init_level)
        terrain = self.tiles.terrain
        if getattr(terrain, "course", None) is None:
            raise ConfigError("curriculum 'course_levels' needs an obstacle course (terrain.course); use "
                              "terrain_levels on a terrain grid.")
        self.finish_x, self.num_rows = terrain.finish_x, terrain.cfg.num_rows

    def __call__(self, env_ids: np.ndarray) -> dict[str, float]:
        env, tiles = self.env, self.tiles
        ids = env_ids[np.isfinite(tiles.spawn_xy[env_ids, 0])]  # envs that have walked an episode
        if len(ids):
            b = env.robot.base_qpos_adr
            walked = env.sim.qpos[ids, b] - tiles.spawn_xy[ids, 0]
            distance = self.finish_x[tiles.rows[ids]] - tiles.spawn_xy[ids, 0]
            command = env.commands.get("velocity")[ids, :2] if "velocity" in env.commands.terms \
                else np.zeros((len(ids), 2))
            required = np.linalg.norm(command, axis=1) * env.cfg.episode_length_s
            tiles.rows[ids] = update_course_levels(tiles.rows[ids], walked, distance, required, self.num_rows,
                                                   self.demote_fraction, self.promote_fraction)
        return {"mean_level": float(tiles.rows.mean()), "at_course": float((tiles.rows == self.num_rows - 1).mean())}

    def reset(self, env_ids: np.ndarray) -> None:
        """The levels persist across episodes."""

    def state_dict(self) -> dict:
        return self.tiles.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.tiles.load_state_dict(state)


class randomization_strength:  # noqa: N801 - a term, named like the function terms
    """Ramps every domain randomization from the nominal robot to the config's ranges (the curricula of Isaac
    Lab's ``modify_term_cfg`` on ``common_step_counter``, applied to the reach of the draws).

    The strength is 0 before ``start_step`` and 1 from ``end_step`` on, linear in between, in control steps
    per env (``env.common_step_counter``: 24 per PPO iteration at the default rollout length, whatever the
    number of envs or Ray workers). Each reset's draws are ``nominal + strength * (draw - nominal)``
    (:mod:`stridelab.mdp.randomization`); the privileged group keeps its layout, so a policy that reads it sees
    the values the ramp actually set. ``end_step`` 0 turns the ramp off (strength 1 throughout). Evaluations
    drop this term and use the full ranges (:func:`stridelab.eval.grid.eval_env_cfg`). The counter is saved
    with the env, so ``--resume`` continues the ramp; ``--init-from`` starts a fresh env and the ramp again.

    Returns the strength, logged as ``Curriculum/<name>``.
    """

    def __init__(self, env: Any, start_step: int = 0, end_step: int = 0) -> None:
        if start_step < 0 or end_step < 0 or (end_step and end_step <= start_step):
            raise ConfigError(f"randomization_strength start_step = {start_step}, end_step = {end_step}: give "
                              f"0 <= start_step < end_step in control steps per env, or end_step 0 for no ramp.")
        self.env = env
        self.start_step, self.end_step = int(start_step), int(end_step)
        self.randomizers = [term for _, term in env.events.terms.values() if hasattr(term, "strength")]

    def strength(self) -> float:
        """The strength at the env's current step, in [0, 1]."""
        if not self.end_step:
            return 1.0
        return float(np.clip((self.env.common_step_counter - self.start_step) / (self.end_step - self.start_step),
                             0.0, 1.0))

    def __call__(self, env_ids: np.ndarray) -> float:
        value = self.strength()
        for term in self.randomizers:
            term.strength = value
        return value


class command_levels:  # noqa: N801 - a term, named like the function terms
    """legged_gym's command curriculum (``update_command_curriculum``; Isaac Lab's ``lin_vel_cmd_levels``): while
    the robots track well, widen the velocity command's planar ranges.

    At most once per episode length of control steps (legged_gym checks once per episode length), at a reset:
    if the resetting envs' mean episode sum of ``reward_term`` per second of episode exceeds ``threshold`` times
    the term's weight (legged_gym: 0.8 of the best possible), ``lin_vel_x`` and ``lin_vel_y`` widen by ``step``
    [m/s] at each end, never beyond ``limit_lin_vel_x`` / ``limit_lin_vel_y``. Limits equal to the command's
    ranges (the default) keep the ranges fixed; e.g. ``--env.curriculum.command-levels.params.limit-lin-vel-x -2 2``
    turns the curriculum on. The ranges are saved with the env (exact resume).

    Returns the ranges' upper ends, logged as ``Curriculum/<name>/lin_vel_x`` and ``.../lin_vel_y``.
    """

    def __init__(self, env: Any, reward_term: str = "track_lin_vel_xy_exp", threshold: float = 0.8, step: float = 0.5,
                 limit_lin_vel_x: Range | None = None, limit_lin_vel_y: Range | None = None) -> None:
        self.env = env
        self.command = env.commands.velocity
        if self.command is None:
            raise ConfigError("curriculum command_levels needs a velocity command; add one (e.g. velocity_command).")
        names = env.rewards.names
        if reward_term not in names:
            raise ConfigError(f"curriculum command_levels reward_term {reward_term!r} is not an active reward term; "
                              f"use one of: {', '.join(names)}.")
        self.index = names.index(reward_term)
        self.weight = float(env.rewards.weights[self.index])
        if self.weight <= 0 or not 0.0 < threshold <= 1.0 or step <= 0:
            raise ConfigError(f"curriculum command_levels needs a tracking reward with a positive weight (got "
                              f"{self.weight}), a threshold within (0, 1] (got {threshold}) and a step > 0 m/s "
                              f"(got {step}).")
        self.threshold, self.step = float(threshold), float(step)
        limits = []
        for axis, limit in ((0, limit_lin_vel_x), (1, limit_lin_vel_y)):
            lo, hi = (self.command.low[axis], self.command.high[axis]) if limit is None else limit
            if not lo <= self.command.low[axis] <= self.command.high[axis] <= hi:
                raise ConfigError(f"curriculum command_levels limit {limit!r} must contain the command's range "
                                  f"({self.command.low[axis]:g}, {self.command.high[axis]:g}) m/s.")
            limits.append((float(lo), float(hi)))
        self.limit_low = np.array([limits[0][0], limits[1][0]])
        self.limit_high = np.array([limits[0][1], limits[1][1]])
        self.next_check = 0  # env.common_step_counter of the next check

    def __call__(self, env_ids: np.ndarray) -> dict[str, float]:
        env = self.env
        if len(env_ids) and env.common_step_counter >= self.next_check and env.common_step_counter > 0:
            self.next_check = env.common_step_counter + env.max_episode_length
            per_second = float(np.mean(env.rewards.episode_sums[self.index, env_ids])) / env.cfg.episode_length_s
            if per_second > self.threshold * self.weight:
                self.command.low[:2] = np.maximum(self.command.low[:2] - self.step, self.limit_low)
                self.command.high[:2] = np.minimum(self.command.high[:2] + self.step, self.limit_high)
        return {"lin_vel_x": float(self.command.high[0]), "lin_vel_y": float(self.command.high[1])}

    def state_dict(self) -> dict:
        return {"low": torch.from_numpy(self.command.low.copy()), "high": torch.from_numpy(self.command.high.copy()),
                "next_check": int(self.next_check)}

    def load_state_dict(self, state: dict) -> None:
        self.command.low[:] = state["low"].numpy()
        self.command.high[:] = state["high"].numpy()
        self.next_check = int(state["next_check"])


class scan_noise_level:  # noqa: N801 - a term, named like the function terms
    """Schedules the exteroception noise model of the height scans of one observation group
    (:mod:`stridelab.mdp.scan_noise`): its level goes from ``start_level`` at ``start_step`` to ``end_level`` at
    ``end_step``, linear in between, in control steps per env (``env.common_step_counter``, saved with the env:
    ``--resume`` continues it). A student meets a clean scan first and the full noise model later.

    The observations are built after the curriculum, so the first frame has the level of the term's own
    ``noise_level`` parameter; give it ``start_level``. Returns the level, logged as ``Curriculum/<name>``.
    """

    def __init__(self, env: Any, group: str = "extero", start_step: int = 0, end_step: int = 0,
                 start_level: float = 0.0, end_level: float = 1.0) -> None:
        if start_step < 0 or end_step < 0 or (end_step and end_step <= start_step) or min(start_level, end_level) < 0:
            raise ConfigError(f"scan_noise_level start_step = {start_step}, end_step = {end_step}, levels "
                              f"{start_level}, {end_level}: give 0 <= start_step < end_step (end_step 0: end_level "
                              f"throughout) and levels >= 0.")
        if group not in env.cfg.observations:
            raise ConfigError(f"scan_noise_level group {group!r} is not an observation group of the task; use one of "
                              f"{', '.join(env.cfg.observations)}.")
        self.env, self.group, self.scans = env, group, None
        self.start_step, self.end_step = int(start_step), int(end_step)
        self.start_level, self.end_level = float(start_level), float(end_level)

    def level(self) -> float:
        """The level at the env's current step."""
        if not self.end_step:
            return self.end_level
        t = float(np.clip((self.env.common_step_counter - self.start_step) / (self.end_step - self.start_step), 0, 1))
        return self.start_level + t * (self.end_level - self.start_level)

    def __call__(self, env_ids: np.ndarray) -> float:
        from stridelab.mdp.height_scan import height_scan

        value = self.level()
        if self.scans is None and self.env.observations is not None:
            self.scans = [t for t in self.env.observations.groups[self.group].terms if isinstance(t, height_scan)]
            if not self.scans:
                raise ConfigError(f"scan_noise_level: observation group {self.group!r} has no height_scan term to "
                                  f"schedule.")
        for scan in self.scans or ():
            scan.noise_level = value
        return value


def without_schedules(cfg: Any) -> Any:
    """``cfg`` (an ``EnvConfig``) without the training schedules an evaluation must not replay (an evaluation env
    starts at step 0): the randomization ramp (every randomization at full range) and the scan-noise schedule
    (every scan at the level its term's ``noise_level`` gives)."""
    from dataclasses import replace

    from stridelab.mdp.lookup import resolve

    return replace(cfg, curriculum={name: c for name, c in cfg.curriculum.items()
                                    if resolve(c.func, "curriculum") not in (randomization_strength, scan_noise_level)})
