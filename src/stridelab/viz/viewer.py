"""Interactive MuJoCo viewer driven by a trained policy; arrow keys change the velocity command.

Keys: Up/Down change vx by 0.25 m/s, Left/Right change the yaw rate by 0.5 rad/s, ``,``/``.`` change
vy by 0.25 m/s, Space stops; ``[``/``]`` lower/raise the stepping frequency by 0.1 Hz (tasks whose gait clock
takes a frequency command). Needs a display (``mujoco.viewer``); offscreen, use ``stridelab play``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from stridelab.config import EnvConfig, override
from stridelab.envs import make_env
from stridelab.errors import StridelabError

log = logging.getLogger(__name__)

# GLFW key codes
_KEY_RIGHT, _KEY_LEFT, _KEY_DOWN, _KEY_UP, _KEY_SPACE, _KEY_COMMA, _KEY_PERIOD = 262, 263, 264, 265, 32, 44, 46
_KEY_LEFT_BRACKET, _KEY_RIGHT_BRACKET = 91, 93


def command_after_key(command: np.ndarray, key: int, limits: np.ndarray) -> np.ndarray:
    """The command after a key press, clipped to ``limits`` (Shape: (3, 2)). Pure, for testing."""
    step = {_KEY_UP: (0.25, 0, 0), _KEY_DOWN: (-0.25, 0, 0), _KEY_LEFT: (0, 0, 0.5), _KEY_RIGHT: (0, 0, -0.5),
            _KEY_COMMA: (0, 0.25, 0), _KEY_PERIOD: (0, -0.25, 0)}
    if key == _KEY_SPACE:
        return np.zeros(3)
    if key not in step:
        return command
    return np.clip(command + np.array(step[key]), limits[:, 0], limits[:, 1])


def frequency_after_key(frequency: float, key: int, limits: tuple[float, float] | None) -> float:
    """The stepping frequency [Hz] after a key press (``[`` lower, ``]`` raise by 0.1 Hz), within ``limits``
    (the clock's frequency range; ``None``: the clock has a fixed frequency). Pure, for testing."""
    if limits is None or key not in (_KEY_LEFT_BRACKET, _KEY_RIGHT_BRACKET):
        return frequency
    step = 0.1 if key == _KEY_RIGHT_BRACKET else -0.1
    return float(np.clip(round(frequency + step, 3), *limits))


def follow_base(camera, base_body_id: int, distance: float = 1.5) -> None:
    """Make the viewer camera track the robot's base, so that it never walks out of view."""
    import mujoco

    camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    camera.trackbodyid = base_body_id
    camera.distance = distance
    camera.elevation = -20.0


def command_text(command: np.ndarray, state, frequency: float | None = None) -> tuple[str, str]:
    """The overlay: the command (and stepping frequency) and the measured base velocity (labels, values)."""
    v, w = state.base_lin_vel[0], state.base_ang_vel[0]
    labels = "command vx\ncommand vy\ncommand yaw rate\nmeasured vx\nmeasured vy\nmeasured yaw rate"
    values = (f"{command[0]:+.2f} m/s\n{command[1]:+.2f} m/s\n{command[2]:+.2f} rad/s\n"
              f"{v[0]:+.2f} m/s\n{v[1]:+.2f} m/s\n{w[2]:+.2f} rad/s")
    if frequency is not None:
        labels, values = labels + "\nstep frequency", values + f"\n{frequency:.2f} Hz"
    return labels, values


def run_viewer(policy: Callable, env_cfg: EnvConfig) -> int:
    """Open the viewer on a one-env simulation of ``env_cfg`` and run ``policy`` (observation TensorDict ->
    actions; ``policy.reset(dones)`` if recurrent) in real time."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise StridelabError("the interactive viewer needs a display (DISPLAY is not set); use `stridelab play RUN` "
                             "for an mp4 instead.")
    import mujoco
    import mujoco.viewer

    env = make_env(override(env_cfg, num_envs=1, num_threads=1))
    limits = np.array(list(env.commands.velocity.ranges().values()))
    command = np.zeros(3)
    env.set_commands(command)
    clock = env.commands.gait
    frequency = clock.frequency if clock is not None else None
    frequency_limits = clock.frequency_range if clock is not None else None
    if clock is not None:
        clock.set_frequency(frequency)
    obs = env.reset_all()
    model, data = env.robot.model, mujoco.MjData(env.robot.model)
    pending: list[int] = []
    with mujoco.viewer.launch_passive(model, data, key_callback=pending.append) as viewer:
        follow_base(viewer.cam, env.robot.base_body_id)
        while viewer.is_running():
            start = time.monotonic()
            for key in pending:
                command = command_after_key(command, key, limits)
                if clock is not None:
                    frequency = frequency_after_key(frequency, key, frequency_limits)
                    clock.set_frequency(frequency)
                log.info("command vx %.2f m/s, vy %.2f m/s, yaw rate %.2f rad/s", *command)
            pending.clear()
            env.set_commands(command)
            with torch.inference_mode():
                obs, _, dones, _ = env.step(policy(obs))
                if hasattr(policy, "reset"):
                    policy.reset(dones)
            env.sim.batch.get_data(0, data)
            mujoco.mj_kinematics(model, data)
            viewer.set_texts((None, mujoco.mjtGridPos.mjGRID_TOPLEFT, *command_text(command, env.state, frequency)))
            viewer.sync()
            time.sleep(max(0.0, env.dt - (time.monotonic() - start)))
    return 0
