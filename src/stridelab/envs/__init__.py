"""Vectorized environments: :class:`~stridelab.envs.locomotion_env.LocomotionEnv` (rsl-rl-lib's ``VecEnv``),
:func:`make_env` (the env a config describes), snapshots for exact resume, throughput against the raw
``mujoco.batch`` limit, and a ``gymnasium`` adapter."""

from stridelab.envs.factory import make_env

__all__ = ["make_env"]
