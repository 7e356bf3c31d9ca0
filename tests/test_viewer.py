"""Interactive viewer: key handling (pure) and the clear error without a display."""

from __future__ import annotations

import numpy as np
import pytest

from stridelab.errors import StridelabError
from stridelab.config import EnvConfig
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
        run_viewer(lambda obs: None, EnvConfig())


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


HFIELD_XML = """<mujoco><asset><hfield name="h" nrow="50" ncol="60" size="3 2.5 0.4 0.1"/></asset>
<worldbody><geom name="ground" type="hfield" hfield="h" pos="1 -2 0.3"/>
<body pos="0 0 1"><freejoint/><geom type="sphere" size="0.1"/></body></worldbody></mujoco>"""


def _sample_origin(model, data, h: int, g: int) -> np.ndarray:
    """World xy of a heightfield's first sample (row 0, column 0), as drawn."""
    return data.geom_xpos[g, :2] - model.hfield_size[h, :2]


def test_a_large_heightfield_is_drawn_through_a_window_with_the_same_heights_in_the_same_places():
    import mujoco

    from stridelab.viz.video import HeightfieldWindow

    model = mujoco.MjModel.from_xml_string(HFIELD_XML)
    rng = np.random.default_rng(0)
    model.hfield_data[:] = rng.random(model.hfield_data.size)
    full = model.hfield_data.reshape(50, 60).copy()
    dx, dy = 6.0 / 59, 5.0 / 49
    window = HeightfieldWindow(model, side_m=1.0, min_samples=0)
    assert (window.model.hfield_nrow[0], window.model.hfield_ncol[0]) == (11, 11)  # 1 m at ~0.1 m
    assert (model.hfield_nrow[0], model.hfield_ncol[0]) == (50, 60)  # the simulation's model is not changed
    assert window.centre_on(1.5, -1.0)
    assert not window.centre_on(1.6, -1.1)  # within a quarter side: the window stays
    data = mujoco.MjData(window.model)
    mujoco.mj_kinematics(window.model, data)
    window.place(data)
    origin = _sample_origin(window.model, data, 0, 0)
    col0, row0 = (origin - (np.array([1.0, -2.0]) - [3.0, 2.5])) / [dx, dy]
    assert abs(col0 - round(col0)) < 1e-9 and abs(row0 - round(row0)) < 1e-9  # on the field's own samples
    col0, row0 = round(col0), round(row0)
    drawn = window.model.hfield_data[:121].reshape(11, 11)
    np.testing.assert_array_equal(drawn, full[row0:row0 + 11, col0:col0 + 11])
    np.testing.assert_allclose(data.geom_xpos[0, :2], [1.5, -1.0], atol=max(dx, dy))
    assert window.centre_on(3.9, 0.4)  # past the field's corner: the window moves and stops at the edge
    window.place(data)
    np.testing.assert_allclose(data.geom_xpos[0, :2] + window.model.hfield_size[0, :2], [4.0, 0.5])
    assert window.model.hfield_data[:121].reshape(11, 11)[-1, -1] == full[-1, -1]
    untouched = HeightfieldWindow(model, side_m=1.0)  # 3,000 samples: drawn whole
    assert untouched.model.hfield_nrow[0] == 50 and not untouched.centre_on(0.0, 0.0)


def test_the_rough_grid_is_recorded_through_a_window():
    import stridelab
    from stridelab.viz.video import WINDOW_SIDE_M, VideoRecorder

    env = stridelab.make("quadruped-rough", num_envs=1, num_threads=1)
    rec = VideoRecorder(env.sim, env.robot.base_qpos_adr, 64, 48, robot_height=env.robot.spec.base_height_target)
    rec.capture()
    h = rec.window.fields[0]["id"]
    drawn = int(rec.renderer.model.hfield_nrow[h] * rec.renderer.model.hfield_ncol[h])
    assert env.sim.model.hfield_nrow[h] * env.sim.model.hfield_ncol[h] > 2_000_000  # the whole grid
    assert drawn == (round(WINDOW_SIDE_M / 0.05) + 1) ** 2
    assert rec.frames[0].std() > 1.0
    rec.close()
