"""The ``stridelab`` command line: one tyro parser for every command, the task found anywhere among the
``train`` arguments, seeds, ``--resume``, run directories, ETG's verbs, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import TINY_TRAIN
from stridelab.app import cli
from stridelab.app.bench import Args as BenchArgs
from stridelab.app.deploy import Args as DeployArgs
from stridelab.app.eval import Args as EvalArgs
from stridelab.app.export import Args as ExportArgs
from stridelab.app.list import Args as ListArgs
from stridelab.app.play import Args as PlayArgs
from stridelab.learn import rundir
from stridelab.errors import ConfigError

COMMANDS = cli.COMMANDS


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


class FakeTrainer:
    """Stands in for :class:`stridelab.learn.trainer.Trainer`: records what it was built with, trains nothing."""

    built: list[FakeTrainer] = []

    def __init__(self, env_cfg, train_cfg, run_dir, seed, walk_check=None, env=None, device="cpu") -> None:
        self.env_cfg, self.train_cfg, self.run_dir, self.seed = env_cfg, train_cfg, Path(run_dir), seed
        self.env, self.device, self.walk_check = env, device, walk_check
        FakeTrainer.built.append(self)

    def close(self) -> None:
        self.closed = True

    def load(self, checkpoint: Path) -> None:
        self.loaded = Path(checkpoint)

    def train(self, fresh: bool = True, show_progress: bool = False) -> SimpleNamespace:
        return SimpleNamespace(stopped_because="max_iterations", iterations=0, env_steps=0, seconds=0.0,
                               checkpoint=None, walk_checks=[])


@pytest.fixture
def fake_trainer(monkeypatch):
    import stridelab.learn.trainer

    FakeTrainer.built = []
    monkeypatch.setattr(stridelab.learn.trainer, "Trainer", FakeTrainer)
    return FakeTrainer


# ---- one parser, every command -------------------------------------------------------------------

def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


@pytest.mark.parametrize("argv, expected", [
    (["bench", "--task", "quadruped-flat", "--num-envs", "1024"], BenchArgs(num_envs=(1024,))),
    (["bench", "--num-envs", "8", "16", "--out", "x.json"], BenchArgs(num_envs=(8, 16), out="x.json")),
    (["eval", "RUN"], EvalArgs("RUN")),
    (["eval", "RUN", "--envs-per-command", "2", "--duration", "3"], EvalArgs("RUN", 2, 3.0)),
    (["play", "RUN", "--viewer"], PlayArgs("RUN", viewer=True)),
    (["play", "RUN", "--no-video", "--duration", "2", "--out", "o"], PlayArgs("RUN", "o", False, 2.0)),
    (["export", "RUN"], ExportArgs("RUN")),
    (["deploy", "P", "--backend", "sim", "--sim2sim-report", "DIR"], DeployArgs("P", sim2sim_report="DIR")),
    (["deploy", "P", "--command", "0.5", "-0.2", "0", "--keyboard"], DeployArgs("P", command=(0.5, -0.2, 0.0),
                                                                                       keyboard=True)),
    (["list"], ListArgs()),
])
def test_documented_commands_parse_with_their_defaults(argv, expected):
    assert cli.parse(argv).options == expected


@pytest.mark.parametrize("argv", [["-v", "list"], ["list", "-v"], ["--verbose", "eval", "RUN"],
                                  ["train", "go2-flat", "--verbose"]])
def test_verbose_before_or_after_the_command(argv):
    assert cli.parse(argv).verbose
    assert not cli.parse([a for a in argv if a not in ("-v", "--verbose")]).verbose


def test_parsing_and_list_import_no_learning_stack():
    code = ("import sys; from stridelab.app.cli import main; assert main(['list']) == 0; "
            "heavy = [m for m in ('torch', 'stridelab.deploy.export', 'stridelab.learn.trainer', 'rsl_rl') "
            "if m in sys.modules]; assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_an_import_error_is_not_hidden(monkeypatch):
    monkeypatch.setitem(sys.modules, "stridelab.envs.throughput", None)  # importing it now raises ImportError
    with pytest.raises(ImportError):
        cli.main(["bench", "--num-envs", "2", "--steps", "1", "--rounds", "1"])


def test_a_typo_in_an_option_is_tyros_message_and_a_hint(capsys):
    assert cli.main(["train", "quadruped-flat", "--max-iteration", "2"]) == 2
    err = capsys.readouterr().err
    assert "--max-iterations" in err  # tyro's suggestion
    assert err.strip().splitlines()[-1].startswith("error: ") and "stridelab train --help" in err


# ---- train: the task anywhere, seeds, shortcuts --------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["train", "go2-flat", "--seed", "1"],
    ["train", "--seed", "1", "go2-flat"],
    ["train", "--seed", "1", "go2-flat", "--num-envs", "8"],
    ["train", "--no-eval", "go2-flat", "--seed", "1"],
    ["train", "--env.episode-length-s", "2", "go2-flat", "--seed=1"],
    ["-v", "train", "--train.actor-hidden-dims", "64", "64", "--seed", "1", "go2-flat"],
])
def test_train_finds_the_task_before_after_or_between_options(argv):
    options = cli.parse(argv).options
    assert options.task == "go2-flat" and options.env.robot == "go2"
    assert options.env.task == "go2-flat" and options.env.seed == 1


def test_train_without_a_task_uses_the_default_and_a_value_is_not_a_task():
    options = cli.parse(["train", "--seed", "1", "--max-iterations", "3"]).options
    assert options.task == "quadruped-flat" and options.env.task == "quadruped-flat"
    assert options.env.seed == 1 and options.train.max_iterations == 3


@pytest.mark.parametrize("argv", [["train", "quadrupd-flat"], ["train", "--seed", "1", "quadrupd-flat"],
                                  ["train", "--max-iterations", "1", "quadrupd-flat", "--no-eval"]])
def test_unknown_task_is_the_registry_sentence(argv, capsys, tmp_path):
    assert cli.main([*argv, "--log-dir", str(tmp_path / "runs")]) == 2
    line = one_error_line(capsys)
    assert "unknown task 'quadrupd-flat'" in line and "did you mean 'quadruped-flat'" in line
    assert not (tmp_path / "runs").exists()


def test_two_tasks_are_an_error(capsys):
    assert cli.main(["train", "quadruped-flat", "go2-flat"]) == 2
    err = capsys.readouterr().err
    assert "go2-flat" in err and err.strip().splitlines()[-1].startswith("error: invalid arguments")


@pytest.mark.parametrize("options, seed", [
    ([], 0),  # the task's env.seed
    (["--seed", "3"], 3),
    (["--env.seed", "5"], 5),  # not overwritten by the --seed default
    (["--env.seed=6"], 6),
    (["--seed", "4", "--env.seed", "4"], 4),
    (["--seed", "-2"], -2),
])
def test_seed_sets_env_and_learner_and_env_seed_is_kept(options, seed, fake_trainer, tmp_path):
    assert cli.main(["train", "quadruped-flat", *options, "--log-dir", str(tmp_path), "--no-eval"]) == 0
    (trainer,) = fake_trainer.built
    assert trainer.env_cfg.seed == seed and trainer.seed == seed
    assert yaml.safe_load((trainer.run_dir / "config.yaml").read_text())["seed"] == seed


@pytest.mark.parametrize("options, named", [
    (["--seed", "1", "--env.seed", "2"], "--seed 1 and --env.seed 2 disagree"),
    (["--num-envs", "4", "--env.num-envs", "8"], "--num-envs 4 and --env.num-envs 8 disagree"),
    (["--max-iterations", "4", "--train.max-iterations", "8"], "--max-iterations 4 and --train.max-iterations 8"),
])
def test_a_shortcut_and_its_field_that_disagree_are_one_error(options, named, capsys, tmp_path, fake_trainer):
    assert cli.main(["train", *options, "--log-dir", str(tmp_path / "runs")]) == 2
    assert named in one_error_line(capsys)
    assert not fake_trainer.built and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("options, message", [
    (["--num-envs", "0"], "--num-envs 0 is out of range"),
    (["--num-envs", "-3"], "--num-envs -3 is out of range"),
    (["--env.num-envs", "0"], "num_envs = 0 is out of range"),
    (["--max-iterations", "-1"], "--max-iterations -1 is out of range"),
])
def test_num_envs_zero_or_negative_is_one_error(options, message, capsys, tmp_path, fake_trainer):
    assert cli.main(["train", "quadruped-flat", *options, "--log-dir", str(tmp_path / "runs")]) == 2
    assert one_error_line(capsys).startswith(f"error: {message}")
    assert not fake_trainer.built and not (tmp_path / "runs").exists()


def test_num_envs_shortcut_is_applied(fake_trainer, tmp_path):
    assert cli.main(["train", "--num-envs", "3", "--max-minutes", "0", "--log-dir", str(tmp_path), "--no-eval"]) == 0
    (trainer,) = fake_trainer.built
    assert trainer.env_cfg.num_envs == 3 and trainer.train_cfg.max_minutes == 0


# ---- run directories -----------------------------------------------------------------------------

def test_run_dirs_of_the_same_second_differ(tmp_path):
    stamp = "20261123-101500"
    first = rundir.reserve_run_dir(tmp_path, stamp)
    second = rundir.reserve_run_dir(tmp_path, stamp)
    assert (first.name, second.name) == (stamp, f"{stamp}-1") and first.is_dir() and second.is_dir()


def test_concurrent_run_dirs_are_distinct(tmp_path):
    made: list[Path] = []
    threads = [threading.Thread(target=lambda: made.append(rundir.reserve_run_dir(tmp_path, "20261123-101500")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 8 and len(list(tmp_path.iterdir())) == 8


def test_two_trainings_in_the_same_second_get_two_dirs(fake_trainer, tmp_path, monkeypatch):
    monkeypatch.setattr(rundir.time, "strftime", lambda fmt: "20261123-101500")
    for _ in range(2):
        assert cli.main(["train", "--log-dir", str(tmp_path), "--no-eval"]) == 0
    a, b = (t.run_dir for t in fake_trainer.built)
    assert (a.name, b.name) == ("20261123-101500", "20261123-101500-1")
    assert (a / "config.yaml").is_file() and (b / "config.yaml").is_file()


def test_a_failed_build_leaves_no_run_dir(tmp_path, monkeypatch, capsys):
    import stridelab.learn.trainer

    class Broken(FakeTrainer):
        def __init__(self, *args, **kwargs) -> None:
            raise ConfigError("the robot file is broken.")

    monkeypatch.setattr(stridelab.learn.trainer, "Trainer", Broken)
    (tmp_path / "runs").mkdir()
    assert cli.main(["train", "--log-dir", str(tmp_path / "runs" / "deeper")]) == 2
    assert one_error_line(capsys) == "error: the robot file is broken."
    assert list((tmp_path / "runs").iterdir()) == []


# ---- resume --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def one_iteration_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume")
    assert cli.main(["train", "quadruped-flat", "--max-iterations", "1", "--log-dir", str(root), "--no-eval",
                     *TINY_TRAIN]) == 0
    (run_dir,) = list((root / "quadruped-flat").iterdir())
    return run_dir


@pytest.mark.parametrize("options, named", [
    (["--num-envs", "32"], ["--num-envs 32 (stored: 16)"]),
    (["--seed", "3"], ["--seed 3 (stored: 0)"]),
    (["--env.episode-length-s", "0.5", "--train.rnn-type", "lstm"],
     ["--env.episode-length-s 0.5 (stored: 0.2)", "--train.rnn-type lstm (stored: none)"]),
    (["go2-flat", "--max-iterations", "5"], ["the task go2-flat (stored: quadruped-flat)"]),
])
def test_resume_refuses_options_that_change_the_run(one_iteration_run, options, named, capsys, fake_trainer):
    before = sorted(one_iteration_run.rglob("*"))
    assert cli.main(["train", "--resume", str(one_iteration_run), *options]) == 2
    line = one_error_line(capsys)
    assert all(n in line for n in named) and "--max-iterations" not in line
    assert not fake_trainer.built and sorted(one_iteration_run.rglob("*")) == before


def test_resume_applies_budgets_and_accepts_unchanged_options(one_iteration_run, fake_trainer):
    # the run's own options (TINY_TRAIN, --seed 0) change nothing; the budgets and the save interval apply
    assert cli.main(["train", "quadruped-flat", "--resume", str(one_iteration_run), "--seed", "0", *TINY_TRAIN,
                     "--max-iterations", "7", "--train.max-minutes", "3", "--train.save-interval", "2",
                     "--log-dir", "/nonexistent/ignored", "--no-eval"]) == 0
    (trainer,) = fake_trainer.built
    assert trainer.run_dir == one_iteration_run and trainer.env_cfg.num_envs == 16
    cfg = trainer.train_cfg
    assert (cfg.max_iterations, cfg.max_minutes, cfg.save_interval) == (7, 3, 2)
    assert yaml.safe_load((one_iteration_run / "config.yaml").read_text())["train"]["max_iterations"] == 7


def test_resume_continues_training(one_iteration_run):
    assert cli.main(["train", "--resume", str(one_iteration_run), "--max-iterations", "2", "--no-eval"]) == 0
    names = sorted(p.name for p in (one_iteration_run / "checkpoints").glob("model_*.pt"))
    assert names == ["model_000001.pt", "model_000002.pt"]


def test_train_prints_the_walk_and_gait_verdicts(tiny_run_stdout):
    out = tiny_run_stdout  # what `stridelab train` printed for the shared 2-iteration run
    assert "eval: lin vel error" in out and "does not walk yet" in out
    gait = next(line for line in out.splitlines() if line.startswith("gait: "))
    assert "not natural: " in gait and "(see gait_eval.png)" in gait  # an untrained policy's gait is not natural


@pytest.mark.parametrize("argv", [[name, "--help"] for name in cli.COMMANDS]
                         + [["etg", verb, "--help"] for verb in ("train", "pretrain", "export")])
def test_every_command_has_help(argv, capsys):
    assert cli.main(argv) == 0
    assert "usage: stridelab " + " ".join(argv[:-1]) in capsys.readouterr().out
