"""Extending stridelab without touching src/: a new observation term and reward term defined here, a task
registered with them, seen in training, in policy.json, in the deploy builder and in the logged sums;
and the worked examples of docs/extending.md, run as written."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY_TRAIN

REPO = Path(__file__).resolve().parents[1]


def heading_error(s):
    """sin and cos of the yaw-rate command [rad/s] scaled into a phase (a made-up proprioceptive term)."""
    return np.stack([np.sin(s.commands[:, 2]), np.cos(s.commands[:, 2])], axis=1)


def upright_bonus(s, power: float = 2.0):
    """(-projected gravity z) ** power: 1 when level, less when tilted."""
    return np.clip(-s.projected_gravity[:, 2], 0.0, 1.0) ** power


@pytest.fixture(scope="module")
def extended_task():
    from stridelab.config import override
    from stridelab.learn.config import TrainConfig
    from stridelab.tasks import TASKS, TaskEntry, register_task
    from stridelab.tasks.velocity import flat_velocity_task

    def env_cfg():
        return override(flat_velocity_task("quadruped-extended", "quadruped"),
                        observations={"policy": {"terms": {"heading": {"func": f"{__name__}:heading_error"}}}},
                        rewards={"upright": {"func": f"{__name__}:upright_bonus", "weight": 0.5,
                                             "params": {"power": 2.0}}})

    register_task(TaskEntry("quadruped-extended", "test task with terms defined in a test file", env_cfg,
                            TrainConfig), replace_existing=True)
    yield "quadruped-extended"
    TASKS.pop("quadruped-extended", None)


def test_new_terms_reach_training_export_deploy_and_logs(extended_task, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from stridelab.app.cli import main
    from stridelab.deploy.backend import RobotSignals
    from stridelab.deploy.export import export_policy
    from stridelab.deploy.observation import ObservationBuilder
    from stridelab.tasks import make
    # training: the policy observation grows by the new term's two values
    env = make(extended_task, num_envs=4, num_threads=1, observations={"policy": {"noise": 0.0}})
    group = env.observations.groups["policy"]
    assert group.term_names[-1] == "heading" and group.frame_size == 45 + 2
    obs = env.get_observations()["policy"].numpy()
    np.testing.assert_allclose(obs[:, -2:], heading_error(env.state), atol=1e-6)

    assert main(["train", extended_task, "--max-iterations", "2", "--log-dir", str(tmp_path), "--no-eval",
                 *TINY_TRAIN]) == 0
    (run_dir,) = list((tmp_path / extended_task).iterdir())

    # logs: the reward term's episode sum is logged with the others
    acc = EventAccumulator(str(run_dir)).Reload()
    assert "Episode_Reward/upright" in acc.Tags()["scalars"]
    assert max(e.value for e in acc.Scalars("Episode_Reward/upright")) > 0

    # policy.json: the term with its code's import path
    out = export_policy(run_dir, tmp_path / "export")
    meta = json.loads((out / "policy.json").read_text())
    term = meta["observation"]["terms"][-1]
    assert term["name"] == "heading" and term["func"] == f"{__name__}:heading_error" and term["size"] == 2
    assert meta["observation"]["size"] == 47

    # deploy: the builder computes the new term from robot signals with this file's function
    s = env.state
    sample = RobotSignals(0.0, s.joint_pos[0], s.joint_vel[0], s.base_quat[0], s.base_ang_vel[0])
    built = ObservationBuilder(meta)(sample, s.commands[0], s.actions[0])
    np.testing.assert_allclose(built[0, -2:], heading_error(s)[0], atol=1e-6)
    np.testing.assert_allclose(built[0], obs[0], atol=1e-5)


def _doc_blocks() -> list[str]:
    text = (REPO / "docs" / "extending.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_extending_doc_examples_run(tmp_path, monkeypatch):
    blocks = _doc_blocks()
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace = {"torch": torch}
    try:
        for block in blocks:
            first = block.splitlines()[0]
            if first.startswith("# file: "):
                (tmp_path / first[len("# file: "):].strip()).write_text(block)
            else:
                exec(compile(block, "docs/extending.md", "exec"), namespace)  # noqa: S102 - the doc's own code
    finally:
        from stridelab.tasks import TASKS
        TASKS.pop("quadruped-forward", None)
        for mod in ("my_terms", "write_spec"):
            sys.modules.pop(mod, None)
    assert namespace["env"].robot.spec.name == "mybot"  # the last block ran: every block before it did too
