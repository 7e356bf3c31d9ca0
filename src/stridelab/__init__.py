"""stridelab: teach legged robots to walk with reinforcement learning, CPU-first, on MuJoCo.

    env = stridelab.make("quadruped-flat", num_envs=1024, seed=0)
    obs = env.get_observations(); obs, rew, done, extras = env.step(actions)
"""

from __future__ import annotations

__version__ = "0.1.0"

from stridelab.tasks import list_tasks, make

__all__ = ["list_tasks", "make", "__version__"]
