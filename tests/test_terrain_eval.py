"""Success per terrain type and level: the accounting on synthetic distances and falls, the seeded trial
assignment, the evaluation in the simulator (robots moved by hand as a stand-in for a walking policy), and
eval.json / terrain_success.png of tiny evaluations through the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from stridelab.app.cli import main
from stridelab.config import override
from stridelab.errors import ConfigError
from stridelab.eval.terrain import TerrainTrials, assign_trials, evaluate_terrain, success_table
from stridelab.envs import make_env
from stridelab.sim.terrain import TerrainConfig
from stridelab.tasks import make_env_cfg

from conftest import TINY_TRAIN


def _run(book, steps):
    for fell, distance in steps:
        book.add(np.array(fell, dtype=bool), np.array(distance, dtype=float))
    return book


def test_grid_trial_succeeds_on_distance_at_the_end_without_a_fall():
    book = _run(TerrainTrials(np.full(5, 2.5), finish_line=False), [
        ([0, 0, 0, 0, 0], [1.0, 1.0, 1.0, 1.0, 3.0]),
        ([0, 1, 0, 0, 0], [2.0, 3.0, 2.0, 2.0, 3.1]),  # env 1 falls, 3 m out
        ([0, 0, 0, 0, 0], [3.0, 0.1, 2.4, 2.5, 2.0]),  # env 1 respawned (no longer counts); env 4 walked back
    ])
    assert book.success().tolist() == [True, False, False, True, False]
    assert book.fell.tolist() == [False, True, False, False, False]
    np.testing.assert_array_equal(book.distance, [3.0, 3.0, 2.4, 2.5, 2.0])  # a fallen trial keeps its distance


def test_course_trial_succeeds_at_the_finish_line_before_any_fall():
    book = _run(TerrainTrials(np.array([7.5, 7.5, 7.5, 7.4]), finish_line=True), [
        ([0, 0, 0, 0], [7.6, 3.0, 7.0, 7.0]),  # env 0 crosses: done
        ([1, 1, 0, 1], [0.0, 7.6, 7.2, 7.5]),  # env 0's later fall is after its finish; envs 1, 3 fall as they cross
        ([0, 0, 0, 0], [9.0, 9.0, 7.4, 0.0]),  # env 2 never gets there
    ])
    assert book.success().tolist() == [True, False, False, False]
    assert book.fell.tolist() == [False, True, False, True] and book.decided().tolist() == [True, True, False, True]
    np.testing.assert_array_equal(book.distance, [7.6, 7.6, 7.4, 7.5])


def test_success_table_by_type_and_level():
    rows = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    types = np.array([0, 0, 1, 1, 0, 0, 0, 0, 0])  # level 1 has no trial of type 1
    success = np.array([1, 0, 1, 1, 0, 0, 1, 1, 0], dtype=bool)
    fell = np.array([0, 1, 0, 0, 1, 1, 0, 0, 0], dtype=bool)
    distance = np.array([3.0, 1.0, 4.0, 2.0, 0.5, 0.5, 3.0, 3.0, 1.0])
    required = np.full(9, 2.5)
    t = success_table(rows, types, success, fell, distance, required, ["stairs_up", "gaps"], np.array([0.0, 1.0]))
    assert t["success_rate"] == [[0.5, 1.0], [0.4, None]]
    assert t["success_rate_by_type"] == {"stairs_up": pytest.approx(3 / 7), "gaps": 1.0}
    assert t["overall_success_rate"] == pytest.approx(5 / 9)
    cells = {(c["type"], c["level"]): c for c in t["cells"]}
    assert len(cells) == 3
    c = cells[("stairs_up", 1.0)]
    assert (c["trials"], c["successes"], c["row"]) == (5, 2, 1)
    assert c["fall_rate"] == pytest.approx(0.4) and c["mean_distance"] == pytest.approx(1.6)
    assert c["required_distance"] == 2.5
    assert cells[("stairs_up", 0.0)]["mean_distance"] == 2.0 and cells[("gaps", 0.0)]["fall_rate"] == 0.0


def test_every_cell_gets_the_same_number_of_trials():
    rows, cols, type_idx, types = assign_trials(("flat", "stairs", "stairs", "gaps"), num_rows=2, trials=3)
    assert types == ["flat", "stairs", "gaps"] and len(rows) == 18
    for i in range(2):
        for t in range(3):
            assert ((rows == i) & (type_idx == t)).sum() == 3
    np.testing.assert_array_equal(cols[:9], [0, 0, 0, 1, 2, 1, 3, 3, 3])  # a type's columns in turn
    np.testing.assert_array_equal(cols[9:], cols[:9])
    with pytest.raises(ConfigError, match="trials = 0"):
        assign_trials(("flat",), 1, 0)


class Mover:
    """An env whose robots ``movers`` are carried forward along +x at ``speed`` [m/s] before every step (a
    stand-in for a walking policy), and whose robot ``flip`` is turned upside down before the first step."""

    def __init__(self, env, movers, speed, flip=None):
        self.env, self.movers, self.speed, self.flip = env, np.asarray(movers), speed, flip

    def __getattr__(self, name):
        return getattr(self.env, name)

    def step(self, actions):
        env, b = self.env, self.env.robot.base_qpos_adr
        env.sim.qpos[self.movers, b] += self.speed * env.dt
        if self.flip is not None:
            env.sim.qpos[self.flip, b + 3:b + 7] = [0.0, 1.0, 0.0, 0.0]
            self.flip = None
        env.sim.batch.forward(np.arange(env.num_envs, dtype=np.int32))
        return env.step(actions)


def _stand(obs):
    return torch.zeros(obs["policy"].shape[0], 12)


def test_course_evaluation_in_the_simulator():
    # the cave course with a high ceiling and a 2 m section: flat ground from spawn to the finish line
    cfg = override(make_env_cfg("quadruped-cave", num_threads=1),
                   terrain={"ceiling_clearance": (1.0, 1.0), "course_length": 2.0})
    r = evaluate_terrain(_stand, cfg, trials=4, speed=1.0, fraction=1.0, seed=0,
                         env_factory=lambda c: Mover(make_env(c), movers=[0, 1, 3], speed=2.0, flip=1))
    assert r["kind"] == "course" and r["types"] == ["cave"] and r["course"]["distance_m"] == pytest.approx(3.5)
    assert r["duration_s"] == pytest.approx(3.5)  # distance / (fraction x speed)
    (cell,) = r["cells"]
    assert (cell["trials"], cell["successes"]) == (4, 2) and cell["fall_rate"] == 0.25  # env 1 fell, env 2 stood
    assert r["success_rate"] == [[0.5]] and r["overall_success_rate"] == 0.5


def test_grid_evaluation_in_the_simulator():
    rough = make_env_cfg("quadruped-rough", num_threads=1)
    cfg = replace(rough, terrain=TerrainConfig(num_rows=2, num_cols=2, border=1.0, types={"flat": 1.0}))
    r = evaluate_terrain(_stand, cfg, trials=2, speed=0.5, fraction=0.5, duration_s=1.0, seed=0,
                         env_factory=lambda c: Mover(make_env(c), movers=[0, 2], speed=0.5))
    assert r["kind"] == "grid" and r["types"] == ["flat"] and r["levels"] == [0.0, 1.0]
    assert r["success_rate"] == [[0.5], [0.5]]  # the carried robots walked 0.5 m >= 0.25 m; the others stood
    assert all(c["required_distance"] == pytest.approx(0.25) for c in r["cells"])
    with pytest.raises(ConfigError, match="flat floor"):
        evaluate_terrain(_stand, make_env_cfg("quadruped-flat"))


def test_evaluation_keeps_the_privileged_layout_and_never_pushes():
    """An evaluation env has the training env's observation sizes (a policy that reads ``privileged`` still fits:
    the push's values stay, at zero) and no push fires within the run."""
    from stridelab.eval.terrain import terrain_eval_cfg

    rough = replace(make_env_cfg("quadruped-rough", num_envs=4, num_threads=1),
                    terrain=TerrainConfig(num_rows=1, num_cols=1, border=1.0, types={"flat": 1.0}))
    train_env = make_env(rough)
    cfg = terrain_eval_cfg(rough, 4, 0.5, 2.0, 0)
    assert cfg.events["push"].interval_s[0] > 1e5
    env = make_env(cfg)
    obs = env.reset_all()
    train_obs = train_env.get_observations()
    assert {k: tuple(v.shape) for k, v in obs.items()} == {k: tuple(v.shape) for k, v in train_obs.items()}
    for _ in range(int(round(2.0 / env.dt))):
        obs, _, _, _ = env.step(torch.zeros(4, 12))
    assert not env.events.privileged()["push"].any()


@pytest.fixture(scope="module")
def untrained_runs(tmp_path_factory):
    """One-iteration runs (untrained policies) of quadruped-rough, quadruped-gallop and quadruped-flat,
    without evaluation."""
    root = tmp_path_factory.mktemp("terrain_runs")
    runs = {}
    for task in ("quadruped-rough", "quadruped-gallop", "quadruped-flat"):
        assert main(["train", task, "--max-iterations", "1", "--log-dir", str(root), "--no-eval", *TINY_TRAIN]) == 0
        (runs[task],) = list((root / task).iterdir())
    return runs


def test_eval_json_has_success_per_type_and_level(untrained_runs, capsys):
    run = untrained_runs["quadruped-rough"]
    assert main(["eval", str(run), "--envs-per-command", "1", "--duration", "0.4", "--terrain-trials", "2"]) == 0
    report = json.loads((run / "eval.json").read_text())
    t = report["terrain"]
    assert t["kind"] == "grid" and t["types"] == ["flat", "rough", "slope_up", "slope_down", "stairs_up", "stairs_down"]
    assert t["levels"] == pytest.approx([i / 9 for i in range(10)]) and len(t["success_rate"]) == 10
    assert len(t["cells"]) == 60 and all(c["trials"] == 2 for c in t["cells"])
    assert t["overall_success_rate"] == pytest.approx(np.mean([c["success_rate"] for c in t["cells"]]))
    assert t["cells"][0]["required_distance"] == pytest.approx(0.5 * 0.5 * 0.4)  # fraction x speed x duration
    assert (run / "terrain_success.png").read_bytes()[:4] == b"\x89PNG"
    assert "walks" in report and len(report["rows"]) == 45  # the tracking grid is still there
    assert "terrain success (grid, 2 trials per type and level" in capsys.readouterr().out


def test_eval_json_of_a_course(untrained_runs, capsys):
    run = untrained_runs["quadruped-gallop"]
    assert main(["eval", str(run), "--envs-per-command", "1", "--duration", "0.4", "--terrain-trials", "4",
                 "--terrain-speed", "5.0", "--terrain-fraction", "1.0"]) == 0
    report = json.loads((run / "eval.json").read_text())
    t = report["terrain"]
    assert t["kind"] == "course" and t["types"] == ["gallop"] and len(t["cells"]) == 1
    assert t["cells"][0]["trials"] == 4 and t["duration_s"] == pytest.approx(9.5 / 5.0)
    assert t["course"]["summary"].startswith("gallop: 8 gaps of 0.50 m")
    assert [r["vx"] for r in report["rows"]] == [0.0, 0.5, 1.0]  # a course's tracking grid: standing, forward
    assert (run / "terrain_success.png").is_file()
    assert "crossed the finish line" in capsys.readouterr().out


def test_flat_eval_has_no_terrain_section(untrained_runs, capsys):
    run = untrained_runs["quadruped-flat"]
    assert main(["eval", str(run), "--envs-per-command", "1", "--duration", "0.4"]) == 0
    report = json.loads((run / "eval.json").read_text())
    assert "terrain" not in report and len(report["rows"]) == 45
    assert not (run / "terrain_success.png").exists() and "terrain success" not in capsys.readouterr().out


def test_bad_terrain_eval_options_exit_with_one_sentence(untrained_runs, capsys):
    assert main(["eval", str(untrained_runs["quadruped-gallop"]), "--terrain-fraction", "1.5"]) == 2
    assert "--terrain-fraction 1.5 is out of range" in capsys.readouterr().err
