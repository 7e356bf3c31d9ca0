"""Episodes end where a course is lost: a base that sinks below the course's deck (into a gap of the gallop course,
off the balance beam into its pit) ends the episode as a fall (``base_below_deck``), and a robot on the deck or
the ground is left alone."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from stridelab.envs import make_env
from stridelab.errors import ConfigError
from stridelab.mdp.terminations import base_below_deck, feet_below_deck
from stridelab.sim.terrain import TerrainConfig, build_terrain
from stridelab.sim.terrain.courses import course_config, course_deck, course_profile
from stridelab.config import override
from stridelab.tasks import make_env_cfg
from stridelab.tasks.courses import course_task

LANE_Y = 1.0  # centre of lane 0 (lanes are 2 m wide)


def _term(terrain, **params) -> base_below_deck:
    return base_below_deck(SimpleNamespace(robot=SimpleNamespace(terrain=terrain)), **params)


def _state(*xz: tuple[float, float]) -> SimpleNamespace:
    """Bases at (x, LANE_Y, z) [m]."""
    return SimpleNamespace(base_pos=np.array([[x, LANE_Y, z] for x, z in xz]))


def test_the_deck_bridges_gaps_and_the_beam_pit_and_follows_the_ground_elsewhere():
    gallop = build_terrain(course_config("gallop")).course
    (seg,) = gallop.segments
    xs = np.array([seg.x0 + 0.25, seg.x0 + 0.75, seg.x0 + 3.25, seg.x0 - 0.5, seg.x1 + 0.5])  # gap, strip, gap, before, after
    np.testing.assert_allclose(course_profile(gallop, xs, 1.0)[0], [-1.0, 0.0, -1.0, 0.0, 0.0])  # pits 1 m deep
    np.testing.assert_allclose(course_deck(gallop, xs), 0.0)  # the deck spans them
    beam = build_terrain(course_config("balancebeam")).course
    np.testing.assert_allclose(course_deck(beam, np.array([beam.segments[0].x0 + 3.0])), 0.0)  # the beam's top
    high = build_terrain(course_config("highstair")).course
    xs = np.linspace(0.0, high.length, 301)
    np.testing.assert_allclose(course_deck(high, xs), course_profile(high, xs, 1.0)[0])  # no pits: the ground
    assert course_deck(high, np.array([high.finish_x]))[0] == pytest.approx(2.6)


def test_base_below_deck_flags_exactly_the_bases_below_the_deck():
    gallop = build_terrain(course_config("gallop"))
    x0 = gallop.course.segments[0].x0
    gap, strip = x0 + 2.25, x0 + 2.75
    term = _term(gallop)  # depth 0.1 m
    s = _state((gap, -0.15), (gap, -0.05), (gap, 0.27), (strip, 0.27), (1.0, 0.27), (gap, -0.9))
    assert term(s).tolist() == [True, False, False, False, False, True]  # over a gap at walking height: not lost
    assert _term(gallop, depth=0.0)(s).tolist() == [True, True, False, False, False, True]
    high = build_terrain(course_config("highstair"))
    seg = high.course.segments[0]
    x = seg.x0 + 10.5 * seg.tread  # on the 11th tread, 1.43 m up
    deck = 11 * seg.riser
    assert _term(high)(_state((x, deck + 0.27), (x, deck + 0.05), (x, deck - 0.2))).tolist() == [False, False, True]


def test_base_below_deck_errors_are_one_sentence():
    with pytest.raises(ConfigError, match=r"depth = -0\.1 .*e\.g\. 0\.1\.$"):
        _term(build_terrain(course_config("gallop")), depth=-0.1)
    grid = build_terrain(TerrainConfig(num_rows=1, num_cols=1, border=1.0, types={"gaps": 1.0}))
    with pytest.raises(ConfigError, match="needs an obstacle course"):
        _term(grid)
    with pytest.raises(ConfigError, match="needs terrain"):
        _term(None)


def _place(env, xyz: dict[int, tuple[float, float, float]]) -> None:
    """Put env i's base at (x, y, z) [m], level and facing +x, at rest."""
    b = env.robot.base_qpos_adr
    for i, pos in xyz.items():
        env.sim.qpos[i, b:b + 7] = [*pos, 1.0, 0.0, 0.0, 0.0]
    env.sim.batch.forward(np.arange(env.num_envs, dtype=np.int32))


def _run(env, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Step with the default pose held until an env ends (or ``steps``). Returns the first ending's dones,
    time-outs, the flags of the two pit terms (base_below_deck or feet_below_deck: the feet drop first) and
    the envs they ended as logged (all zero when nothing ended)."""
    names = ("base_below_deck", "feet_below_deck")
    ks = [env.terminations.names.index(name) for name in names]
    for _ in range(steps):
        _, _, dones, extras = env.step(torch.zeros(env.num_envs, env.num_actions))
        if dones.any():
            flags = np.logical_or.reduce([env.terminations.flags[k] for k in ks])
            return (dones.numpy(), extras["time_outs"].numpy(), flags,
                    sum(extras["log"][f"Episode_Termination/{name}"] for name in names))
    return np.zeros(env.num_envs, bool), np.zeros(env.num_envs, bool), np.zeros(env.num_envs, bool), 0.0


def test_a_robot_dropped_into_a_gap_is_a_fall():
    env = make_env(override(course_task("gallop", levels=1), num_envs=2, num_threads=1, seed=0))  # ETG-RL's gaps
    assert env.cfg.terminations["base_below_deck"].params == {"depth": 0.1}
    assert not env.cfg.terminations["base_below_deck"].time_out
    x0 = env.robot.terrain.course.segments[0].x0
    _place(env, {0: (x0 + 2.25, LANE_Y, 0.3), 1: (1.0, 3.0, 0.3)})  # env 0 over the third gap, env 1 at its start
    dones, time_outs, flags, logged = _run(env, 40)  # 0.8 s: a fall of ~0.4 m takes 0.3 s
    assert dones.tolist() == [True, False] and not time_outs.any()  # a failure: eval counts it as a fall
    assert flags.tolist() == [True, False] and logged == 1.0
    assert env.last_state.foot_pos[0, :, 2].min() < -0.02  # a foot went into the gap first


def test_a_robot_off_the_beam_is_a_fall_and_one_on_it_is_not():
    """On a 40 cm beam a robot in the default pose stands; one beside the beam drops into the pit."""
    cfg = make_env_cfg("quadruped-balancebeam", num_envs=3, num_threads=1, seed=0)
    env = make_env(replace(cfg, terrain=course_config("balancebeam", beam_width=0.4)))
    seg = env.robot.terrain.course.segments[0]
    mid = (seg.x0 + seg.x1) / 2
    _place(env, {0: (mid, LANE_Y, 0.3), 1: (mid, LANE_Y + 0.6, 0.3), 2: (1.0, 5.0, 0.3)})  # on, beside, start
    dones, time_outs, flags, logged = _run(env, 40)
    assert dones.tolist() == [False, True, False] and not time_outs.any()
    assert flags.tolist() == [False, True, False] and logged == 1.0
    for _ in range(10):  # the robot on the beam and the one on the ground keep standing
        _, _, dones, _ = env.step(torch.zeros(3, env.num_actions))
        assert not dones[[0, 2]].any()
    assert env.last_state.base_pos[0, 2] > 0.2


def _feet_term(terrain, **params) -> feet_below_deck:
    return feet_below_deck(SimpleNamespace(robot=SimpleNamespace(terrain=terrain)), **params)


def _feet(*xz: tuple[float, float]) -> SimpleNamespace:
    """One robot per (x, z) pair, its four feet at (x, LANE_Y, z) [m]."""
    return SimpleNamespace(foot_pos=np.array([[[x, LANE_Y, z]] * 4 for x, z in xz]),
                           base_pos=np.array([[x, LANE_Y, 0.3] for x, _ in xz]))


def test_the_curriculum_deepens_the_beam_pit_with_its_level():
    cfg = course_config("balancebeam", levels=6)
    terrain = build_terrain(cfg)
    depths = [c.segments[0].depth for c in terrain.courses]
    assert depths[0] == pytest.approx(0.05) and depths[-1] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(depths, depths[1:]))
    for i, course in enumerate(terrain.courses):  # the beam's box reaches from the pit floor to the deck
        seg = course.segments[0]
        box = terrain.boxes[i * cfg.num_cols]
        assert box.pos[2] - box.size[2] == pytest.approx(-seg.depth) and box.pos[2] + box.size[2] == pytest.approx(0.0)
        mid = np.array([(seg.x0 + seg.x1) / 2])
        assert course_profile(course, mid, cfg.pit_depth)[0][0] == pytest.approx(-seg.depth)


def test_feet_below_deck_flags_a_foot_in_a_shallow_pit_and_not_one_on_a_stair_edge():
    beam = build_terrain(course_config("balancebeam", beam_width=0.3, pit_depth=0.05))  # the curriculum's level 0
    seg = beam.course.segments[0]
    mid = (seg.x0 + seg.x1) / 2
    s = _feet((mid, -0.03), (mid, 0.02), (1.0, 0.02), (mid, -0.015))  # in the pit, on the beam, at the start,
    assert _feet_term(beam)(s).tolist() == [True, False, False, False]  # a foot's centre 1.5 cm below the deck
    assert beam.over_pit(np.zeros(2, dtype=np.int64), np.array([mid, 1.0])).tolist() == [True, False]
    high = build_terrain(course_config("highstair"))
    stair = high.course.segments[0]
    edge = stair.x0 + 4 * stair.tread + 0.01  # just past the 5th riser: the heightfield's ramp is 6 cm lower
    deck = 5 * stair.riser
    assert _feet_term(high)(_feet((edge, deck - 0.05))).tolist() == [False]  # no pit on stairs
    gallop = build_terrain(course_config("gallop"))
    x0 = gallop.course.segments[0].x0
    assert _feet_term(gallop)(_feet((x0 + 2.25, -0.05), (x0 + 2.75, 0.02), (x0 + 2.25, 0.0))).tolist() == [
        True, False, False]  # in a gap, on a strip, over a gap at the deck's height (stepping across)
    with pytest.raises(ConfigError, match=r"depth = -1 .*e\.g\. 0\.02\.$"):
        _feet_term(gallop, depth=-1)


def test_a_foot_stepped_beside_the_beam_into_the_easy_pit_ends_the_episode():
    """Level 0's 5 cm pit does not sink the base 0.1 m (base_below_deck), but the feet that stand in it end the
    episode; a robot on the 30 cm beam stands."""
    cfg = make_env_cfg("quadruped-balancebeam", num_envs=2, num_threads=1, seed=0)
    env = make_env(replace(cfg, terrain=course_config("balancebeam", levels=1, beam_width=0.3, pit_depth=0.05)))
    assert env.cfg.terminations["feet_below_deck"].params == {"depth": 0.02}
    seg = env.robot.terrain.course.segments[0]
    mid = (seg.x0 + seg.x1) / 2
    _place(env, {0: (mid, LANE_Y, 0.3), 1: (mid, LANE_Y + 0.6, 0.3)})  # on the beam, beside it
    k = env.terminations.names.index("feet_below_deck")
    for _ in range(40):
        _, _, dones, extras = env.step(torch.zeros(2, env.num_actions))
        if dones.any():
            break
    assert dones.tolist() == [False, True] and not extras["time_outs"].any()
    assert env.terminations.flags[k].tolist() == [False, True]
    assert extras["log"]["Episode_Termination/feet_below_deck"] == 1.0
