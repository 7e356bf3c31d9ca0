"""The course curriculum: an ETG-RL course laid out in levels from easy figures to its own, envs moved between
levels by success (``course_levels``), every per-env course lookup (the deck, the finish line, the lane, the
ceiling) read at the env's level, and the evaluations run on the last level only."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from stridelab.config import override
from stridelab.envs import make_env
from stridelab.errors import ConfigError
from stridelab.eval.grid import at_course_figures, eval_env_cfg
from stridelab.mdp.curriculum import course_levels, update_course_levels
from stridelab.sim.terrain import TerrainConfig, build_terrain
from stridelab.sim.terrain.courses import course_config, course_plan, final_level
from stridelab.tasks import make_env_cfg
from stridelab.tasks.courses import LEVELS


def _lane_y(level: int, lane: int = 0, lanes: int = 4, width: float = 2.0) -> float:
    """Centre of lane ``lane`` of level ``level`` [m]: levels lie side by side, level 0 first."""
    return (level * lanes + lane + 0.5) * width


def test_levels_ramp_each_figure_from_easy_to_etg_and_the_heightfield_follows():
    gallop = build_terrain(course_config("gallop", levels=6))
    gaps = [c.segments[0].gap for c in gallop.courses]
    assert gaps == pytest.approx([0.10, 0.20, 0.25, 0.35, 0.40, 0.50])  # 0.1 + 0.08 k, rounded to 5 cm samples
    assert gallop.course is gallop.courses[-1] and gallop.levels.tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1])
    depths = [0.05, 0.24, 0.43, 0.62, 0.81, 1.0]  # from EASY_PIT_DEPTH to pit_depth, linear
    assert [c.segments[0].depth for c in gallop.courses] == pytest.approx(depths)
    for level, course in enumerate(gallop.courses):  # the pits in the heightfield are each level's own gaps
        seg = course.segments[0]
        xs = seg.x0 + (np.arange(3) * (seg.gap + seg.land)) + seg.gap / 2  # the middle of the first three gaps
        np.testing.assert_allclose(gallop.height_at(xs, np.full(3, _lane_y(level))), -depths[level], atol=1e-6)
        strips = xs + seg.gap / 2 + seg.land / 2
        np.testing.assert_allclose(gallop.height_at(strips, np.full(3, _lane_y(level, lane=3))), 0.0, atol=1e-6)
        assert gallop.origins[level, 2, 1] == pytest.approx(_lane_y(level, lane=2))
    rows, lanes = gallop.tile_index(np.array([3.0, 3.0, -1.0]), np.array([_lane_y(0, 3), _lane_y(5, 1), 1.0]))
    assert rows.tolist() == [0, 5, -1] and lanes.tolist() == [3, 1, -1]
    beams = build_terrain(course_config("balancebeam", levels=6))
    assert [round(c.segments[0].width, 3) for c in beams.courses] == [0.60, 0.49, 0.38, 0.27, 0.16, 0.05]
    widths = sorted({round(2 * b.size[1], 3) for b in beams.boxes})
    assert widths == [0.05, 0.16, 0.27, 0.38, 0.49, 0.60]  # one beam box per lane, at its level's width
    cave = build_terrain(course_config("cave", levels=6))
    mid = (cave.course.segments[0].x0 + cave.course.segments[0].x1) / 2
    ceilings = cave.ceiling_at(np.full(6, mid), np.array([_lane_y(k) for k in range(6)]))
    np.testing.assert_allclose(ceilings, [0.50, 0.436, 0.372, 0.308, 0.244, 0.18], atol=1e-9)
    high = build_terrain(course_config("highstair", levels=6))
    assert [round(c.segments[0].riser, 3) for c in high.courses] == [0.05, 0.065, 0.08, 0.1, 0.115, 0.13]
    seg = high.courses[0].segments[0]
    x11 = np.full(2, seg.x0 + 10.5 * seg.tread)  # the 11th tread: 11 risers up, each level its own height
    np.testing.assert_allclose(high.deck(np.array([0, 5]), x11), [11 * 0.05, 11 * 0.13], atol=1e-9)


def test_update_course_levels_moves_up_on_crossing_and_down_on_a_short_walk():
    rows = np.array([0, 2, 2, 2, 5, 0])
    walked = np.array([8.0, 8.0, 1.0, 5.0, 8.0, 0.0])
    distance = np.full(6, 8.0)
    required = np.array([10.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    # crossed: up (the top stays at the top); 1 m of 8: down; 5 m (over half): stays; row 0 never goes below 0
    assert update_course_levels(rows, walked, distance, required, 6).tolist() == [1, 3, 1, 2, 5, 0]
    # a standing command asks for nothing: no demotion
    assert update_course_levels(rows[2:3], walked[2:3], distance[2:3], np.zeros(1), 6).tolist() == [2]
    # a slow command (5 m of the 8 m course): walking 90 % of it promotes; 4 m asked (half the course) too; 3.9 m
    # asked is too little of the course to show it crossed the obstacles; 80 % of 5 m stays
    asked, went = np.array([5.0, 4.0, 3.9, 5.0]), np.array([4.5, 3.6, 3.9, 4.0])
    assert update_course_levels(np.full(4, 2), went, np.full(4, 8.0), asked, 6).tolist() == [3, 3, 2, 2]


def test_the_task_trains_on_levels_and_evaluates_on_etg_figures():
    cfg = make_env_cfg("quadruped-gallop")
    assert cfg.terrain.num_rows == LEVELS and cfg.curriculum["course_levels"].params == {"max_init_level": 2}
    final = at_course_figures(cfg)
    assert final.terrain.num_rows == 1 and "course_levels" not in final.curriculum
    assert course_plan(final.terrain).segments[0].gap == pytest.approx(0.5)
    assert final_level(final.terrain) is final.terrain  # one level: unchanged
    recorded = eval_env_cfg(cfg, 4, 10.0, 0)  # what the evaluations, the videos and ES populations run on
    assert recorded.terrain == final.terrain and "course_levels" not in recorded.curriculum
    with pytest.raises(ConfigError, match="needs an obstacle course"):
        grid = TerrainConfig(num_rows=1, num_cols=1, border=1.0, types={"flat": 1.0})  # a small terrain grid
        make_env(override(replace(make_env_cfg("quadruped-rough", num_envs=2, num_threads=1), terrain=grid),
                          curriculum={"course_levels": {"func": "course_levels"}}))


def test_deck_finish_line_and_curriculum_follow_each_envs_level():
    cfg = override(make_env_cfg("quadruped-gallop"), num_envs=64, num_threads=1, seed=0)
    env = make_env(cfg)
    assert set(env.terrain_tiles.rows.tolist()) == {0, 1, 2}  # the task's start: levels 0-2
    env.close()
    env = make_env(override(cfg, num_envs=3, curriculum={"course_levels": {"params": {"max_init_level": 0}}}))
    env.set_commands(np.array([0.5, 0.0, 0.0]))
    env.reset_all()
    tiles = env.terrain_tiles
    assert tiles.rows.tolist() == [0, 0, 0]  # every env on the easiest level
    terrain = env.robot.terrain
    easy, hard = terrain.courses[0].segments[0], terrain.courses[-1].segments[0]
    x = hard.x0 + 0.25  # inside the first 0.5 m gap of the last level, on the first strip of level 0
    assert easy.x0 + easy.gap < x < easy.x0 + easy.gap + easy.land
    tiles.rows[:] = [0, LEVELS - 1, 0]
    b = env.robot.base_qpos_adr
    for i, (xi, yi) in enumerate([(x, _lane_y(0)), (x, _lane_y(LEVELS - 1, 1)), (1.0, _lane_y(0, 2))]):
        env.sim.qpos[i, b:b + 7] = [xi, yi, 0.3, 1.0, 0.0, 0.0, 0.0]
    env.sim.batch.forward(np.arange(3, dtype=np.int32))
    ks = [env.terminations.names.index(name) for name in ("base_below_deck", "feet_below_deck")]
    for _ in range(40):  # 0.8 s with the default pose held: the robot over the hard level's gap drops
        _, _, dones, _ = env.step(torch.zeros(3, env.num_actions))
        if dones.any():
            break
    flags = env.terminations.flags[ks[0]] | env.terminations.flags[ks[1]]  # the feet drop in first
    assert dones.tolist() == [False, True, False] and flags.tolist() == [False, True, False]
    # the finish line of each env's own level: level 0's lies before level 5's
    assert terrain.finish_x[0] < terrain.finish_x[-1]
    tiles.rows[:] = [0, LEVELS - 1, 2]
    x_between = (terrain.finish_x[0] + terrain.finish_x[-1]) / 2
    bases = SimpleNamespace(base_pos=np.array([[x_between, _lane_y(r, i), 0.3] for i, r in enumerate(tiles.rows)]))
    finished = env.terminations.terms[env.terminations.names.index("course_finished")](bases)
    assert finished.tolist() == [True, False, x_between >= terrain.finish_x[2]]
    # the curriculum: the env past its finish line goes up, one that stayed at its spawn point goes down
    term = course_levels(env)
    tiles.rows[:] = [1, 3, 2]
    tiles.spawn_xy[:, 0] = 1.0
    env.sim.qpos[:, b] = [terrain.finish_x[1] + 0.01, 1.0, 1.0 + 0.5 * 0.5 * env.cfg.episode_length_s]
    logged = term(np.arange(3))
    assert tiles.rows.tolist() == [2, 2, 2]  # up; down (walked nothing); stayed (walked half what was asked)
    assert logged == {"mean_level": pytest.approx(2.0), "at_course": 0.0}
