"""Offscreen rendering of one simulation of a batch to mp4 (EGL or OSMesa; set MUJOCO_GL)."""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path

import mujoco
import numpy as np

from stridelab.files import atomic_path

log = logging.getLogger(__name__)

#: heightfields with more samples than this are drawn through a window around the robot (MuJoCo draws every
#: cell in every frame: the rough grid's 1,720 x 1,400 samples cost 1.6 s per 320 x 240 frame, a 16 m window 0.19 s)
WINDOW_MIN_SAMPLES = 250_000
#: the window's side [m]; it re-centres (a new renderer) when the base is more than a quarter side from its centre
WINDOW_SIDE_M = 16.0


class HeightfieldWindow:
    """A render-only copy of ``model`` whose large heightfields keep a square of ``side_m`` around a point.

    The copy's ``hfield_nrow``, ``hfield_ncol`` and ``hfield_size`` shrink to the window and its samples are
    written to the start of the field's ``hfield_data``; the elevation and base keep their values, so the
    window draws the same heights. Only heightfields of world geoms without rotation are windowed.

    Args:
        model: the simulation's model (not changed).
        side_m: the window's side [m].
        min_samples: fields with at most this many samples are drawn whole.
    """

    def __init__(self, model, side_m: float = WINDOW_SIDE_M, min_samples: int = WINDOW_MIN_SAMPLES) -> None:
        self.model = copy.deepcopy(model)
        self.side_m = float(side_m)
        self.fields: list[dict] = []
        hfield_geoms = model.geom_type == mujoco.mjtGeom.mjGEOM_HFIELD
        for h in range(model.nhfield):
            nrow, ncol = int(model.hfield_nrow[h]), int(model.hfield_ncol[h])
            geoms = np.flatnonzero(hfield_geoms & (model.geom_dataid == h))
            upright = np.allclose(model.geom_quat[geoms], [1.0, 0.0, 0.0, 0.0])
            if nrow * ncol <= min_samples or len(geoms) == 0 or model.geom_bodyid[geoms].any() or not upright:
                continue
            adr = int(model.hfield_adr[h])
            size_x, size_y = model.hfield_size[h, :2]
            dx, dy = 2 * size_x / (ncol - 1), 2 * size_y / (nrow - 1)
            cols, rows = min(ncol, int(round(side_m / dx)) + 1), min(nrow, int(round(side_m / dy)) + 1)
            self.model.hfield_ncol[h], self.model.hfield_nrow[h] = cols, rows
            self.model.hfield_size[h, :2] = ((cols - 1) * dx / 2, (rows - 1) * dy / 2)
            self.fields.append({"id": h, "adr": adr, "heights": model.hfield_data[adr:adr + nrow * ncol].reshape(
                nrow, ncol).copy(), "dx": dx, "dy": dy, "cols": cols, "rows": rows, "geoms": geoms,
                "x0": model.geom_pos[geoms, 0] - size_x, "y0": model.geom_pos[geoms, 1] - size_y, "offset": None})

    def centre_on(self, x: float, y: float) -> bool:
        """Move every window so it is centred near (x, y) [m] if (x, y) is more than a quarter side from its
        centre (or it has none yet); True when a window moved (a renderer must then be made anew)."""
        moved = False
        for f in self.fields:
            if f["offset"] is not None:  # the window's centre, from the field's first sample (first geom)
                cx, cy = f["x0"][0] + f["offset"][0], f["y0"][0] + f["offset"][1]
                if max(abs(x - cx), abs(y - cy)) <= self.side_m / 4:
                    continue
            heights = f["heights"]
            # the window's first column and row (field origin of the first geom; all geoms share the field)
            col0 = int(np.clip(round((x - f["x0"][0]) / f["dx"] - (f["cols"] - 1) / 2), 0, heights.shape[1] - f["cols"]))
            row0 = int(np.clip(round((y - f["y0"][0]) / f["dy"] - (f["rows"] - 1) / 2), 0, heights.shape[0] - f["rows"]))
            window = heights[row0:row0 + f["rows"], col0:col0 + f["cols"]]
            self.model.hfield_data[f["adr"]:f["adr"] + window.size] = window.ravel()
            f["offset"] = ((col0 + (f["cols"] - 1) / 2) * f["dx"], (row0 + (f["rows"] - 1) / 2) * f["dy"])
            moved = True
        return moved

    def place(self, data) -> None:
        """Put the windows' geoms where their windows lie (in ``data.geom_xpos``, after the kinematics)."""
        for f in self.fields:
            data.geom_xpos[f["geoms"], 0] = f["x0"] + f["offset"][0]
            data.geom_xpos[f["geoms"], 1] = f["y0"] + f["offset"][1]


class VideoRecorder:
    """Renders frames of simulation ``sim_id`` with a camera that follows its base.

    Args:
        width, height: frame size [px]; 320 x 240 renders in ~40 ms on a 2-core CPU.
        robot_height: the base's standing height [m] (``RobotSpec.base_height_target``): the camera looks
            at ``0.1 x robot_height`` below the base and stands ``max(1.4, 2.8 x robot_height)`` m away, so a
            quadruped (0.28 m) and a biped (0.85 m) both fill the frame (a fixed view cut the biped's trunk off).
        distance: camera distance [m] (``None``: from ``robot_height``).
    """

    def __init__(self, sim, base_qpos_adr: int, width: int = 320, height: int = 240, sim_id: int = 0,
                 distance: float | None = None, azimuth: float = 135.0, elevation: float = -20.0,
                 robot_height: float = 0.28) -> None:
        if distance is None:
            distance = max(1.4, 2.8 * robot_height)
        self.look_below = 0.1 * robot_height
        os.environ.setdefault("MUJOCO_GL", "egl")
        self.sim = sim
        self.sim_id = sim_id
        self.base = base_qpos_adr
        self.model = sim.model
        self.data = mujoco.MjData(self.model)
        self.size = (height, width)
        self.window = HeightfieldWindow(self.model)
        self.renderer: mujoco.Renderer | None = None
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.distance, self.camera.azimuth, self.camera.elevation = distance, azimuth, elevation
        self.frames: list[np.ndarray] = []
        self._model: mujoco.MjModel | None = None

    def capture(self) -> None:
        """Render the simulation's current state."""
        self.sim.batch.get_data(self.sim_id, self.data)
        if self._model is None:  # the sim's own parameters (friction, masses); fixed during a rollout
            self._model = self.sim.batch.get_model(self.sim_id)
        mujoco.mj_kinematics(self._model, self.data)
        x, y = self.data.qpos[self.base:self.base + 2]
        if self.window.centre_on(float(x), float(y)) or self.renderer is None:
            if self.renderer is not None:
                self.renderer.close()
            self.renderer = mujoco.Renderer(self.window.model, *self.size)  # uploads the window's heights
        self.window.place(self.data)
        self.camera.lookat[:] = self.data.qpos[self.base:self.base + 3]
        self.camera.lookat[2] -= self.look_below  # follows the base up stairs and slopes
        self.renderer.update_scene(self.data, camera=self.camera)
        self.frames.append(self.renderer.render().copy())

    def save(self, path: Path, fps: int) -> Path:
        """Write the frames as an H.264 mp4 (via imageio-ffmpeg)."""
        import imageio.v2 as imageio

        path = Path(path)
        with atomic_path(path) as tmp, imageio.get_writer(tmp, fps=fps, codec="libx264", quality=7,
                                                          macro_block_size=8) as writer:
            for frame in self.frames:
                writer.append_data(frame)
        log.info("wrote %s (%d frames)", path, len(self.frames))
        return path

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
