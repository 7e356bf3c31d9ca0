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

# torch's OpenMP threads spin after each parallel region (the policy's forward pass at every control step)
# while MuJoCo's own physics threads need the same cores: on 2 cores the spinning cost ~16 % of each rollout.
# Sleeping OpenMP threads collect 12,288 env steps in 0.59 s instead of 0.70 s (the update gets ~6 % slower);
# measured in docs/benchmarks.md, section 2. Only takes effect if torch was not imported before stridelab.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["list_tasks", "make", "make_env", "__version__"]


def __getattr__(name: str):  # noqa: ANN202 - the API facade, loaded on first use
    if name == "make_env":
        from stridelab.envs import make_env

        return make_env
    if name in ("list_tasks", "make"):
        from stridelab.tasks import registry

        return getattr(registry, name)
    raise AttributeError(name)
