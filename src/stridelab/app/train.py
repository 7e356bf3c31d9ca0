"""``stridelab train [TASK] [OPTIONS]``: train a policy with rsl-rl-lib PPO, then evaluate, plot and render it.

The options' defaults are the task's own configs (``--env.*``, ``--train.*``): the task is the first argument
(or any positional argument among the options; ``quadruped-flat`` when none is given). ``--resume RUN``
parses the options against the run's stored configuration instead, and refuses any that would change it
(:data:`RESUME_SAFE` may change: budgets, the checkpoint interval, what happens after training, and where it
runs).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from stridelab.app.options import check, check_budget
from stridelab.config import EnvConfig, override, save_yaml, to_dict
from stridelab.distributed.options import RayOptions
from stridelab.errors import ConfigError
from stridelab.eval.metrics import GRID_DURATION_S, GRID_ENVS_PER_COMMAND
from stridelab.learn.config import TrainConfig

log = logging.getLogger("stridelab")

DEFAULT_TASK = "quadruped-flat"
# options --resume applies (dotted fields; ``ray.`` covers the placement): budgets, checkpoint interval, stopping
# rules, what happens after training and where it runs. Any other option that changes the stored config is refused.
RESUME_SAFE = frozenset({
    "resume", "log_dir", "max_iterations", "max_minutes", "eval", "video", "eval_envs_per_command",
    "eval_duration_s", "play_duration_s", "train.max_iterations", "train.max_minutes", "train.save_interval",
    "train.stop_when_walks", "train.check_every_s", "train.check_below_lin_vel_error", "device"})
# the shortcuts of `stridelab train` and the config field each one sets
SHORTCUTS = {"seed": "env.seed", "num_envs": "env.num_envs", "max_iterations": "train.max_iterations",
             "max_minutes": "train.max_minutes", "policy": "train.rnn_type"}
# `--policy` and the train.rnn_type it sets
RNN_TYPE_OF_POLICY = {"mlp": "none", "lstm": "lstm", "gru": "gru"}


@dataclasses.dataclass(frozen=True)
class Args:
    """Train a policy with PPO (rsl-rl-lib); writes runs/<task>/<timestamp>/.

    Attributes:
        task: registered task name (see `stridelab list`); its configs are the defaults of --env.* and --train.*.
        seed: seed of the env and the learner: sets env.seed (default: the task's env.seed, or --env.seed).
        num_envs: parallel environments (sets env.num_envs).
        max_iterations: iteration budget (sets train.max_iterations).
        max_minutes: wall-clock budget in minutes, 0 for none (sets train.max_minutes).
        policy: the actor network: mlp, or a recurrent lstm or gru (sets train.rnn_type; sizes with
            --train.rnn-hidden-dim and --train.rnn-num-layers, the MLP after it with --train.actor-hidden-dims).
        log_dir: root of the run directories.
        resume: run directory (or checkpoint) to continue exactly where it stopped, with its stored
            configs; only budgets, the save interval, the evaluation and the placement may change.
        init_from: run directory (or checkpoint) whose trained policy a new run starts from (fine-tuning:
            its actor and, when it fits, its critic; a fresh optimizer); see --train.algorithm.max-kl.
        eval: evaluate, plot and render after training (--no-eval skips it).
        eval_envs_per_command: envs per grid command, in the walk checks and the final evaluation (one verdict).
        eval_duration_s: seconds each grid command is held, in the walk checks and the final evaluation.
        play_duration_s: length of the recorded command tour (video and plots) [s].
        video: render video.mp4 after training.
        device: where the learner's networks run: cpu, cuda or cuda:N (environments always run on CPUs).
        dynamics: params.yaml of `stridelab sysid`: the domain randomization is centred on the identified values.
        dynamics_ranges: with --dynamics, keep each range's width (width), shrink it to +-2 standard deviations
            of the identification (uncertainty), or to the identified value itself (exact).
        ray: rollouts on Ray workers (docs/distributed.md).
        env: environment configuration.
        train: training configuration.
    """

    task: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="TASK")] = DEFAULT_TASK
    seed: int | None = None
    num_envs: int | None = None
    max_iterations: int | None = None
    max_minutes: float | None = None
    policy: Literal["mlp", "lstm", "gru"] | None = None
    log_dir: str = "runs"
    resume: Annotated[str | None, tyro.conf.arg(metavar="RUN")] = None
    init_from: Annotated[str | None, tyro.conf.arg(metavar="RUN")] = None
    eval: bool = True
    eval_envs_per_command: int = GRID_ENVS_PER_COMMAND
    eval_duration_s: float = GRID_DURATION_S
    play_duration_s: float = 15.0
    video: bool = True
    device: str = "cpu"
    dynamics: Annotated[str | None, tyro.conf.arg(metavar="PARAMS_YAML")] = None
    dynamics_ranges: Literal["width", "uncertainty", "exact"] = "width"
    ray: Annotated[RayOptions, tyro.conf.OmitArgPrefixes] = dataclasses.field(default_factory=RayOptions)
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_budget(self.num_envs, self.max_iterations, self.max_minutes)
        check(self.eval_envs_per_command >= 1,
              f"--eval-envs-per-command {self.eval_envs_per_command} is out of range; use 1 or more.")
        check(self.eval_duration_s > 0 and self.play_duration_s > 0,
              "--eval-duration-s and --play-duration-s must be positive numbers of seconds.")


# ---- parsing: the task's defaults, --resume, the shortcuts ---------------------------------------

def task_defaults(task: str) -> Args:
    """The options of ``stridelab train TASK`` before any is given: the task's env and train configs.

    Raises:
        ConfigError: ``task`` is not registered (the registry's sentence).
    """
    from stridelab.tasks import get_task

    entry = get_task(task)
    return Args(task=task, env=entry.env_cfg(), train=entry.train_cfg())


def default_args(tokens: list[str]) -> Args:
    """The defaults of the first parse: those of the task named by the first argument, else of the default task."""
    first = tokens[0] if tokens and not tokens[0].startswith("-") else DEFAULT_TASK
    return task_defaults(first)


def flat_options(obj: Any, prefix: str = "") -> dict[str, Any]:
    """A dataclass tree (or dict) as ``{"env.rewards.feet_air_time.weight": value}``; ``-`` in keys as ``_``."""
    out: dict[str, Any] = {}
    for key, value in to_dict(obj).items():
        name = prefix + str(key).replace("-", "_")
        if isinstance(value, dict) and value:
            out.update(flat_options(value, name + "."))
        else:
            out[name] = value
    return out


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _get(args: Args, field: str) -> Any:
    section, _, name = field.partition(".")
    return getattr(getattr(args, section), name)


def with_shortcuts(args: Args, defaults: Args) -> Args:
    """``args`` with the shortcuts applied (``--seed`` sets ``env.seed``, ...; ``--policy mlp`` is ``rnn_type
    none``). A shortcut wins over the default of its field; a field set to another value as well is an error.

    Raises:
        ConfigError: a shortcut and its field both given with different values.
    """
    env, train = {}, {}
    for short, field in SHORTCUTS.items():
        value = getattr(args, short, None)
        if value is None:
            continue
        value = RNN_TYPE_OF_POLICY[value] if short == "policy" else value
        own, default = _get(args, field), _get(defaults, field)
        if own != default and own != value:
            raise ConfigError(f"{_flag(short)} {getattr(args, short)} and {_flag(field)} {own} disagree "
                              f"({_flag(short)} sets {field}); give one of them.")
        section, _, name = field.partition(".")
        (env if section == "env" else train)[name] = value
    if hasattr(args, "task"):
        env["task"] = args.task
    return dataclasses.replace(args, env=override(args.env, **env) if env else args.env,
                               train=override(args.train, **train) if train else args.train)


def _refusals(args: Any, stored: Any, positional: str) -> list[str]:
    """What ``args`` would change in the stored run, spelled as options (empty: it may resume); ``positional`` is
    the name of the command's positional argument (``task``, ``teacher``)."""
    mine, theirs = flat_options(args), flat_options(stored)
    refused = [f"the {positional} {mine[positional]} (stored: {theirs[positional]})"] \
        if mine[positional] != theirs[positional] and mine[positional] else []
    shortcut_of = {field: short for short, field in SHORTCUTS.items() if getattr(args, short, None) is not None}
    for name, value in mine.items():
        if name in RESUME_SAFE or name.startswith("ray.") or name in SHORTCUTS or name == positional:
            continue
        if _shown(value) != _shown(theirs.get(name, "not set")):
            short = shortcut_of.get(name)
            spelled = f"{_flag(short)} {_shown(getattr(args, short))}" if short else f"{_flag(name)} {_shown(value)}"
            refused.append(f"{spelled} (stored: {_shown(theirs.get(name, 'not set'))})")
    # terms switched off (--env.<table>.<term> None): none of their options is left
    gone = {_term_gone(name, mine) for name in theirs if name not in mine and name.startswith("env.")} - {""}
    refused += [f"{_flag(term)} None (stored: a term)" for term in sorted(gone)]
    return refused


def _term_gone(name: str, mine: dict[str, Any]) -> str:
    """The term (``env.events.push``) that option ``name`` (``env.events.push.params.velocity``) belongs to when
    ``mine`` has none of that term's options (it was switched off), else ''."""
    from stridelab.config import is_term_path

    parts = tuple(name.split("."))
    for i in range(2, len(parts) + 1):
        term = ".".join(parts[:i])
        if is_term_path(EnvConfig, parts[1:i]) and not any(k == term or k.startswith(term + ".") for k in mine):
            return term
    return ""


def resolve(args: Args, reparse: Callable[[Args], Args]) -> Args:
    """The final options: parsed against the right task's defaults (or the stored run's), shortcuts applied.

    Raises:
        ConfigError: an unknown task, ``--env.task`` naming another task, a shortcut disagreeing with its
            field, options that would change a resumed run, or no valid checkpoint at ``--resume``.
    """
    defaults = task_defaults(args.task)
    if args.task != args.env.task:  # a positional task among the options: parse against its defaults
        args = reparse(defaults)
        check(args.env.task == args.task, f"--env.task {args.env.task} differs from the task {args.task}; give the "
                                          f"task only as the positional argument.")
    if args.resume:
        return resumed(args, reparse, lambda env_cfg, train_cfg: Args(task=env_cfg.task, env=env_cfg, train=train_cfg),
                       "task")
    args = with_shortcuts(args, defaults)
    from stridelab.tasks.registry import with_robot_weights

    args = dataclasses.replace(args, env=with_robot_weights(args.env, defaults.env))
    if args.dynamics:  # the randomization centred on identified dynamics (stridelab sysid's params.yaml)
        from stridelab.sysid.dynamics import centred_env_cfg, load_dynamics

        args = dataclasses.replace(args, env=centred_env_cfg(args.env, load_dynamics(args.dynamics),
                                                             args.dynamics_ranges))
    return args


def resumed(args: Any, reparse: Callable[[Any], Any], stored_args: Callable[[EnvConfig, TrainConfig], Any],
            positional: str) -> Any:
    """The options of ``--resume RUN``: parsed again with the run's stored configs as defaults (``stored_args``
    makes the command's options from them), shortcuts applied.

    Raises:
        ConfigError: options that would change the stored configuration, named in one sentence.
        CheckpointError: no valid checkpoint at ``--resume``.
    """
    from stridelab.learn.checkpoint import latest_checkpoint, load_checkpoint, run_dir_of
    from stridelab.learn.policy import configs_of

    ckpt = latest_checkpoint(Path(args.resume))
    defaults = stored_args(*configs_of(load_checkpoint(ckpt), ckpt))
    args = with_shortcuts(reparse(defaults), defaults)
    refused = _refusals(args, defaults, positional)
    check(not refused, f"--resume continues {run_dir_of(ckpt)} with the configuration stored in its checkpoint, "
                       f"so it cannot apply {', '.join(refused)}; drop {'it' if len(refused) == 1 else 'them'} "
                       f"or start a new run without --resume.")
    return args


# ---- running -------------------------------------------------------------------------------------

def _rollout_env(env_cfg: EnvConfig, placement: RayOptions) -> Any:
    """The Ray workers' env to train on, or ``None`` in-process (the trainer builds the env)."""
    if not placement.distributed:
        return None
    from stridelab.distributed.vec_env import RayVecEnv

    return RayVecEnv(env_cfg, placement)


def run(args: Args) -> int:
    """Train (or ``--resume``) a run, then evaluate, plot and render it unless ``--no-eval``."""
    return run_training(args, Path(args.log_dir) / args.env.task, f"stridelab train {args.env.task}")


def run_training(args: Any, parent: Path, again: str) -> int:
    """Train (or ``--resume``) a run in a new directory below ``parent`` with ``args.env`` and ``args.train``, then
    evaluate, plot and render it unless ``args.eval`` is off. ``args`` holds the options of ``train`` (``resume``,
    ``init_from``, ``ray``, ``device`` and the evaluation's); ``again`` is the command that continues it."""
    from stridelab.app.eval import print_report
    from stridelab.eval.report import evaluate_run, grid_verdict, play_run
    from stridelab.learn import trainer as trainer_module
    from stridelab.learn.rundir import existing_ancestor, remove_empty, reserve_run_dir

    env_cfg, train_cfg = args.env, args.train

    def walk_check(policy):
        return grid_verdict(policy, env_cfg, args.eval_envs_per_command, args.eval_duration_s)

    if args.resume:
        from stridelab.learn.checkpoint import latest_checkpoint, run_dir_of

        ckpt = latest_checkpoint(Path(args.resume))
        run_dir, keep = run_dir_of(ckpt), None
    else:
        # the name is taken atomically; if the env does not build (a bad robot file, an option), nothing stays
        ckpt = None
        keep = existing_ancestor(parent)
        run_dir = reserve_run_dir(parent)
    env = None
    try:
        env = _rollout_env(env_cfg, args.ray)
        trainer = trainer_module.Trainer(env_cfg, train_cfg, run_dir, seed=env_cfg.seed, walk_check=walk_check,
                                         env=env, device=args.device)
        if getattr(args, "init_from", None):
            trainer.init_from(Path(args.init_from))
    except BaseException:
        if env is not None:
            env.close()
        if keep is not None:
            remove_empty(run_dir.absolute(), keep)
        raise
    try:
        save_yaml({"task": env_cfg.task, "seed": env_cfg.seed, "env": env_cfg, "train": train_cfg,
                   "placement": {"ray": args.ray, "device": args.device}}, run_dir / "config.yaml")
        if ckpt is not None:
            trainer.load(ckpt)
        where = "" if not args.ray.distributed else (f" on {args.ray.workers} Ray workers" if args.ray.workers
                                                     else " on the Ray cluster's workers")
        log.info("training %s with %d envs%s in %s", env_cfg.task, env_cfg.num_envs, where, run_dir)
        result = trainer.train(fresh=ckpt is None, show_progress=sys.stderr.isatty())
    finally:
        trainer.close()  # stops the Ray workers before evaluation needs the cores
    log.info("stopped (%s) after %d iterations, %d env steps, %.0f s; checkpoint %s", result.stopped_because,
             result.iterations, result.env_steps, result.seconds, result.checkpoint)
    if result.walk_checks:
        from stridelab.files import write_atomic

        write_atomic(run_dir / "walk_checks.json", lambda f: f.write(json.dumps(result.walk_checks, indent=2)),
                     binary=False)
    if result.stopped_because == "interrupted":
        print(f"interrupted: checkpoint saved to {result.checkpoint}; continue with `{again} --resume {run_dir}`")
        return 130
    if not args.eval:
        return 0
    report = evaluate_run(run_dir, args.eval_envs_per_command, args.eval_duration_s)
    play_run(run_dir, video=args.video, duration_s=args.play_duration_s)
    print_report(report, run_dir)
    return 0
