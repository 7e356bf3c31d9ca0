"""Touchdown force peaks per contact phase and the speed step response (``stridelab.eval.response``), and the body
weight lines of the locomotion plot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stridelab.eval.response import measure_response, phase_peaks, rise_time


def test_phase_peaks_take_the_largest_force_of_each_completed_contact_phase():
    contact = np.zeros((14, 1, 2), dtype=bool)
    force = np.zeros((14, 1, 2))
    contact[1:6, 0, 0] = True  # a 5-step stance: peak 3.0
    force[1:6, 0, 0] = [1.0, 3.0, 2.0, 2.0, 1.0]
    contact[8:10, 0, 0] = True  # 2 steps of chatter: not a phase
    force[8:10, 0, 0] = 9.0
    contact[11:, 0, 0] = True  # still in contact at the end: not completed
    force[11:, 0, 0] = 7.0
    contact[0:4, 0, 1] = True  # the other foot: 4 steps from the start, peak 1.5
    force[0:4, 0, 1] = [0.5, 1.5, 1.0, 0.2]
    assert sorted(phase_peaks(force, contact)) == [1.5, 3.0]


def test_rise_time_uses_a_trailing_average_and_reports_never_as_inf():
    dt = 0.02
    speed = np.zeros((100, 2))
    speed[10:, 0] = 1.0  # a clean step at step 10
    speed[10:, 1] = 0.5  # never reaches 0.9
    times = rise_time(speed, dt, target=1.0, fraction=0.9, window_s=0.5)
    # the 25-step window holds >= 22.5 ones first at step index 10 + 22: (32 + 1) x dt
    assert times[0] == pytest.approx(33 * dt) and np.isinf(times[1])


def test_measure_response_runs_both_checks_and_the_plot_marks_body_weight(tmp_path):
    import stridelab
    from stridelab.eval.rollout import record
    from stridelab.tasks import make_env_cfg
    from stridelab.viz.plots import plot_locomotion

    cfg = make_env_cfg("biped-flat", num_threads=1)
    probe = stridelab.make("biped-flat", num_envs=1, num_threads=1)
    weight = float(probe.robot.model.body_mass.sum() - probe.robot.model.body_mass[0]) * 9.81
    probe.close()

    def stand(obs):  # the standing pose: zero offsets
        return torch.zeros(obs["policy"].shape[0], 10)

    out = measure_response(stand, cfg, num_envs=4, walk_s=1.0, stand_s=0.4, step_s=0.6)
    assert out["body_weight_n"] == pytest.approx(weight, rel=1e-3)
    assert out["envs"] == 4 and all(0 <= out[k] <= 4 for k in ("walk_falls", "stop_falls", "step_falls"))
    assert set(out["touchdown_peak_bw"]) >= {"median", "p95", "max", "count"}
    assert out["rise_time_s"]["to_m_s"] == 1.0 and 0.0 <= out["rise_time_s"]["reached"] <= 1.0
    traj = record(stand, cfg, schedule=((0.5, 0.0, 0.0, 0.0),))
    assert traj.body_weight == pytest.approx(weight, rel=1e-3)
    assert plot_locomotion(traj, tmp_path).stat().st_size > 10_000
