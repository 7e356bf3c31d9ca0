"""The exteroception noise model of the height scan: each part does what it says, the level scales it, the schedule
ramps it, and the scan conditions of a student's evaluation set it."""

from __future__ import annotations

import numpy as np
import pytest

from stridelab.envs import make_env
from stridelab.errors import ConfigError
from stridelab.mdp.scan_noise import ScanNoise, ScanNoiseSettings
from stridelab.tasks import make_env_cfg


def noise(n: int = 64, m: int = 20, level: float = 1.0, **kw) -> ScanNoise:
    model = ScanNoise(ScanNoiseSettings(**kw), n, m, m, 0, 0.02, np.random.default_rng(0), level=level)
    model.reset(np.arange(n))
    return model


def test_point_noise_and_offsets_have_their_size_times_the_level():
    clean = np.zeros((4000, 20))
    for level in (1.0, 2.0):
        model = noise(n=4000, level=level, point_noise=0.02, env_offset=0.03)
        out = model.heights(clean)
        offsets = model.env_offsets[:, 0]  # drawn at the reset, uniform in +-0.03 level
        assert np.abs(offsets).max() <= 0.03 * level and abs(np.std(offsets) - 0.03 * level / np.sqrt(3)) < 0.002
        assert abs(np.std(out - offsets[:, None]) - 0.02 * level) < 0.002 * level
        np.testing.assert_allclose(out.mean(axis=1), offsets, atol=5 * 0.02 * level / np.sqrt(20))
    assert np.array_equal(noise(level=0.0, point_noise=0.02, env_offset=0.03).heights(np.ones((64, 20))),
                          np.ones((64, 20)))


def test_drift_is_a_bounded_random_walk_that_restarts_at_reset():
    model = noise(n=200, drift_rate=0.5, drift_max=0.1)
    xy = np.zeros((200, 20, 2))
    for _ in range(500):
        model.step(xy)
    assert np.abs(model.drift).max() <= 0.1 + 1e-12 and np.abs(model.drift).mean() > 0.03
    shifted = model.shift(xy)
    np.testing.assert_allclose(shifted[:, 3], model.drift[:, :2])  # every point moves with its env's drift
    model.reset(np.arange(100))
    assert not model.drift[:100].any() and model.drift[100:].any()


def test_missing_regions_and_the_blind_scan_read_their_values():
    model = noise(n=2, region_rate=1e6, region_radius=0.3)  # a region appears at the first step
    xy = np.stack(np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4), indexing="ij"), axis=-1).reshape(1, 20, 2)
    xy = np.repeat(xy, 2, axis=0)
    model.step(xy)
    out = model.corrupt(np.zeros((2, 20)), xy, clip=1.0, missing_value=1.0, blind_value=-5.0)
    centre, radius = model.region[:, :2], model.region[:, 2]
    inside = ((xy - centre[:, None]) ** 2).sum(axis=2) <= radius[:, None] ** 2
    assert inside.any(axis=1).all() and np.array_equal(out == 1.0, inside)  # the disc holds a scan point
    blind = noise(n=3, blind_prob=1.0, blind_after_s=(0.1, 0.1))  # removed 0.1 s (5 steps) in
    for step in range(1, 8):
        blind.step(xy[:1].repeat(3, axis=0))
        out = blind.corrupt(np.zeros((3, 20)), xy[:1].repeat(3, axis=0), 1.0, 1.0, 0.0 if step < 7 else -5.0)
        assert blind.blind.all() == (step >= 5)
    assert (out == -5.0).all()


def test_outliers_and_missing_points_come_at_their_rates():
    model = noise(n=500, outlier_prob=0.05, missing_prob=0.1)
    out = model.corrupt(np.full((500, 20), 0.25), np.zeros((500, 20, 2)), clip=1.0, missing_value=1.0,
                        blind_value=1.0)
    assert abs(np.mean(out == 1.0) - 0.1) < 0.015  # missing (an outlier at exactly 1.0 has measure zero)
    changed = (out != 0.25) & (out != 1.0)
    assert abs(np.mean(changed) - 0.05 * 0.9) < 0.01 and np.abs(out).max() <= 1.0


def test_bad_settings_are_one_sentence():
    with pytest.raises(ConfigError, match="out of range"):
        ScanNoiseSettings(missing_prob=1.5)
    with pytest.raises(ConfigError, match="blind_after_s"):
        ScanNoiseSettings(blind_after_s=(5.0, 1.0))


@pytest.fixture(scope="module")
def student_cfg():
    from stridelab.distill.task import student_env_cfg

    teacher = make_env_cfg("quadruped-rough", num_envs=4, num_threads=1, episode_length_s=0.2)  # resets every 10 steps
    return student_env_cfg(teacher, ramp={"start_step": 0, "end_step": 100})


def test_the_student_task_schedules_the_noise_and_keeps_a_clean_scan_for_the_teacher(student_cfg):
    env = make_env(student_cfg)
    scan = env.observations.groups["extero"].terms[0]
    assert scan.noise_level == 0.0
    obs = env.get_observations()
    np.testing.assert_array_equal(obs["extero"].numpy(), obs["teacher_extero"].numpy())  # level 0: the clean scan
    import torch

    for _ in range(60):  # the ramp's level is set at each reset: 0.6 at the resets of step 60
        obs, *_ = env.step(torch.zeros(4, 12))
    assert scan.noise_level == pytest.approx(0.6)
    assert not np.array_equal(obs["extero"].numpy(), obs["teacher_extero"].numpy())
    assert "randomization_strength" not in student_cfg.curriculum  # every randomization at full range


def test_scan_conditions_set_the_students_scan(student_cfg):
    from stridelab.eval.student import scan_condition_cfg

    removed = scan_condition_cfg(student_cfg, "scan removed").observations["extero"].terms["height_scan"].params
    assert removed["blind_prob"] == 1.0 and removed["blind_after_s"] == (3.0, 3.0) and removed["noise_level"] == 1.0
    twice = scan_condition_cfg(student_cfg, "twice the noise").observations["extero"].terms["height_scan"].params
    assert twice["noise_level"] == 2.0 and twice["point_noise"] == removed["point_noise"]
    with pytest.raises(ConfigError, match="unknown scan condition"):
        scan_condition_cfg(student_cfg, "foggy")
    with pytest.raises(ConfigError, match="no height scan"):
        scan_condition_cfg(make_env_cfg("quadruped-flat"), "clean")
