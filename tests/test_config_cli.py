"""Config validation and overrides, the task registry, and the ``stridelab`` command line."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import pytest
import yaml

import stridelab
from stridelab.app import cli
from stridelab.config import EnvConfig, from_dict, save_yaml
from stridelab.errors import ConfigError, StridelabError
from stridelab.tasks import get_task, make_env_cfg


@pytest.mark.parametrize("overrides, pattern", [
    ({"num_envs": 0}, r"num_envs = 0 is out of range"),
    ({"num_threads": -1}, r"num_threads = -1"),
    ({"decimation": 0}, r"decimation = 0"),
    ({"episode_length_s": 0.0}, r"episode_length_s = 0.0"),
    ({"events": {"push": {"interval_s": (2.0, 1.0)}}}, r"events\.interval_s = \(2\.0, 1\.0\) is not a valid range"),
    ({"events": {"push": {"mode": "sometimes"}}}, r"event mode 'sometimes' is unknown"),
    ({"observations": {"policy": {"history": 51}}}, r"observation history = 51 is out of range"),
    ({"observations": {"policy": {"clip": 0.0}}}, r"observations\.clip = 0\.0 is out of range"),
])
def test_invalid_values_raise_config_error(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make_env_cfg("quadruped-flat", **overrides)


def test_bad_range_from_make_is_a_config_error():
    with pytest.raises(ConfigError, match="interval_s"):
        stridelab.make("quadruped-flat", num_envs=2, events={"push": {"interval_s": (1, -1)}})


def test_unknown_override_suggests_the_closest_key():
    with pytest.raises(ConfigError) as info:
        make_env_cfg("quadruped-flat", num_env=4)
    assert "did you mean 'num_envs'" in str(info.value) and "valid options are" in str(info.value)
    with pytest.raises(ConfigError, match=r"EnvConfig\.rewards\.torques_l2\.weigth \(did you mean 'weight'\?\)"):
        make_env_cfg("quadruped-flat", rewards={"torques_l2": {"weigth": 0.0}})


def test_overrides_are_applied_and_ranges_stay_tuples():
    default = get_task("quadruped-flat").env_cfg()
    cfg = make_env_cfg("quadruped-flat", num_envs=3, commands={"velocity": {"params": {"lin_vel_x": [0.0, 0.5]}}},
                       rewards={"feet_air_time": {"weight": 0.0}})
    assert cfg.num_envs == 3
    params = cfg.commands["velocity"].params
    assert params["lin_vel_x"] == (0.0, 0.5) and isinstance(params["lin_vel_x"], tuple)
    assert params["lin_vel_y"] == default.commands["velocity"].params["lin_vel_y"]  # untouched siblings stay
    assert cfg.rewards["feet_air_time"].weight == 0.0
    assert cfg.rewards["feet_air_time"].params == default.rewards["feet_air_time"].params
    assert {k: v for k, v in cfg.rewards.items() if k != "feet_air_time"} == \
        {k: v for k, v in default.rewards.items() if k != "feet_air_time"}
    assert make_env_cfg("quadruped-flat") == default


def test_yaml_snapshot_round_trips(tmp_path):
    cfg = make_env_cfg("quadruped-flat", num_envs=7, observations={"policy": {"history": 3}},
                       commands={"velocity": {"params": {"ang_vel_yaw": (-0.5, 0.5)}}})
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
    proc = subprocess.run([sys.executable, "-m", "stridelab.app.cli", "list"], capture_output=True, text=True, timeout=120)
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


@pytest.mark.parametrize("args, message", [
    (["bench", "--num-envs", "0"], "--num-envs 0 is out of range"),
    (["bench", "--num-envs", "8", "-2"], "--num-envs 8 -2 is out of range"),
    (["bench", "--steps", "-3"], "--steps -3 is out of range"),
    (["bench", "--rounds", "0"], "--rounds 0 is out of range"),
])
def test_cli_rejects_bad_values_in_one_line(args, message, capsys, tmp_path):
    assert cli.main([*args, "--out", str(tmp_path / "b.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {message}")
    assert not (tmp_path / "b.json").exists()


def test_cli_usage_error_exits_2_with_a_hint(capsys, tmp_path):
    assert cli.main(["bench", "--bogus", "--out", str(tmp_path / "b.json")]) == 2
    err = capsys.readouterr().err
    assert "--bogus" in err  # tyro's message
    assert err.strip().splitlines()[-1] == ("error: invalid arguments (see above); run `stridelab bench --help` for "
                                            "the options.")
    assert not (tmp_path / "b.json").exists()


def test_cli_tiny_bench_writes_json_only_where_out_says(tmp_path, capsys, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "sub" / "b.json"
    code = cli.main(["bench", "--num-envs", "8", "--steps", "5", "--rounds", "1", "--threads", "1", "--out", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert isinstance(data, list) and len(data) == 1
    r = data[0]
    assert r["task"] == "quadruped-flat" and r["num_envs"] == 8 and r["steps_per_round"] == 5 and r["rounds"] == 1
    assert r["decimation"] == 4 and r["num_threads"] == 1
    # the env does the raw physics plus its own work: a positive rate below (or, by noise, near) the raw one
    assert r["env_steps_per_s"] > 0 and r["raw_steps_per_s"] > 0 and 0 < r["ratio"] <= 1.5
    assert f"wrote {out}" in capsys.readouterr().out
    assert list(cwd.iterdir()) == [] and sorted(p.name for p in out.parent.iterdir()) == ["b.json"]


def test_cli_bench_without_out_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "--num-envs", "4", "--steps", "2", "--rounds", "1", "--threads", "1"]) == 0
    assert "ratio" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_scalar_where_a_range_belongs_is_a_config_error():
    with pytest.raises(ConfigError, match="interval_s = 0.8"):
        make_env_cfg("quadruped-flat", events={"friction": {"interval_s": 0.8}})


def test_every_registered_task_builds_and_steps(shared_robots, monkeypatch):
    """One registry: each task builds, steps with random actions and returns finite rewards."""
    import numpy as np
    import torch

    monkeypatch.setenv("MENAGERIE_ROOT", str(shared_robots))
    for task in stridelab.list_tasks():
        env = stridelab.make(task.name, num_envs=3, num_threads=1)
        obs = env.get_observations()
        assert obs["policy"].shape[0] == 3 and obs["policy"].ndim == 2
        for _ in range(5):
            obs, rew, dones, extras = env.step(torch.randn(3, env.num_actions) * 0.5)
        assert torch.isfinite(rew).all() and np.isfinite(obs["policy"].numpy()).all(), task.name


def test_cli_bench_measures_the_robot_it_is_given(shared_robots, tmp_path, capsys):
    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "unitree_h1.yaml"
    spec_file = tmp_path / "h1.yaml"
    spec_file.write_text(example.read_text().replace("../../../shared/robots", str(shared_robots)))
    out = tmp_path / "b.json"
    args = ["bench", "--task", "biped-flat", "--num-envs", "4", "--steps", "2", "--rounds", "1", "--threads", "1"]
    assert cli.main([*args, "--robot", str(spec_file), "--out", str(out)]) == 0
    r = json.loads(out.read_text())[0]
    assert r["robot"] == str(spec_file) and r["task"] == "biped-flat" and r["env_steps_per_s"] > 0
    assert f"biped-flat ({spec_file})" in capsys.readouterr().out
    assert cli.main([*args, "--robot", "no_such_robot"]) != 0
    assert "no_such_robot" in capsys.readouterr().err
