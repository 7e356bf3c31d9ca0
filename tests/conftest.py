"""Shared fixtures: small, single-threaded environments and the reference robots beside the repo."""

from __future__ import annotations

import contextlib
import io
import os
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


def steps_until(interval_s: float, dt: float) -> int:
    """The control step at which a timer of ``interval_s`` runs out (the managers' own float arithmetic)."""
    left, k = interval_s, 0
    while left > 0.0:
        left -= dt
        k += 1
    return k


def pytest_collection_modifyitems(session, config, items):
    """The tests on the local Ray instance run last, one after another (see :func:`ray_instance`)."""
    items.sort(key=lambda item: "ray_instance" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def ray_instance():
    """One local Ray instance of 2 CPUs for every test that needs one (its start costs seconds); those tests run at
    the end of the session (:func:`pytest_collection_modifyitems`), so no other test runs beside its processes."""
    import logging

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             object_store_memory=256 * 1024**2)  # the batches in the tests are a few hundred KB
    yield ray
    ray.shutdown()


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


def require_shared_robots(root: Path = SHARED_ROBOTS) -> Path:
    """``root`` if it holds the reference robots; otherwise skip the test, or fail it under CI.

    Skipping on a developer machine keeps the suite usable without the folder; under CI (the
    ``CI`` environment variable set, as GitHub Actions and GitLab do) a skip would hide that the
    robot tests never ran, so it is a failure that says how to provide the folder.
    """
    if (root / "unitree_go2" / "scene.xml").is_file():
        return root
    message = (f"the reference robots folder {root} is missing (it needs unitree_go2/scene.xml); place the "
               f"project's shared folder beside the repository so that ../shared/robots holds the Unitree Go2 "
               f"and H1 MJCF in MuJoCo Menagerie's layout (e.g. copied from mujoco_menagerie)")
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{message}; CI is set, so the robot tests fail instead of being skipped.", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def shared_robots() -> Path:
    """``../shared/robots`` (Unitree Go2 and H1 MJCF); skipped when absent, a failure under CI."""
    return require_shared_robots()


# a training run small enough for a unit test: 16 envs x 8 steps per iteration
TINY_TRAIN = ["--num-envs", "16", "--train.num-steps-per-env", "8", "--train.save-interval", "1",
              "--eval-envs-per-command", "1", "--eval-duration-s", "0.4", "--play-duration-s", "1.0",
              "--env.num-threads", "1", "--env.episode-length-s", "0.2"]


TINY_RUN_STDOUT = "train_stdout.txt"  #: what `stridelab train` printed for :func:`tiny_run`, beside its task folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A 2-iteration training run through the CLI, with every artifact (shared by the tests that read it). What
    the command printed is in ``TINY_RUN_STDOUT`` beside the run's task folder (see :func:`tiny_run_stdout`)."""
    from stridelab.app.cli import main

    root = tmp_path_factory.mktemp("runs")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", "quadruped-flat", "--max-iterations", "2", "--log-dir", str(root), *TINY_TRAIN])
    assert code == 0, printed.getvalue()[-2000:]
    (root / TINY_RUN_STDOUT).write_text(printed.getvalue())
    (run_dir,) = list((root / "quadruped-flat").iterdir())
    return run_dir


@pytest.fixture(scope="session")
def tiny_run_stdout(tiny_run) -> str:
    """What ``stridelab train`` printed while making :func:`tiny_run` (its verdict lines)."""
    return (tiny_run.parent.parent / TINY_RUN_STDOUT).read_text()


@pytest.fixture(scope="session")
def tiny_lstm_run(tmp_path_factory) -> Path:
    """A 1-iteration run with an LSTM actor (no eval)."""
    from stridelab.app.cli import main

    root = tmp_path_factory.mktemp("runs_lstm")
    assert main(["train", "quadruped-flat", "--max-iterations", "1", "--log-dir", str(root), "--no-eval",
                 "--train.rnn-type", "lstm", "--train.rnn-hidden-dim", "16", *TINY_TRAIN]) == 0
    (run_dir,) = list((root / "quadruped-flat").iterdir())
    return run_dir


@pytest.fixture(scope="session")
def tiny_rough_run(tmp_path_factory) -> Path:
    """A 1-iteration quadruped-rough teacher (height scan, terrain grid; no eval), e.g. for a student to start from."""
    from stridelab.app.cli import main

    root = tmp_path_factory.mktemp("rough_run")
    assert main(["train", "quadruped-rough", "--max-iterations", "1", "--log-dir", str(root), "--no-eval",
                 *TINY_TRAIN]) == 0
    (run_dir,) = list((root / "quadruped-rough").iterdir())
    return run_dir
