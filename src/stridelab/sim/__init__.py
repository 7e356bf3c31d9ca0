"""Batched MuJoCo simulation on ``mujoco.batch``."""
