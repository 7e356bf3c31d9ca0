"""Interactive viewer: key handling (pure) and the clear error without a display."""

from __future__ import annotations

import numpy as np
import pytest

from stridelab.errors import StridelabError
from stridelab.viz.viewer import command_after_key, run_viewer

LIMITS = np.array([[-1.0, 1.0], [-0.5, 0.5], [-1.0, 1.0]])
UP, DOWN, LEFT, RIGHT, SPACE, COMMA = 265, 264, 263, 262, 32, 44


def test_arrow_keys_change_the_command_within_limits():
    c = np.zeros(3)
    c = command_after_key(c, UP, LIMITS)
    c = command_after_key(c, UP, LIMITS)
    assert c.tolist() == [0.5, 0.0, 0.0]
    c = command_after_key(c, LEFT, LIMITS)
    assert c.tolist() == [0.5, 0.0, 0.5]
    for _ in range(5):
        c = command_after_key(c, RIGHT, LIMITS)
    assert c.tolist() == [0.5, 0.0, -1.0]  # clipped at the yaw limit
    c = command_after_key(c, COMMA, LIMITS)
    assert c[1] == 0.25
    assert command_after_key(c, 65, LIMITS).tolist() == c.tolist()  # other keys do nothing
    assert command_after_key(c, SPACE, LIMITS).tolist() == [0.0, 0.0, 0.0]
    assert command_after_key(np.zeros(3), DOWN, LIMITS).tolist() == [-0.25, 0.0, 0.0]


def test_viewer_without_display_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(StridelabError, match="needs a display"):
        run_viewer(tmp_path)


def test_brackets_change_the_stepping_frequency_within_the_clocks_range():
    from stridelab.viz.viewer import frequency_after_key

    f = 1.5
    for _ in range(3):
        f = frequency_after_key(f, 93, (1.25, 2.0))  # ]
    assert f == 1.8
    for _ in range(10):
        f = frequency_after_key(f, 91, (1.25, 2.0))  # [
    assert f == 1.25
    assert frequency_after_key(2.0, 93, None) == 2.0  # a fixed-frequency clock ignores the keys
    assert frequency_after_key(1.5, 65, (1.25, 2.0)) == 1.5


def test_the_video_camera_frames_a_robot_by_its_standing_height():
    """The quadruped keeps the 1.4 m view; the biped's camera stands back so its trunk is in the frame, and the
    camera follows the base's height (stairs, slopes)."""
    import stridelab
    from stridelab.viz.video import VideoRecorder

    for task, distance in (("quadruped-flat", 1.4), ("biped-flat", 2.8 * 0.85)):
        env = stridelab.make(task, num_envs=1, num_threads=1)
        rec = VideoRecorder(env.sim, env.robot.base_qpos_adr, 64, 48,
                            robot_height=env.robot.spec.base_height_target)
        rec.capture()
        base_z = float(rec.data.qpos[env.robot.base_qpos_adr + 2])
        assert rec.camera.distance == pytest.approx(distance)
        assert rec.camera.lookat[2] == pytest.approx(base_z - 0.1 * env.robot.spec.base_height_target)
        assert rec.frames[0].shape == (48, 64, 3) and rec.frames[0].std() > 1.0  # a picture, not a blank frame
