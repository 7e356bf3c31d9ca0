"""Shared fixtures: small, single-threaded environments and the reference robots beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

import stridelab

REPO = Path(__file__).resolve().parents[1]
SHARED_ROBOTS = Path(__file__).resolve().parents[2] / "shared" / "robots"


def _merge(base: dict, new: dict) -> dict:
    out = dict(base)
    for key, value in new.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture
def make_env():
    """Factory for a small quadruped-flat env: 4 envs, 1 thread, seed 0, unless overridden."""
    envs = []

    def factory(**overrides):
        env = stridelab.make("quadruped-flat", **_merge({"num_envs": 4, "num_threads": 1, "seed": 0}, overrides))
        envs.append(env)
        return env

    yield factory
    for env in envs:
        env.close()


@pytest.fixture
def shared_robots() -> Path:
    """``../shared/robots`` (Unitree Go2 and H1 MJCF); the test is skipped when it is absent."""
    if not (SHARED_ROBOTS / "unitree_go2" / "scene.xml").is_file():
        pytest.skip(f"reference robots not found at {SHARED_ROBOTS} (the shared folder beside the repository)")
    return SHARED_ROBOTS
