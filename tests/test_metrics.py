"""GridMetrics on hand-made trajectories with known errors: tracking errors, falls, power, foot slip, the
verdict, and envs that fall before anything was measured."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stridelab.eval.metrics import UNITS, GridMetrics, WalkCriteria, command_grid, walks

GRID = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.5]])  # env 0, 1: forward 1 m/s; env 2, 3: turn 0.5 rad/s
STEPS, SETTLE = 10, 2  # steps 2..9 are measured

# per env: base linear and angular velocity, torques and joint velocities (2 joints), contacts and foot
# velocities (2 feet), each constant over the trajectory
LIN = np.array([[0.9, 0.0, 0.7],    # error 0.1 (z is ignored)
                [1.0, 0.3, 0.0],    # error 0.3
                [0.1, 0.0, 0.0],    # error 0.1
                [0.0, -0.3, 0.0]])  # error 0.3
ANG = np.array([[0.3, 0.3, 0.0],    # yaw error 0 (roll/pitch rates are ignored)
                [0.0, 0.0, 0.1],    # 0.1
                [0.0, 0.0, 0.3],    # 0.2
                [0.0, 0.0, 0.5]])   # 0
TORQUE = np.array([[2.0, -1.0], [1.0, 1.0], [5.0, 5.0], [10.0, 0.0]])
JOINT_VEL = np.array([[0.5, 2.0], [1.0, -1.0], [0.0, 0.0], [1.0, 3.0]])  # power |tau qd|: 3, 2, 0, 10
CONTACT = np.array([[True, True], [True, False], [False, False], [True, True]])
FOOT_VEL = np.array([[[0.03, 0.04, 5.0], [0.0, 0.0, 0.0]],   # slip (0.05 + 0) / 2 feet in contact = 0.025
                     [[0.06, 0.08, 0.0], [9.0, 9.0, 9.0]],   # 0.1 (the foot in the air does not slip)
                     [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]],     # no foot in contact: 0
                     [[0.3, 0.4, 0.0], [0.0, 0.0, 0.0]]])    # 0.25


def feed(metrics: GridMetrics, fall_step: dict[int, int], ids=None) -> None:
    """Run the hand-made trajectory; env ``i`` falls at step ``fall_step[i]``, after which it sends garbage
    (a reset env walking somewhere else) that must not count."""
    ids = np.arange(len(LIN)) if ids is None else np.asarray(ids)
    for t in range(STEPS):
        fell = np.array([fall_step.get(int(i)) == t for i in ids])
        after = np.array([fall_step.get(int(i), STEPS) <= t for i in ids])
        lin, ang = LIN[ids].copy(), ANG[ids].copy()
        lin[after] = 50.0
        ang[after] = -50.0
        metrics.add(ids, fell, t >= SETTLE, lin, ang, TORQUE[ids] * np.where(after, 100.0, 1.0)[:, None],
                    JOINT_VEL[ids], CONTACT[ids], FOOT_VEL[ids])


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def test_known_errors_falls_power_slip_and_verdict():
    m = GridMetrics(GRID, per_command=2)
    np.testing.assert_array_equal(m.commands, GRID[[0, 0, 1, 1]])
    feed(m, fall_step={3: 6})  # env 3 falls at step 6: measured on steps 2..5 only
    np.testing.assert_array_equal(m.sums["count"], [8, 8, 8, 4])
    r = m.result()
    assert r["lin_vel_error"] == approx(0.2)
    assert r["yaw_rate_error"] == approx(0.075)  # rows: (0 + 0.1) / 2 and (0.2 + 0) / 2
    assert r["fall_rate"] == 0.25
    assert r["power"] == approx((3.0 + 2.0 + 0.0 + 10.0) / 4)
    assert r["foot_slip"] == approx((0.025 + 0.1 + 0.0 + 0.25) / 4)
    assert r["walks"] is False  # 0.2 m/s > 0.15 m/s and 25 % falls > 2 %
    row0, row1 = r["rows"]
    assert (row0["vx"], row0["vy"], row0["yaw_rate"]) == (1.0, 0.0, 0.0)
    assert row0["lin_vel_error"] == approx(0.2) and row0["yaw_rate_error"] == approx(0.05)
    assert row0["fall_rate"] == 0.0 and row0["power"] == approx(2.5)
    assert (row1["vx"], row1["vy"], row1["yaw_rate"]) == (0.0, 0.0, 0.5)
    assert row1["lin_vel_error"] == approx(0.2) and row1["yaw_rate_error"] == approx(0.1)
    assert row1["fall_rate"] == 0.5 and row1["power"] == approx(5.0)
    assert r["criteria"] == WalkCriteria().as_dict()
    assert set(r["units"]) == set(UNITS) == {"lin_vel_error", "yaw_rate_error", "fall_rate", "power", "foot_slip"}
    # the verdict at other thresholds: all three must hold
    eps = 1e-9
    assert m.result(WalkCriteria(0.2 + eps, 0.075 + eps, 0.25))["walks"] is True
    assert m.result(WalkCriteria(0.2 - eps, 0.075 + eps, 0.25))["walks"] is False
    assert m.result(WalkCriteria(0.2 + eps, 0.075 - eps, 0.25))["walks"] is False
    assert m.result(WalkCriteria(0.2 + eps, 0.075 + eps, 0.25 - eps))["walks"] is False


def test_settling_steps_do_not_count_and_falls_during_them_do():
    m = GridMetrics(GRID, per_command=2)
    for t in range(SETTLE):  # wild values while settling
        m.add(np.arange(4), np.array([False, False, t == 1, False]), False, LIN * 100, ANG * 100, TORQUE,
              JOINT_VEL, CONTACT, FOOT_VEL)
    np.testing.assert_array_equal(m.sums["count"], 0)
    np.testing.assert_array_equal(m.alive, [True, True, False, True])


def test_an_env_that_falls_before_any_measured_step_is_nan_and_a_fall():
    m = GridMetrics(GRID, per_command=2)
    feed(m, fall_step={1: 1})  # env 1 falls while settling
    assert m.sums["count"][1] == 0
    r = m.result()
    row0, row1 = r["rows"]
    # env 1 has no error (NaN), so row 0 is env 0 alone; the grid mean is over rows
    assert row0["lin_vel_error"] == approx(0.1) and row0["yaw_rate_error"] == approx(0.0)
    assert row0["fall_rate"] == 0.5 and row0["power"] == approx(3.0)
    assert r["lin_vel_error"] == approx((0.1 + 0.2) / 2)
    assert r["fall_rate"] == 0.25
    assert r["power"] == approx((3.0 + 0.0 + 10.0) / 3)
    assert r["foot_slip"] == approx((0.025 + 0.0 + 0.25) / 3)


def test_a_command_whose_envs_all_fell_early_is_nan_and_never_walks():
    m = GridMetrics(GRID, per_command=2)
    feed(m, fall_step={2: 0, 3: 1})
    r = m.result()
    assert math.isnan(r["rows"][1]["lin_vel_error"]) and math.isnan(r["rows"][1]["power"])
    assert r["rows"][1]["fall_rate"] == 1.0
    assert r["lin_vel_error"] == approx(0.2)  # the other row
    assert r["fall_rate"] == 0.5
    lenient = WalkCriteria(10.0, 10.0, 1.0)
    assert r["walks"] is False and m.result(lenient)["walks"] is True
    # nothing measured at all: NaN everywhere, never a pass however lenient the criteria
    m = GridMetrics(GRID, per_command=2)
    feed(m, fall_step={0: 0, 1: 0, 2: 1, 3: 1})
    r = m.result(lenient)
    assert all(math.isnan(r[k]) for k in ("lin_vel_error", "yaw_rate_error", "power", "foot_slip"))
    assert r["fall_rate"] == 1.0 and r["walks"] is False
    assert walks({"lin_vel_error": float("nan"), "yaw_rate_error": 0.0, "fall_rate": 0.0}) is False


def test_feeding_one_env_at_a_time_gives_the_same_result():
    """The sim-to-sim report feeds one deploy simulation at a time."""
    together, apart = GridMetrics(GRID, per_command=2), GridMetrics(GRID, per_command=2)
    feed(together, fall_step={3: 6})
    for i in range(4):
        feed(apart, fall_step={3: 6}, ids=[i])
    a, b = together.result(), apart.result()
    for key in ("lin_vel_error", "yaw_rate_error", "fall_rate", "power", "foot_slip", "walks"):
        assert a[key] == approx(b[key])


def test_command_grid():
    g = command_grid()
    assert g.shape == (45, 3)
    assert len(np.unique(g, axis=0)) == 45
    assert [1.0, 0.0, 0.0] in g.tolist() and [0.0, 0.0, 0.0] in g.tolist()
    np.testing.assert_array_equal(np.unique(g[:, 0]), [-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(np.unique(g[:, 1]), [-0.5, 0.0, 0.5])
    np.testing.assert_array_equal(np.unique(g[:, 2]), [-1.0, 0.0, 1.0])


def test_command_grid_spans_the_tasks_own_command_ranges():
    from stridelab.eval.metrics import command_ranges

    from stridelab.tasks import make_env_cfg
    biped = command_ranges(make_env_cfg("biped-flat"))
    assert biped == {"lin_vel_x": (0.0, 1.0), "lin_vel_y": (-0.3, 0.3), "ang_vel_yaw": (-0.5, 0.5)}
    g = command_grid(biped)
    assert g.shape == (45, 3) and g[:, 0].min() == 0.0  # no backward commands for a forward-walking task
    np.testing.assert_array_equal(np.unique(g[:, 0]), [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(np.unique(g[:, 1]), [-0.3, 0.0, 0.3])
    # the quadruped's ranges give the quadruped's grid; a degenerate range drops duplicates
    quad = command_ranges(make_env_cfg("quadruped-flat"))
    np.testing.assert_array_equal(command_grid(quad), command_grid())
    assert command_grid({"lin_vel_x": (0.5, 0.5), "lin_vel_y": (0.0, 0.0), "ang_vel_yaw": (0.0, 0.0)}).tolist() \
        == [[0.5, 0.0, 0.0]]
