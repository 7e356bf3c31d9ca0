"""Gait metrics on hand-made contact sequences with known duty factors, frequencies and phase lengths."""

from __future__ import annotations

import numpy as np
import pytest

from stridelab.eval.gait import GaitMetrics

DT = 0.02


def pattern(on: int, off: int, shift: int, steps: int) -> np.ndarray:
    period = on + off
    return ((np.arange(steps) + shift) % period) < on


def run(contacts: np.ndarray, zero: np.ndarray, measure_from: int = 0, slip: float = 0.0) -> GaitMetrics:
    """contacts: (steps, n, f) bool."""
    steps, n, f = contacts.shape
    g = GaitMetrics(n, f, DT)
    vel = np.zeros((n, f, 3))
    vel[..., 0] = slip
    for t in range(steps):
        g.add(np.full(n, t >= measure_from), contacts[t], vel, zero)
    return g


def test_trot_like_pattern_gives_exact_figures():
    steps = 400
    # env 0 walks: each foot 12 steps down, 8 up (duty 0.6, 2.5 Hz), the pairs half a period apart
    walk = np.stack([pattern(12, 8, s, steps) for s in (0, 10, 10, 0)], axis=1)
    contacts = np.stack([walk, np.ones_like(walk)], axis=1)  # env 1 stands still, all feet down
    g = run(contacts, zero=np.array([False, True]), slip=0.05)
    r = g.result(moving=np.array([True, False]), forward_1ms=np.array([True, False]), feet=("FL", "FR", "RL", "RR"),
                 feet_mirror_perm=(1, 0, 3, 2), front=np.array([True, True, False, False]))
    np.testing.assert_allclose(r["duty_factor"], 0.6, atol=0.005)
    np.testing.assert_allclose(r["step_frequency_hz"], 2.5, atol=0.02)
    np.testing.assert_allclose(r["stance_time_s"], 12 * DT, atol=1e-9)
    np.testing.assert_allclose(r["swing_time_s"], 8 * DT, atol=1e-9)
    assert r["left_right_asymmetry"] == pytest.approx(0.0, abs=0.01)
    assert r["step_frequency_hz_at_1ms"] == pytest.approx(2.5, abs=0.02)
    assert r["all_feet_down_at_zero_command"] == 1.0
    assert r["foot_slip"] == pytest.approx(0.05)
    assert r["natural"] and all(r["checks"].values())


def test_a_tapping_foot_is_caught():
    steps = 400
    feet = [pattern(12, 8, s, steps) for s in (0, 10, 10, 0)]
    feet[3] = pattern(2, 18, 0, steps)  # rear-right only taps the ground
    contacts = np.stack(feet, axis=1)[:, None]
    g = run(contacts, zero=np.array([False]))
    r = g.result(np.array([True]), np.array([True]), ("FL", "FR", "RL", "RR"), (1, 0, 3, 2),
                 np.array([True, True, False, False]))
    assert r["duty_factor"][3] == pytest.approx(0.1, abs=0.005)
    assert r["left_right_asymmetry"] == pytest.approx(abs(0.6 - 0.1) / 0.35, rel=0.02)
    assert not r["checks"]["duty_factor_spread"] and not r["checks"]["left_right_asymmetry"]
    assert not r["natural"]


def test_phases_before_the_first_boundary_or_measurement_do_not_count():
    steps = 100
    contacts = np.stack([pattern(30, 20, 0, steps)], axis=1)[:, None]
    g = run(contacts, zero=np.array([False]), measure_from=40)
    r = g.result(np.array([True]), np.array([False]), ("F",), None, np.array([True]))
    # measured from step 40: swing 30..49 started before measuring -> not complete; stance 50..79 counted
    assert r["stance_time_s"] == [pytest.approx(30 * DT)]
    assert np.isnan(r["step_frequency_hz_at_1ms"]) and np.isnan(r["left_right_asymmetry"])


def test_contact_flicker_shorter_than_a_phase_does_not_split_steps():
    steps = 400
    clean = pattern(13, 13, 0, steps)  # 26 steps per cycle = 1.92 Hz
    scuffed = clean.copy()
    scuffed[np.arange(steps) % 26 == 20] = True  # the swing foot scuffs the ground for one step
    scuffed[np.arange(steps) % 26 == 5] = False  # and the stance foot chatters off for one step
    long_touch = clean.copy()
    long_touch[(np.arange(steps) % 26 >= 17) & (np.arange(steps) % 26 < 21)] = True  # 4 steps: a real touchdown
    contacts = np.stack([clean, scuffed, long_touch], axis=1)[:, :, None]
    g = run(contacts, zero=np.zeros(3, dtype=bool))
    freq = [g.result(np.arange(3) == i, np.arange(3) == i, ("F",), None, np.array([True]))["step_frequency_hz"][0]
            for i in range(3)]
    assert freq[0] == pytest.approx(1 / (26 * DT), rel=0.01)
    assert freq[1] == pytest.approx(freq[0], rel=0.01)  # flicker ignored
    assert freq[2] == pytest.approx(2 * freq[0], rel=0.05)  # a 4-step touch is a step of its own


def test_step_lengths_and_their_left_right_asymmetry():
    """A biped at 1 m/s: left lands 0.3 m ahead of the right foot, right 0.2 m ahead of the left (a limp
    in step length that duty factors cannot see); both feet 16 of 26 steps down."""
    period, steps = 26, 520
    left, right = pattern(16, 10, 0, steps), pattern(16, 10, 13, steps)
    g = GaitMetrics(1, 2, DT)
    x_left = x_right = 0.0
    for t in range(steps):
        if t % period == 0:
            x_left = x_right + 0.3
        if t % period == 13:
            x_right = x_left + 0.2
        pos = np.array([[[x_left, 0.1, 0.0], [x_right, -0.1, 0.0]]])
        g.add(np.array([True]), np.stack([left[t], right[t]])[None], np.zeros((1, 2, 3)), np.array([False]),
              pos, np.zeros(1), (1, 0))
    r = g.result(np.array([True]), np.array([True]), ("left", "right"), (1, 0), np.array([False, False]))
    np.testing.assert_allclose(r["step_length_m_at_1ms"], [0.3, 0.2], atol=1e-9)
    assert r["left_right_step_length_asymmetry"] == pytest.approx(0.1 / 0.25)
    assert r["left_right_stance_time_asymmetry"] == pytest.approx(0.0, abs=1e-9)
    assert r["left_right_asymmetry"] == pytest.approx(0.0, abs=0.01)
