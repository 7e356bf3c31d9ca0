"""stridelab: teach legged robots to walk with reinforcement learning, CPU-first, on MuJoCo.

    env = stridelab.make("quadruped-flat", num_envs=1024, seed=0)
    obs = env.get_observations(); obs, rew, done, extras = env.step(actions)
"""

from __future__ import annotations

import os as _os

__version__ = "0.1.0"

# Offscreen rendering (videos) needs a GL backend chosen before MuJoCo is first imported: without a
# display, use EGL unless the user chose one (e.g. MUJOCO_GL=osmesa).
if "MUJOCO_GL" not in _os.environ and not _os.environ.get("DISPLAY"):
    _os.environ["MUJOCO_GL"] = "egl"

from stridelab.registry import list_tasks, make, make_env

__all__ = ["list_tasks", "make", "make_env", "__version__"]
