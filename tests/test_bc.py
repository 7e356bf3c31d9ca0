"""Behaviour cloning: the dataset file round-trips, bad files are one sentence, a fitted student is a checkpoint
that eval and export load, and the command works end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stridelab.app.cli import main
from stridelab.distill.bc import DatasetError, FitSettings, fit, load_dataset, record, save_dataset, write_student
from stridelab.learn.policy import load_policy


@pytest.fixture(scope="module")
def dataset(tiny_run):
    return record(tiny_run, steps=12, num_envs=4, seed=3, mask_prob=0.1, num_threads=1)


def test_the_dataset_round_trips(dataset, tmp_path):
    ds = dataset
    assert set(ds.obs) == {"policy", "privileged"} and ds.obs["policy"].shape == (12, 4, 53)
    assert ds.actions.shape == (12, 4, 12) and ds.dones.shape == ds.time_outs.shape == (12, 4)
    assert ds.dones.any()  # the tiny task's 0.2 s episodes end within 12 steps
    assert 0.05 < float((ds.obs["policy"] == 0).mean()) < 0.2  # masked at 10 %
    path = save_dataset(tmp_path / "d.npz", ds)
    back = load_dataset(path)
    assert back.meta == json.loads(json.dumps(ds.meta))
    for group, values in ds.obs.items():  # observations are stored as float16
        np.testing.assert_array_equal(back.obs[group], values.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(back.actions, ds.actions)
    np.testing.assert_array_equal(back.dones, ds.dones)
    np.testing.assert_array_equal(back.time_outs, ds.time_outs)


def test_bad_dataset_files_are_one_sentence(dataset, tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match="is corrupt"):
        load_dataset(tmp_path / "junk.npz")
    np.savez(tmp_path / "partial.npz", actions=dataset.actions, meta=np.array(json.dumps(dataset.meta)))
    with pytest.raises(DatasetError, match="incomplete"):
        load_dataset(tmp_path / "partial.npz")


@pytest.mark.parametrize("model", ["mlp", "gru"])
def test_a_fitted_student_is_a_checkpoint_that_loads(model, dataset, tmp_path):
    settings = FitSettings(model=model, epochs=3, batch_size=16, seq_len=4, hidden_dims=(32,), rnn_hidden_dim=8)
    student, losses = fit(dataset, settings)
    assert len(losses) == 3 and losses[-1] < losses[0]  # it learns the teacher's actions
    path = write_student(tmp_path, student, settings, dataset, 1.0, losses)
    loaded = load_policy(path)  # weights_only=True
    assert loaded.obs_groups == {"policy": 53} and loaded.data["algorithm"] == "BehaviourCloning"
    obs = {"policy": torch.from_numpy(dataset.obs["policy"][0])}
    from tensordict import TensorDict

    batch = TensorDict(obs, batch_size=[4])
    loaded.policy.reset()
    student.reset()
    with torch.no_grad():
        torch.testing.assert_close(loaded.policy(batch), student(batch))
    with pytest.raises(DatasetError, match="no observation group 'extero'"):
        fit(dataset, FitSettings(groups=("policy", "extero"), epochs=1))


def test_bc_command_records_fits_and_exports(tiny_run, tmp_path, capsys):
    args = ["bc", str(tiny_run), "--steps", "8", "--num-envs", "4", "--epochs", "2", "--log-dir", str(tmp_path),
            "--no-eval"]
    assert main(args) == 0
    (run,) = list((tmp_path / "quadruped-flat-bc").iterdir())
    assert "fitted a mlp student reading policy" in capsys.readouterr().out
    assert load_dataset(run / "dataset.npz").steps == 8
    assert main(["export", str(run)]) == 0
    meta = json.loads((run / "export" / "policy.json").read_text())
    assert meta["observation_groups"] == ["policy"] and meta["inputs"] == ["obs"]
    assert main(["bc", str(tiny_run), "--dataset", str(run / "dataset.npz"), "--model", "gru", "--epochs", "1",
                 "--log-dir", str(tmp_path), "--no-eval"]) == 0
    assert main(["bc", str(tiny_run), "--mask-prob", "1.5"]) == 2
    assert "--mask-prob 1.5 is out of range" in capsys.readouterr().err
