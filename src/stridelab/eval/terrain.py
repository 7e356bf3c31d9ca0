"""Success per terrain type and level: a fixed number of seeded trials on every (type, level) of a task's terrain.

Success is legged_gym's distance walked against the distance commanded, without a fall:

- **Terrain grid** (e.g. ``quadruped-rough``): each trial spawns at a tile of the cell's type and level
  (columns of a type in turn; heading random, as in training) and is commanded forward at ``speed``
  [m/s] (no lateral or turning command) for ``duration_s``. It succeeds if no failure termination (a
  fall, a body contact, an unstable simulation) ends it and it ends at least
  ``fraction * speed * duration_s`` from its spawn point (straight line, legged_gym's measure). With
  ``fraction = 0.5`` that is legged_gym's curriculum rule: a robot that walks less is demoted.
- **Course** (e.g. ``quadruped-stairstair``: one type, one level): each trial spawns at a lane's start,
  commanded forward at ``speed`` with the course's steering. It succeeds if its base crosses the finish
  line before any fall, within ``duration_s = distance / (fraction * speed)``: the same rule, with the
  course's spawn-to-finish distance as the distance to walk (at 0.5 m/s and 0.5: within 4 s per metre).

The per-env bookkeeping (:class:`TerrainTrials`) and the table (:func:`success_table`) are plain numpy,
tested on synthetic distances; :func:`evaluate_terrain` runs them in the training simulator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from stridelab.config import EnvConfig, override
from stridelab.errors import ConfigError

log = logging.getLogger(__name__)

DEFINITION = ("success: no fall, and walked at least `fraction` of the distance commanded (speed x time); on a "
              "course: the base crossed the finish line before any fall within distance / (fraction x speed) "
              "seconds")


class TerrainTrials:
    """Per env: whether it fell, how far it got, and (courses) whether it crossed the finish line.

    A trial is over at its first fall or, with ``finish_line``, when its distance first reaches the
    required one; later steps (the env is reset and walks again) do not change it.

    Args:
        required: distance each trial must walk [m]. Shape: (n,).
        finish_line: True for a course (success on reaching ``required``), False for the grid (success if
            the distance at the end reaches ``required`` and the trial never fell).
    """

    def __init__(self, required: np.ndarray, finish_line: bool) -> None:
        self.required = np.asarray(required, dtype=np.float64)
        self.finish_line = bool(finish_line)
        n = len(self.required)
        self.fell = np.zeros(n, dtype=bool)
        self.finished = np.zeros(n, dtype=bool)
        self.distance = np.zeros(n)

    def add(self, fell: np.ndarray, distance: np.ndarray) -> None:
        """One control step: ``fell`` (failure termination this step; Shape: (n,), bool) and the distance
        walked at this step, before any reset [m] (Shape: (n,))."""
        active = ~(self.fell | self.finished)
        self.distance = np.where(active, distance, self.distance)
        self.fell |= active & np.asarray(fell, dtype=bool)
        if self.finish_line:
            self.finished |= active & ~self.fell & (self.distance >= self.required)

    def decided(self) -> np.ndarray:
        """Trials whose outcome no later step can change: fallen, or over the finish line. Shape: (n,), bool."""
        return self.fell | self.finished

    def success(self) -> np.ndarray:
        """Per trial. Shape: (n,), bool."""
        if self.finish_line:
            return self.finished.copy()
        return ~self.fell & (self.distance >= self.required)


def assign_trials(column_types: tuple[str, ...] | list[str], num_rows: int, trials: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The tile of every trial: each (row, type) cell gets ``trials`` envs, on that type's columns in turn.

    Env ``k`` is trial ``k % trials`` of cell ``k // trials``; cells run over the types (in column order),
    then the rows.

    Returns:
        (rows, cols, type index) per env (Shapes: (num_rows * len(types) * trials,), int) and the types.
    """
    if trials < 1:
        raise ConfigError(f"terrain evaluation trials = {trials} must be >= 1 per terrain type and level.")
    types = list(dict.fromkeys(column_types))
    cols_of = [np.flatnonzero(np.asarray(column_types) == t) for t in types]
    table = np.stack([np.resize(c, trials) for c in cols_of])  # (types, trials): columns in turn
    k = np.arange(num_rows * len(types) * trials)
    cell, trial = k // trials, k % trials
    rows, type_idx = cell // len(types), cell % len(types)
    return rows, table[type_idx, trial], type_idx, types


def success_table(rows: np.ndarray, type_idx: np.ndarray, success: np.ndarray, fell: np.ndarray,
                  distance: np.ndarray, required: np.ndarray, types: list[str], levels: np.ndarray) -> dict:
    """Success per (type, level) cell.

    Args:
        rows, type_idx: each trial's level (row) and type index. Shapes: (n,), int.
        success, fell: per trial. Shapes: (n,), bool.
        distance, required: walked and required distance per trial [m]. Shapes: (n,).
        types: type names; levels: difficulty of each row. Shape: (num_rows,).
    Returns:
        ``types``, ``levels``, ``success_rate`` (a list per level of one rate per type; None for a cell
        without trials), ``cells`` (per cell: type, level, row, trials, successes, success_rate,
        fall_rate, mean_distance [m], required_distance [m]), ``success_rate_by_type`` and
        ``overall_success_rate``.
    """
    rows, type_idx = np.asarray(rows), np.asarray(type_idx)
    success, fell = np.asarray(success, dtype=bool), np.asarray(fell, dtype=bool)
    num_rows, num_types = len(levels), len(types)
    cell = rows * num_types + type_idx
    size = num_rows * num_types
    count = np.bincount(cell, minlength=size)
    wins = np.bincount(cell, weights=success, minlength=size)
    falls = np.bincount(cell, weights=fell, minlength=size)
    dist = np.bincount(cell, weights=distance, minlength=size)
    need = np.bincount(cell, weights=required, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = wins / count
    cells = []
    for c in np.flatnonzero(count):
        i, t = divmod(int(c), num_types)
        n = int(count[c])
        cells.append({"type": types[t], "level": float(levels[i]), "row": i, "trials": n, "successes": int(wins[c]),
                      "success_rate": float(rate[c]), "fall_rate": float(falls[c] / n),
                      "mean_distance": float(dist[c] / n), "required_distance": float(need[c] / n)})
    grid = rate.reshape(num_rows, num_types)
    by_type = {}
    for t, name in enumerate(types):
        on = type_idx == t
        if on.any():
            by_type[name] = float(success[on].mean())
    return {"types": list(types), "levels": [float(v) for v in levels],
            "success_rate": [[None if np.isnan(v) else float(v) for v in row] for row in grid],
            "cells": cells, "success_rate_by_type": by_type,
            "overall_success_rate": float(success.mean()) if len(success) else float("nan")}


def terrain_eval_cfg(env_cfg: EnvConfig, num_envs: int, speed: float, duration_s: float, seed: int) -> EnvConfig:
    """The task for a terrain evaluation: no curriculum (tiles are assigned), the velocity command held at
    ``speed`` forward (a steering command keeps its yaw bound), no interval events, one long episode."""
    from stridelab.eval.grid import eval_env_cfg
    from stridelab.mdp.lookup import resolve

    velocity = None
    for name, term in env_cfg.commands.items():
        cls = resolve(term.func, "commands")
        if getattr(cls, "role", None) == "velocity":
            velocity, steers = name, bool(getattr(cls, "steers", False))
    if velocity is None:
        raise ConfigError(f"task {env_cfg.task!r} has no velocity command term, so it cannot be commanded forward for "
                          f"the terrain evaluation; add one (e.g. velocity_command) to its commands.")
    params = {"lin_vel_x": (speed, speed), "lin_vel_y": (0.0, 0.0), "standing_fraction": 0.0, "min_lin_vel": 0.0}
    if not steers:
        params["ang_vel_yaw"] = (0.0, 0.0)
    cfg = override(replace(env_cfg, curriculum={}), commands={velocity: {"params": params}})
    return eval_env_cfg(cfg, num_envs, duration_s, seed)


def evaluate_terrain(policy: Callable, env_cfg: EnvConfig, trials: int = 8, speed: float = 0.5,
                     fraction: float = 0.5, duration_s: float = 10.0, seed: int = 0,
                     env_factory: Callable | None = None) -> dict:
    """Success per terrain type and level of ``policy`` on ``env_cfg``'s terrain (see the module docstring).

    Args:
        policy: maps the observation TensorDict to actions; called under inference mode.
        trials: envs per (type, level) cell.
        speed: forward command [m/s]; fraction: share of the commanded distance to walk.
        duration_s: length of a grid trial [s] (a course's follows from its distance).
        env_factory: builds the env from a config (defaults to the registry's env class of the task).
    Returns:
        :func:`success_table`'s dict plus ``kind`` ("grid" or "course"), ``definition``, the settings and,
        for a course, ``course`` (name, distance, finish line).
    """
    from stridelab.mdp.terrain import tiles_of
    from stridelab.envs import make_env
    from stridelab.eval.grid import at_course_figures
    from stridelab.sim.terrain.courses import course_plan

    if env_cfg.terrain is None:
        raise ConfigError(f"task {env_cfg.task!r} has the flat floor: there is no terrain type or level to evaluate; "
                          f"use a task with terrain, such as quadruped-rough or quadruped-stairstair.")
    if not (speed > 0 and 0 < fraction <= 1 and duration_s > 0):
        raise ConfigError(f"terrain evaluation speed = {speed} m/s, fraction = {fraction}, duration = {duration_s} s: "
                          f"give a speed > 0, a fraction in (0, 1] and a duration > 0.")
    env_cfg = at_course_figures(env_cfg)  # a course: its last level, ETG-RL's figures
    tcfg = env_cfg.terrain
    course = course_plan(tcfg) if tcfg.course else None
    column_types = (tcfg.course,) * tcfg.num_cols if course is not None else tcfg.column_types()
    rows, cols, type_idx, types = assign_trials(column_types, tcfg.num_rows, trials)
    n = len(rows)
    if course is not None:
        duration_s = course.distance / (fraction * speed)
    env = (env_factory or make_env)(terrain_eval_cfg(env_cfg, n, speed, duration_s, seed))
    tiles = tiles_of(env, "terrain evaluation")
    tiles.rows[:], tiles.cols[:] = rows, cols
    obs = env.reset_all()
    if hasattr(policy, "reset"):
        policy.reset()
    spawn = tiles.spawn_xy.copy()
    if course is not None:
        required = course.finish_x - spawn[:, 0]
    else:
        required = np.full(n, fraction * speed * duration_s)
    book = TerrainTrials(required, finish_line=course is not None)
    with torch.inference_mode():
        for _ in range(int(round(duration_s / env.dt))):
            obs, _, dones, extras = env.step(policy(obs))
            xy = env.last_state.base_pos[:, :2]  # before any reset of this step
            distance = xy[:, 0] - spawn[:, 0] if course is not None else np.linalg.norm(xy - spawn, axis=1)
            book.add(dones.numpy() & ~extras["time_outs"].numpy(), distance)
            if book.decided().all():  # every trial fell or finished: the rest cannot change the table
                break
    result = success_table(rows, type_idx, book.success(), book.fell, book.distance, required, types,
                           np.asarray(env.robot.terrain.levels))
    result.update(kind="course" if course is not None else "grid", definition=DEFINITION, speed=speed,
                  fraction=fraction, duration_s=float(duration_s), trials_per_cell=trials, seed=seed,
                  task=env_cfg.task)
    if course is not None:
        result["course"] = {"name": course.name, "distance_m": course.distance, "finish_x": course.finish_x,
                            "spawn_x": course.spawn_x, "summary": course.summary()}
    log.info("terrain evaluation of %s: overall success %.0f %% over %d trials", env_cfg.task,
             100 * result["overall_success_rate"], n)
    return result


def terrain_lines(terrain: dict) -> list[str]:
    """Success per terrain type (and level) of an evaluation, one line per type, for the terminal."""
    lines = [f"terrain success ({terrain['kind']}, {terrain['trials_per_cell']} trials per type and level, forward "
             f"{terrain['speed']:g} m/s): {100 * terrain['overall_success_rate']:.0f}% overall"]
    if terrain["kind"] == "course":
        (cell,) = terrain["cells"]
        lines.append(f"  {terrain['course']['summary']}: {cell['successes']}/{cell['trials']} crossed the finish line, "
                     f"{100 * cell['fall_rate']:.0f}% fell, mean progress {cell['mean_distance']:.2f} m")
        return lines
    for t, name in enumerate(terrain["types"]):
        by_level = ", ".join(f"{lv:.2f}: {'-' if row[t] is None else f'{100 * row[t]:.0f}%'}"
                             for lv, row in zip(terrain["levels"], terrain["success_rate"]))
        lines.append(f"  {name:<16} {100 * terrain['success_rate_by_type'][name]:.0f}%  (by level {by_level})")
    return lines
