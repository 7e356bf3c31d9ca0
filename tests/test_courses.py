"""ETG-RL's obstacle courses: geometry (numpy heights and the compiled MuJoCo model agree with the configured
figures), robots standing on every start, lane seeds, the steering command, the finish line, the tasks,
the preview and the errors."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

import stridelab
from stridelab.app.cli import main
from stridelab.errors import ConfigError
from stridelab.mdp.commands import course_command
from stridelab.sim.terrain import TerrainConfig, build_terrain
from stridelab.sim.terrain.config import COURSES
from stridelab.sim.terrain.courses import course_config, course_plan
from stridelab.tasks.courses import LEVELS
from stridelab.sim.terrain.grid import GROUND_GROUP, OVERHEAD_GROUP

LANE_Y = 1.0  # centre of lane 0 (lanes are 2 m wide)
_DATA: dict = {}  # MjData per compiled model, for the rays


def one_level(course: str, **fields):
    """The course task on ETG-RL's figures alone (one level, no course curriculum), as an env."""
    from stridelab.config import override
    from stridelab.envs import make_env
    from stridelab.tasks.courses import course_task

    return make_env(override(course_task(course, levels=1), **fields))


@pytest.fixture(scope="module")
def course_envs():
    """One small env per course task (4 envs, one per lane), built once."""
    envs = {c: one_level(c, num_envs=4, num_threads=1, seed=0) for c in COURSES}
    yield envs
    for env in envs.values():
        env.close()


def _ray(env, x, y, z, up=False, groups=(GROUND_GROUP,)):
    """Height where a vertical ray from (x, y, z) first hits terrain geoms of ``groups`` in the compiled
    model [m]; None if it misses."""
    model = env.robot.model
    data = _DATA.get(id(model))
    if data is None:
        data = _DATA[id(model)] = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
    mask = np.array([g in groups for g in range(6)], dtype=np.uint8)
    direction = np.array([0.0, 0.0, 1.0 if up else -1.0])
    dist = mujoco.mj_ray(model, data, np.array([x, y, z]), direction, mask, 1, -1, np.zeros(1, np.int32))
    return None if dist < 0 else z + direction[2] * dist


def _tread_heights(env, x0, tread, n, y=LANE_Y):
    """Heights at the centres of ``n`` treads from ``x0``: (height_at, MuJoCo ray). Shapes: (n,)."""
    xs = x0 + (np.arange(n) + 0.5) * tread
    lookup = env.robot.terrain.height_at(xs, np.full(n, y))
    rays = np.array([_ray(env, x, y, 5.0) for x in xs])
    return lookup, rays


@pytest.mark.parametrize("course,riser,tread", [("stairstair", 0.08, 0.25), ("highstair", 0.13, 0.40)])
def test_stair_risers_and_treads_are_the_configured_figures(course_envs, course, riser, tread):
    env = course_envs[course]
    plan = env.robot.terrain.course
    flights = [s for s in plan.segments if s.kind.startswith("stairs")]
    assert flights and all(s.riser == pytest.approx(riser) and s.tread == pytest.approx(tread) for s in flights)
    for seg in flights:
        n = round((seg.x1 - seg.x0) / tread)
        lookup, rays = _tread_heights(env, seg.x0, tread, n)
        np.testing.assert_allclose(rays, lookup, atol=1e-4)  # the compiled heightfield is the numpy one
        sign = 1.0 if seg.kind == "stairs_up" else -1.0
        first = seg.z0 + riser if sign > 0 else seg.z0  # up: the first riser at x0; down: the first tread at z0
        np.testing.assert_allclose(lookup, first + sign * riser * np.arange(n), atol=1e-6)
        np.testing.assert_allclose(np.diff(rays), sign * riser, atol=1e-4)
    if course == "stairstair":  # five risers up, five down, twice
        assert [s.kind for s in flights] == ["stairs_up", "stairs_down"] * 2
        assert all(round((s.x1 - s.x0) / tread) == 5 for s in flights)
    else:  # one flight of 20 risers, 2.6 m up, and the finish line on its top
        assert len(flights) == 1 and round((flights[0].x1 - flights[0].x0) / tread) == 20
        assert _ray(env, plan.finish_x, LANE_Y, 5.0) == pytest.approx(2.6, abs=1e-4)


def test_slopes_climb_one_flight_at_etg_angle(course_envs):
    env = course_envs["slopeslope"]
    slopes = [s for s in env.robot.terrain.course.segments if s.kind.startswith("slope")]
    assert len(slopes) == 4
    for s in slopes:
        assert abs(s.z1 - s.z0) == pytest.approx(0.40)  # a flight's height: every cycle returns to 0
        angle = np.degrees(np.arctan2(0.40, s.x1 - s.x0))
        assert angle == pytest.approx(19.5, abs=0.5)  # ETG-RL's 0.34 rad, run rounded to samples
        xm = (s.x0 + s.x1) / 2
        assert _ray(env, xm, LANE_Y, 5.0) == pytest.approx(0.2, abs=0.01)  # half way up (or down)


def test_gallop_gaps_are_half_a_metre(course_envs):
    env = course_envs["gallop"]
    (seg,) = env.robot.terrain.course.segments
    assert (seg.gap, seg.land) == pytest.approx((0.5, 0.5))
    xs = np.arange(seg.x0 - 0.5, seg.x1 + 0.5, 0.005)
    pit = env.robot.terrain.height_at(xs, np.full(len(xs), LANE_Y)) < -0.5  # below half the pit depth
    edges = np.flatnonzero(np.diff(pit.astype(int)))
    widths = (edges[1::2] - edges[0::2]) * 0.005
    assert len(widths) == 8 and np.allclose(widths, 0.5, atol=0.006)
    # the compiled model: pit floors 1 m down in the gaps, ground on the strips; a ray scan of the first gap
    for k in range(8):
        assert _ray(env, seg.x0 + k + 0.25, LANE_Y, 2.0) == pytest.approx(-1.0, abs=1e-4)
        assert _ray(env, seg.x0 + k + 0.75, LANE_Y, 2.0) == pytest.approx(0.0, abs=1e-4)
    scan = np.arange(seg.x0 - 0.2, seg.x0 + 0.7, 0.01)
    deep = np.array([_ray(env, x, LANE_Y, 2.0) < -0.5 for x in scan])
    assert deep.sum() * 0.01 == pytest.approx(0.5, abs=0.02)


def test_balance_beam_is_5cm_wide_at_ground_level(course_envs):
    env = course_envs["balancebeam"]
    terrain, model = env.robot.terrain, env.robot.model
    (seg,) = terrain.course.segments
    assert seg.x1 - seg.x0 == pytest.approx(6.0)  # ETG-RL's 6 m
    beams = [i for i in range(model.ngeom) if model.geom(i).name.startswith("terrain_box")]
    assert len(beams) == 4  # one per lane
    np.testing.assert_allclose(2 * model.geom_size[beams, 1], 0.05)
    np.testing.assert_allclose(model.geom_pos[beams, 2] + model.geom_size[beams, 2], 0.0)  # top at ground level
    x = (seg.x0 + seg.x1) / 2
    for y, top in ((LANE_Y, 0.0), (LANE_Y + 0.02, 0.0), (LANE_Y - 0.02, 0.0), (LANE_Y + 0.03, -1.0),
                   (LANE_Y - 0.03, -1.0)):  # the beam's edges at +-2.5 cm
        assert _ray(env, x, y, 2.0) == pytest.approx(top, abs=1e-4), y
        assert terrain.height_at(x, y) == pytest.approx(top, abs=1e-6)
    assert _ray(env, seg.x0 - 0.5, LANE_Y + 0.5, 2.0) == pytest.approx(0.0, abs=1e-4)  # solid ground before it


def test_cave_ceiling_clearance(course_envs):
    env = course_envs["cave"]
    (seg,) = env.robot.terrain.course.segments
    assert seg.clearance == pytest.approx(0.18)  # ETG-RL's 18 cm
    both = (GROUND_GROUP, OVERHEAD_GROUP)
    for x in (seg.x0 + 0.1, (seg.x0 + seg.x1) / 2, seg.x1 - 0.1):
        ground = _ray(env, x, LANE_Y, 0.1)  # below the ceiling, ground group only
        ceiling = _ray(env, x, LANE_Y + 0.3, 0.01, up=True, groups=both)
        assert ground == pytest.approx(0.0, abs=1e-6) and ceiling - ground == pytest.approx(0.18, abs=1e-6)
        # the height scan's ground group never sees the ceiling
        assert _ray(env, x, LANE_Y, 5.0) == pytest.approx(0.0, abs=1e-6)
    for x in (env.robot.terrain.course.spawn_x, env.robot.terrain.course.finish_x):  # open at the start and end
        assert _ray(env, x, LANE_Y, 0.01, up=True, groups=both) is None


@pytest.mark.parametrize("course", COURSES)
def test_robots_stand_on_every_course_start(course_envs, course):
    env = course_envs[course]
    tiles, origins = env.terrain_tiles, env.robot.terrain.origins
    assert sorted(tiles.cols) == [0, 1, 2, 3]  # one env per lane
    start = origins[0, tiles.cols]
    np.testing.assert_allclose(start[:, 0], 1.0)
    np.testing.assert_allclose(start[:, 1], (tiles.cols + 0.5) * 2.0)
    b = env.robot.base_qpos_adr
    assert np.abs(env.sim.qpos[:, b:b + 2] - start[:, :2]).max() <= 0.1 + 1e-9
    for _ in range(50):  # 1 s in the default pose
        _, _, dones, _ = env.step(torch.zeros(4, 12))
        assert not dones.any()
    s = env.state
    height = s.base_pos[:, 2] - start[:, 2]
    assert np.all((height > 0.24) & (height < 0.31)), height  # resting at ~0.27 m, neither sunk nor floating
    assert s.foot_contact.all() and not s.terminate_contact.any()
    assert np.all(-s.projected_gravity[:, 2] > 0.99)  # level
    assert np.abs(s.base_pos[:, :2] - start[:, :2]).max() < 0.25


def test_lanes_have_their_own_seeds():
    def lanes(seed, num):
        t = build_terrain(course_config("stairstair", lanes=num, seed=seed, rough_amplitude=0.02))
        n, b = t.cfg.tile_samples, t.cfg.border_samples
        return [np.asarray(t.heights[b + j * n:b + (j + 1) * n]) for j in range(num)]

    a, again, other, wide = lanes(3, 2), lanes(3, 2), lanes(4, 2), lanes(3, 4)
    assert np.array_equal(a[0], again[0]) and np.array_equal(a[1], again[1])  # deterministic in the seed
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[0], other[0])
    assert np.array_equal(a[1], wide[1])  # a lane's ground does not depend on how many lanes there are
    exact = build_terrain(course_config("stairstair", lanes=2))  # ETG-RL's exact course: no noise
    n, b = exact.cfg.tile_samples, exact.cfg.border_samples
    assert 0 < np.abs(a[0] - exact.heights[b:b + n]).max() <= 0.02 + 1e-6


def test_course_command_steers_to_the_lane():
    env = one_level("stairstair", num_envs=4, num_threads=1, seed=0)
    term = env.commands.velocity
    assert isinstance(term, course_command)
    # hand-computed: w = clip(1.0 * wrap(-atan(1.0 * dy) - yaw), -1, 1)
    yaw = np.array([0.0, 0.3, 0.0, 3.0])
    dy = np.array([0.5, 0.0, -2.0, 0.0])
    expected = [-np.arctan(0.5), -0.3, 1.0, -1.0]  # atan(2) = 1.107 and -3 rad are clipped to the +-1 rad/s range
    np.testing.assert_allclose(term.steering(yaw, LANE_Y + dy, np.full(4, LANE_Y)), expected, atol=1e-12)
    # in the env: a base put 0.5 m left of its lane, facing +x, is turned right
    b = env.robot.base_qpos_adr
    lane_y = env.robot.terrain.origins[0, env.terrain_tiles.cols[0], 1]
    env.sim.qpos[0, b + 1] = lane_y + 0.5
    env.sim.qpos[0, b + 3:b + 7] = [1.0, 0.0, 0.0, 0.0]
    term.command[0, :2] = [0.6, 0.0]
    term._steer(np.array([0]))
    assert term.command[0, 2] == pytest.approx(-np.arctan(0.5))
    assert (term.command[:, 1] == 0).all() and (term.command[:, 0] >= 0).all()  # forward only
    term.set_fixed(np.array([0.5, 0.0, 0.3]))  # a fixed command (the tracking grid, play) is held as given
    term.step(env.dt)
    np.testing.assert_array_equal(term.command, np.tile([0.5, 0.0, 0.3], (4, 1)))


def test_crossing_the_finish_line_is_a_time_out():
    env = one_level("gallop", num_envs=2, num_threads=1, seed=0)
    course = env.robot.terrain.course
    b = env.robot.base_qpos_adr
    env.sim.qpos[0, b] = course.finish_x + 0.05  # env 0 is past the finish line
    env.sim.batch.forward(np.array([0], dtype=np.int32))
    _, _, dones, extras = env.step(torch.zeros(2, 12))
    assert dones.tolist() == [True, False] and extras["time_outs"].tolist() == [True, False]
    assert abs(env.sim.qpos[0, b] - course.spawn_x) <= 0.1 + 1e-9  # respawned at the start
    assert extras["log"]["Episode_Termination/course_finished"] == 1.0


def test_course_task_terms():
    from stridelab.app.cli import parse
    from stridelab.config import EnvConfig, from_dict, to_dict
    from stridelab.tasks import make_env_cfg

    cfg = make_env_cfg("quadruped-cave")
    assert cfg.terrain.course == "cave" and cfg.terrain.num_rows == LEVELS and set(cfg.curriculum) == {"course_levels"}
    assert cfg.terrain.ceiling_clearance == (0.50, 0.18)  # from a ceiling the standing trunk clears by 11 cm to ETG-RL's
    assert cfg.commands["velocity"].func == "course_command"
    assert cfg.terminations["course_finished"].time_out
    assert set(cfg.observations) == {"policy", "privileged", "extero"}
    assert from_dict(EnvConfig, to_dict(cfg)) == cfg  # YAML, checkpoints
    parsed = parse(["train", "quadruped-balancebeam", "--env.terrain.beam-width", "0.1", "0.1"]).options
    assert parsed.env.terrain.course == "balancebeam" and parsed.env.terrain.beam_width == (0.1, 0.1)


def test_list_shows_every_course(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for course in COURSES:
        assert f"quadruped-{course}" in out


def test_terrain_cli_previews_a_course(tmp_path, capsys):  # the grid's preview: tests/test_rough.py
    out = tmp_path / "course.png"
    assert main(["terrain", "--preview", str(out), "--task", "quadruped-stairstair", "--dpi", "30"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "up 5 x 8 cm, down 5 x 8 cm, 25 cm treads" in text
    assert "7.50 m from spawn to finish line" in text and "4 lanes of 2 m" in text


def test_unknown_course_and_task_names_are_one_sentence(capsys):
    with pytest.raises(ConfigError, match="unknown course 'stairstiar'.*did you mean 'stairstair'"):
        TerrainConfig(course="stairstiar")
    with pytest.raises(ConfigError, match="did you mean 'quadruped-gallop'"):
        stridelab.make("quadruped-galop")
    with pytest.raises(ConfigError, match="num_rows = 25 .* give 1 .* to 20"):
        TerrainConfig(course="cave", num_rows=25)
    with pytest.raises(ConfigError, match="course 'slopeslope' needs a slope between 0 and 60 degrees"):
        TerrainConfig(course="slopeslope", num_rows=1, slope_deg=(0.0, 20.0))  # its level is levels[0] = 0
    assert TerrainConfig(course="gallop", num_rows=1, slope_deg=(0.0, 20.0)).course == "gallop"  # unused figure
    assert main(["terrain", "--preview", "x.png", "--task", "quadruped-highstairs"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'quadruped-highstairs'" in err and "did you mean 'quadruped-highstair'" in err
    assert main(["train", "quadruped-cav", "--max-iterations", "0"]) == 2
    assert "did you mean 'quadruped-cave'" in capsys.readouterr().err


def test_course_plan_is_figure_driven():
    plan = course_plan(course_config("gallop", gap_width=0.3, course_length=4.0))
    (seg,) = plan.segments
    assert seg.gap == pytest.approx(0.3) and round((seg.x1 - seg.x0) / 0.8) == 5  # 4 m / (0.3 + 0.5) m
    assert plan.finish_x == pytest.approx(seg.x1 + 0.5) and plan.distance == pytest.approx(seg.x1 - 0.5)
