"""Config validation and overrides, the task registry, and the ``stridelab`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

import stridelab
from stridelab import cli
from stridelab.config import EnvConfig, from_dict, save_yaml
from stridelab.errors import ConfigError, StridelabError
from stridelab.tasks import make_env_cfg


@pytest.mark.parametrize("overrides, pattern", [
    ({"num_envs": 0}, r"num_envs = 0 is out of range"),
    ({"num_threads": -1}, r"num_threads = -1"),
    ({"decimation": 0}, r"decimation = 0"),
    ({"episode_length_s": 0.0}, r"episode_length_s = 0.0"),
    ({"commands": {"lin_vel_x": (1.0, -1.0)}}, r"commands\.lin_vel_x = \(1\.0, -1\.0\) is not a valid range"),
    ({"randomization": {"friction": (-0.1, 1.0)}}, r"randomization\.friction .* low >= 0"),
    ({"observations": {"history": 51}}, r"observations\.history = 51"),
    ({"rewards": {"soft_joint_limit": 0.0}}, r"rewards\.soft_joint_limit"),
])
def test_invalid_values_raise_config_error(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make_env_cfg("quadruped-flat", **overrides)


def test_bad_range_from_make_is_a_config_error():
    with pytest.raises(ConfigError, match="lin_vel_x"):
        stridelab.make("quadruped-flat", num_envs=2, commands={"lin_vel_x": (1, -1)})


def test_unknown_override_suggests_the_closest_key():
    with pytest.raises(ConfigError) as info:
        make_env_cfg("quadruped-flat", num_env=4)
    assert "did you mean 'num_envs'" in str(info.value) and "valid options are" in str(info.value)
    with pytest.raises(ConfigError, match=r"EnvConfig\.rewards\.torque_l2 \(did you mean 'torques_l2'\?\)"):
        make_env_cfg("quadruped-flat", rewards={"torque_l2": 0.0})


def test_overrides_are_applied_and_ranges_stay_tuples():
    cfg = make_env_cfg("quadruped-flat", num_envs=3, commands={"lin_vel_x": [0.0, 0.5]}, rewards={"feet_air_time": 0.0})
    assert cfg.num_envs == 3
    assert cfg.commands.lin_vel_x == (0.0, 0.5) and isinstance(cfg.commands.lin_vel_x, tuple)
    assert cfg.commands.lin_vel_y == (-0.5, 0.5)  # untouched siblings keep their defaults
    assert "feet_air_time" not in cfg.rewards.weights()
    assert make_env_cfg("quadruped-flat") == EnvConfig(task="quadruped-flat", robot="quadruped")


def test_yaml_snapshot_round_trips(tmp_path):
    cfg = make_env_cfg("quadruped-flat", num_envs=7, observations={"history": 3}, commands={"ang_vel_yaw": (-0.5, 0.5)})
    path = tmp_path / "env.yaml"
    save_yaml(cfg, path)
    assert from_dict(EnvConfig, yaml.safe_load(path.read_text())) == cfg
    assert not path.with_suffix(".yaml.tmp").exists()


def test_unknown_task():
    with pytest.raises(ConfigError) as info:
        stridelab.make("nope")
    assert "unknown task 'nope'" in str(info.value) and "quadruped-flat" in str(info.value)
    with pytest.raises(ConfigError, match="did you mean 'quadruped-flat'"):
        stridelab.make("quadruped-flt")
    assert issubclass(ConfigError, StridelabError)


def test_list_tasks():
    names = [t.name for t in stridelab.list_tasks()]
    assert names == sorted(names) and "quadruped-flat" in names and "go2-flat" in names


# ---- command line --------------------------------------------------------------------------------

def test_cli_list_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "stridelab.cli", "list"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "tasks:"
    assert any(line.split()[:1] == ["quadruped-flat"] for line in lines)
    assert any(line.split() == ["quadruped", "builtin:quadruped"] for line in lines)


def test_cli_bench_unknown_task_is_one_error_line(capsys, tmp_path):
    out = tmp_path / "never.json"
    code = cli.main(["bench", "--task", "nope", "--num-envs", "2", "--steps", "1", "--rounds", "1", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "unknown task 'nope'" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("args", [["bench", "--num-envs", "0"], ["bench", "--steps", "-3"], ["bench", "--bogus"]])
def test_cli_rejects_bad_arguments(args, capsys, tmp_path):
    try:  # argparse exits; the CLI may also return its own exit code
        code = cli.main([*args, "--out", str(tmp_path / "b.json")])
    except SystemExit as exc:
        code = exc.code
    assert code not in (0, None)
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()


def test_cli_tiny_bench_writes_json(tmp_path, capsys):
    out = tmp_path / "sub" / "b.json"
    code = cli.main(["bench", "--num-envs", "8", "--steps", "5", "--rounds", "1", "--threads", "1", "--out", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert isinstance(data, list) and len(data) == 1
    r = data[0]
    assert r["task"] == "quadruped-flat" and r["num_envs"] == 8 and r["steps_per_round"] == 5 and r["rounds"] == 1
    assert r["decimation"] == 4 and r["num_threads"] == 1
    assert r["env_steps_per_s"] > 0 and r["raw_steps_per_s"] > 0 and r["ratio"] > 0
    assert r["ratio"] == pytest.approx(r["env_steps_per_s"] / r["raw_steps_per_s"])
    assert f"wrote {out}" in capsys.readouterr().out


def test_scalar_where_a_range_belongs_is_a_config_error():
    with pytest.raises(ConfigError, match="friction"):
        make_env_cfg("quadruped-flat", randomization={"friction": 0.8})


def test_every_registered_task_builds_and_steps(shared_robots, monkeypatch):
    """One registry: each task builds, steps with random actions and returns finite rewards."""
    import numpy as np
    import torch

    monkeypatch.setenv("MENAGERIE_ROOT", str(shared_robots))
    for task in stridelab.list_tasks():
        env = stridelab.make(task.name, num_envs=3, num_threads=1)
        obs = env.get_observations()
        assert obs["policy"].shape == (3, env.frame_size)
        for _ in range(5):
            obs, rew, dones, extras = env.step(torch.randn(3, env.num_actions) * 0.5)
        assert torch.isfinite(rew).all() and np.isfinite(obs["policy"].numpy()).all(), task.name
