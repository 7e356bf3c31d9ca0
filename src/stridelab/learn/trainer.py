"""Training: rsl-rl-lib's own ``learn()`` loop on a stridelab env, with checkpoints, resume and walk checks.

rsl-rl-lib's runner (``train_cfg.runner_class``, by default
:class:`~stridelab.learn.runners.StridelabRunner`: PPO, actor on ``policy``, critic on ``policy`` +
``privileged``, observation normalizers) builds the algorithm and its TensorBoard logger and runs
the iterations: rollouts, updates, its NaN check of every env step, its logging. Its per-iteration
``save`` call is this module's hook (:meth:`Trainer._on_iteration`): it writes stridelab's atomic
checkpoints, adds ``Perf/unstable_total`` and the walk checks' ``Eval/*`` scalars to rsl-rl's
writer, updates the progress display, and ends ``learn()`` when the time budget is spent or the
policy walks. Ctrl-C saves a checkpoint. rsl-rl's console output goes to ``logging`` (debug level).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rsl_rl.utils.log_writer import LogWriter

from stridelab.config import EnvConfig
from stridelab.envs import make_env
from stridelab.envs.snapshot import env_state_dict, load_env_state
from stridelab.errors import CheckpointError, ConfigError
from stridelab.learn.checkpoint import (check_training_state, checkpoint_name, latest_checkpoint, load_checkpoint,
                                        load_rollout_state, rollout_state, save_checkpoint, training_checkpoint)
from stridelab.learn.config import TrainConfig
from stridelab.learn.models import InferencePolicy, build_model
from stridelab.learn.runners import StopTraining, StridelabRunner, resolve_runner
from stridelab.learn.widen import centre_new_columns, checkpoint_group_sizes, input_columns, widen_state

log = logging.getLogger(__name__)

WalkCheck = Callable[[InferencePolicy], dict[str, Any]]


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        run_dir: the run directory (checkpoints/, TensorBoard events).
        iterations: completed learning iterations (resumed ones included).
        env_steps: env transitions collected.
        seconds: wall-clock training time [s].
        checkpoint: the last checkpoint written.
        stopped_because: ``"max_iterations" | "max_minutes" | "walks" | "interrupted"``.
        walk_checks: the walk checks of this call to :meth:`Trainer.train`, in order.
    """

    run_dir: Path
    iterations: int
    env_steps: int
    seconds: float
    checkpoint: Path
    stopped_because: str
    walk_checks: list


def resolve_symmetry(train_cfg: TrainConfig, env: Any) -> str:
    """The symmetry mode to train with: ``auto`` becomes ``augment`` (MLP actor) or ``loss`` (recurrent actor:
    the sequence mirror loss) when the env can be mirrored, else ``off``."""
    from stridelab.learn.symmetry import mirror_maps, supports_symmetry

    if train_cfg.symmetry == "auto":
        mode = ("augment" if train_cfg.rnn_type == "none" else "loss") if supports_symmetry(env) else "off"
    else:
        mode = train_cfg.symmetry
        if mode != "off":
            mirror_maps(env)  # a term that cannot be mirrored raises its one-sentence error here
    log.info("symmetry: %s", mode)
    return mode


def check_device(device: str) -> str:
    """The torch device the learner runs on: ``cpu``, or ``cuda``/``cuda:N`` when torch sees that GPU.

    Raises:
        ConfigError: an unknown device name, or a CUDA device torch cannot see.
    """
    name = device.strip().lower()
    if name == "cpu":
        return "cpu"
    kind, _, index = name.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise ConfigError(f"--device {device!r} is unknown; use cpu, cuda or cuda:N.")
    if not torch.cuda.is_available() or (index and int(index) >= torch.cuda.device_count()):
        raise ConfigError(f"--device {device}: torch sees no such CUDA device on this machine; use --device cpu, "
                          f"or run the learner on a node with a GPU and a CUDA build of torch.")
    return name


class Trainer:
    """One training run: the env, an rsl-rl runner on it, and the run directory.

    Attributes:
        env: the training env (``env_cfg.num_envs`` envs).
        runner: the rsl-rl runner; ``runner.alg`` is the algorithm (``runner.alg.actor`` for PPO).
        iteration: completed learning iterations.
        env_steps: env transitions collected (iterations x ``num_steps_per_env`` x ``num_envs``).
        train_seconds: wall-clock training time [s], walk checks included.
    """

    def __init__(self, env_cfg: EnvConfig, train_cfg: TrainConfig, run_dir: Path, seed: int,
                 walk_check: WalkCheck | None = None, env: Any = None, device: str = "cpu") -> None:
        """Build the env and the runner (``walk_check(policy)`` returns a dict with ``walks``,
        ``lin_vel_error`` [m/s], ``yaw_rate_error`` [rad/s] and ``fall_rate`` [0-1]).

        ``env``: the rsl-rl ``VecEnv`` to train on, if not ``make_env(env_cfg)`` (e.g. the Ray workers'
        :class:`~stridelab.distributed.vec_env.RayVecEnv`); the trainer owns and closes it. ``device`` is where
        the learner's networks live (``cpu``, ``cuda``, ``cuda:N``).
        """
        self.env_cfg = env_cfg
        self.train_cfg = train_cfg
        self.run_dir = Path(run_dir)
        self.seed = seed
        self.walk_check = walk_check
        self.device = check_device(device)
        runner_class = resolve_runner(train_cfg.runner_class)
        torch.manual_seed(seed)
        torch.set_num_threads(train_cfg.torch_threads)
        self.env = env if env is not None else make_env(env_cfg)
        try:
            self.symmetry = resolve_symmetry(train_cfg, self.env)
            with _stdout_to_log():  # rsl-rl prints the observation sets and the models
                self.runner: StridelabRunner = runner_class(self.env, train_cfg.rsl_rl_dict(self.symmetry),
                                                            log_dir=str(self.run_dir), device=self.device)
        except BaseException:
            self.close()
            raise
        self.runner.on_iteration = self._on_iteration
        self.iteration = 0
        self.env_steps = 0
        self.train_seconds = 0.0
        self._policy_spec = self._describe_policy()
        bind = getattr(self.env, "bind_policy", None)
        if bind is not None:  # an env whose workers run copies of the actor (asynchronous Ray rollouts)
            bind(self._policy_spec, self.runner.alg.get_policy, train_cfg.num_steps_per_env)
        self._saved_at: int | None = None  # iteration of the last checkpoint written by this trainer
        self._last_path: Path | None = None
        # per call to train()
        self._clock = self._iteration_start = self._last_check = 0.0
        self._checks: list[dict] = []
        self._progress: Progress | None = None
        self._task: Any = None  # the progress bar's task id
        self._show = False

    def close(self) -> None:
        """Release the env (a Ray run stops its workers, and Ray if it started it); idempotent."""
        close = getattr(getattr(self, "env", None), "close", None)
        if close is not None:
            close()

    def _describe_policy(self) -> dict[str, Any]:
        """The checkpoint keys that let the policy be rebuilt without an env or a runner."""
        runner, name = self.runner, self.runner.policy_model
        obs = self.env.get_observations()
        return {
            "algorithm": type(runner.alg).__name__,
            "policy_model": name,
            "policy_cfg": copy.deepcopy(runner.cfg[name]),
            "policy_obs_groups": {g: int(obs[g].shape[-1]) for g in runner.cfg["obs_groups"][name]},
            "num_actions": int(self.env.num_actions),
        }

    # ---- checkpoints -----------------------------------------------------------------------------
    def save(self) -> Path:
        """Write a checkpoint of the current state to ``run_dir/checkpoints/model_<iteration>.pt``."""
        alg = self.runner.alg
        data = training_checkpoint(
            **self._policy_spec, algorithm_state=alg.save(), learning_rate=getattr(alg, "learning_rate", None),
            iteration=self.iteration, env_steps=self.env_steps, train_seconds=self.train_seconds, seed=self.seed,
            torch_rng=torch.get_rng_state(), env_state=self._env_state(), env_cfg=self.env_cfg,
            train_cfg=self.train_cfg, rollout_state=rollout_state(alg))
        self._last_path = save_checkpoint(data, self.run_dir / "checkpoints" / checkpoint_name(self.iteration))
        self._saved_at = self.iteration
        return self._last_path

    def load(self, path: Path) -> None:
        """Restore a checkpoint written by :meth:`save` so that :meth:`train` continues it exactly."""
        path = Path(path)
        data = load_checkpoint(path)
        check_training_state(data, path)
        alg = self.runner.alg
        if (data["algorithm"], data["policy_model"]) != (type(alg).__name__, self.runner.policy_model):
            raise CheckpointError(f"checkpoint {str(path)!r} was written by {data['algorithm']} but this run trains "
                                  f"{type(alg).__name__}; resume with the train config stored in the checkpoint.")
        try:
            alg.load(data["algorithm_state"], None, strict=True)
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} does not fit this task's networks "
                                  f"({str(exc).strip().splitlines()[0][:100]}); use the task and network sizes it "
                                  f"was trained with.") from None
        if data["learning_rate"] is not None:
            alg.learning_rate = float(data["learning_rate"])
            for group in alg.optimizer.param_groups:
                group["lr"] = alg.learning_rate
        self._load_env_state(data["env_state"], path)
        load_rollout_state(alg, data.get("rollout_state"))  # a recurrent policy continues with its hidden state
        self.iteration = int(data["iteration"])
        self.env_steps = int(data["env_steps"])
        self.train_seconds = float(data["train_seconds"])
        torch.set_rng_state(data["torch_rng"])
        self.runner.current_learning_iteration = self.iteration  # rsl-rl continues at this iteration index
        self._saved_at = None
        log.info("resumed from %s at iteration %d", path, self.iteration)

    def init_from(self, path: Path) -> None:
        """Start this new run from a trained policy (fine-tuning): the actor's weights, action std and normalizer
        from a checkpoint (or a run's newest one), and its critic when it fits this task's critic observations
        (else the critic starts fresh, with a warning). Optimizer, iteration count, RNG and env start fresh.

        A task that reads more observation terms than the checkpoint (the cave's ceiling scan) gets the
        checkpoint's network with zero weight on the new inputs (:mod:`stridelab.learn.widen`)."""
        path = latest_checkpoint(Path(path))
        data = load_checkpoint(path)
        state, alg = data["algorithm_state"], self.runner.alg
        old_obs = data.get("config", {}).get("env", {}).get("observations", {})
        groups = getattr(getattr(self.env, "observations", None), "groups", None)
        try:
            actor_state = state["actor_state_dict"]
            if groups is not None and dict(data["policy_obs_groups"]) != self._group_sizes(alg.actor.obs_groups):
                index, width = input_columns(dict(data["policy_obs_groups"]), old_obs, groups, alg.actor.obs_groups)
                actor_state, widened = widen_state(actor_state, alg.actor.state_dict(), index, width)
                actor_state = centre_new_columns(actor_state, index, self._inputs(alg.actor.obs_groups))
                log.warning("the policy of %s reads fewer observations than this task's; new inputs start with zero "
                            "weight (%s widened)", path, ", ".join(widened))
            alg.actor.load_state_dict(actor_state, strict=True)
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"cannot start from {str(path)!r}: its actor does not fit this run's "
                                  f"({str(exc).strip().splitlines()[0][:100]}); use the policy type, network sizes "
                                  f"and observations it was trained with.") from None
        try:
            critic_state = state["critic_state_dict"]
            old_critic = data.get("config", {}).get("train", {}).get("critic_obs_groups")
            if groups is not None and old_critic:
                sizes = checkpoint_group_sizes(old_obs, groups, old_critic)
                index, width = input_columns(sizes, old_obs, groups, alg.critic.obs_groups)
                critic_state, _ = widen_state(critic_state, alg.critic.state_dict(), index, width)
                critic_state = centre_new_columns(critic_state, index, self._inputs(alg.critic.obs_groups))
            alg.critic.load_state_dict(critic_state, strict=True)
        except (RuntimeError, KeyError, CheckpointError):
            log.warning("the critic of %s does not fit this task's critic; it starts fresh", path)
        log.info("starting from the policy of %s", path)

    def _inputs(self, names: list[str]) -> torch.Tensor:
        """The env's current observations of groups ``names``, concatenated as a network reads them. Shape:
        (num_envs, D)."""
        obs = self.env.get_observations()
        return torch.cat([obs[g] for g in names], dim=-1).float().cpu()

    def _group_sizes(self, names: list[str]) -> dict[str, int]:
        groups = self.env.observations.groups
        return {g: groups[g].frame_size * (groups[g].cfg.history + 1) for g in names}

    def _env_state(self) -> dict:
        """The env's snapshot: an in-process env's, or a Ray env's (every worker's, ``layout: ray``)."""
        own = getattr(self.env, "env_state_dict", None)
        return own() if own is not None else env_state_dict(self.env)

    def _load_env_state(self, state: dict, path: Path) -> None:
        """Continue the checkpoint's envs; when the run moved between in-process and Ray workers (or to
        another number of workers) they cannot be continued: the envs start afresh, with a warning."""
        own = getattr(self.env, "load_env_state", None)
        saved_on_ray, on_ray = state.get("layout") == "ray", own is not None
        same_layout = saved_on_ray == on_ray and (not on_ray or list(state["sizes"]) == list(self.env.pool.sizes))
        if not same_layout:
            trained = f"on Ray workers with {state['sizes']} envs" if saved_on_ray else "in-process"
            log.warning("checkpoint %s was trained %s; the envs start afresh here (policy, optimizer and counters "
                        "continue)", path, trained)
            return
        if on_ray:
            own(state)
        else:
            load_env_state(self.env, state)

    # ---- training --------------------------------------------------------------------------------
    def train(self, fresh: bool = True, show_progress: bool = True) -> TrainResult:
        """Run rsl-rl's ``learn()`` until ``max_iterations``, ``max_minutes``, a passed walk check or Ctrl-C.

        Args:
            fresh: a new run: episode lengths start at random (as legged_gym does). Pass ``False``
                after :meth:`load` so that the run continues exactly.
            show_progress: a rich progress bar on stderr; otherwise a log line every 10 iterations.
        """
        cfg, runner = self.train_cfg, self.runner
        remaining = cfg.max_iterations - self.iteration
        self._clock = time.monotonic() - self.train_seconds
        self._last_check = self.train_seconds
        self._checks = []
        self._show = show_progress
        self._progress = _progress(show_progress)
        self._task = self._progress.add_task("train", total=cfg.max_iterations, completed=self.iteration, info="")
        runner.current_learning_iteration = self.iteration
        stopped, finished = "max_iterations", False
        try:
            with self._progress, _stdout_to_log(), _terminate_as_interrupt():  # rsl-rl prints per iteration
                self._iteration_start = time.monotonic()
                if remaining > 0:
                    runner.learn(remaining, init_at_random_ep_len=fresh)
            finished = True
        except StopTraining as stop:
            stopped = stop.reason
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (``kill PID``, a scheduler's preemption)
            stopped = "interrupted"
            log.warning("interrupted: saving a checkpoint at iteration %d", self.iteration)
            runner.alg.storage.clear()  # drop the partial rollout, so that train() can be called again
        finally:
            self._close_writer(stopped_by_rsl_rl=finished and remaining > 0)
        path = self._last_path if self._saved_at == self.iteration and self._last_path else self.save()
        return TrainResult(self.run_dir, self.iteration, self.env_steps, self.train_seconds, path, stopped,
                           self._checks)

    def _on_iteration(self, completed: int) -> None:
        """End-of-iteration hook (called by the runner's ``save``): books, logs, saves, maybe stops."""
        if completed <= self.iteration:  # rsl-rl's extra save() after its loop
            return
        cfg, now = self.train_cfg, time.monotonic()
        steps = cfg.num_steps_per_env * self.env.num_envs
        self.iteration = completed
        self.env_steps += steps
        self.train_seconds = now - self._clock
        step = completed - 1  # rsl-rl's index of this iteration in TensorBoard
        writer = self.runner.logger.writer
        unstable = getattr(self.env, "unstable_total", None)
        if writer is not None and unstable is not None:
            writer.add_scalar("Perf/unstable_total", unstable, step)
        self._report(steps / max(now - self._iteration_start, 1e-9))
        if completed % cfg.save_interval == 0:
            self.save()
        if cfg.max_minutes and self.train_seconds >= cfg.max_minutes * 60:
            raise StopTraining("max_minutes")
        if (cfg.stop_when_walks and self.walk_check is not None
                and self.train_seconds - self._last_check >= cfg.check_every_s
                and self._training_lin_vel_error() <= cfg.check_below_lin_vel_error):
            if self._check_walk(step)["walks"]:
                raise StopTraining("walks")
        self._iteration_start = time.monotonic()

    def _training_lin_vel_error(self) -> float:
        """The training policy's planar tracking error at the last step [m/s] (inf if unknown)."""
        value = getattr(self.env, "extras", {}).get("log", {}).get("Metrics/lin_vel_error")
        return float(value) if value is not None else float("inf")

    def _check_walk(self, step: int) -> dict:
        """Run the walk check on a copy of the current policy, rebuilt as :func:`load_policy` would rebuild it
        from a checkpoint (the learner's models and recurrent state stay untouched)."""
        policy = InferencePolicy(build_model(self._policy_spec, self.runner.alg.get_policy().state_dict()))
        check = dict(self.walk_check(policy))
        self._last_check = self.train_seconds = time.monotonic() - self._clock
        check.update(iteration=self.iteration, env_steps=self.env_steps, seconds=round(self.train_seconds, 1))
        self._checks.append(check)
        writer = self.runner.logger.writer
        if writer is not None:
            for key in ("lin_vel_error", "yaw_rate_error", "fall_rate"):
                writer.add_scalar(f"Eval/{key}", check[key], step)
        log.info("walk check at %.0f s (%d env steps): lin err %.3f m/s, yaw err %.3f rad/s, falls %.1f%% -> %s",
                 self.train_seconds, self.env_steps, check["lin_vel_error"], check["yaw_rate_error"],
                 100 * check["fall_rate"], "walks" if check["walks"] else "not yet")
        return check

    def _report(self, steps_per_s: float) -> None:
        """Progress bar (on a TTY) or a log line every 10 iterations."""
        rewards = getattr(self.runner.logger, "rewbuffer", None)
        reward = statistics.mean(rewards) if rewards else float("nan")
        lin_err = getattr(self.env, "extras", {}).get("log", {}).get("Metrics/lin_vel_error")
        status = f"reward {reward:7.2f}"
        if lin_err is not None:
            status += f"  lin err {float(lin_err):.2f} m/s"
        status += f"  {steps_per_s:,.0f} steps/s"
        if self._progress is not None:
            self._progress.update(self._task, completed=self.iteration, info=status)
        if not self._show and self.iteration % 10 == 0:
            log.info("it %d/%d  %s  %.0f s", self.iteration, self.train_cfg.max_iterations, status,
                     self.train_seconds)

    def _close_writer(self, stopped_by_rsl_rl: bool) -> None:
        """Stop (when rsl-rl did not) and close rsl-rl's log writer so every scalar is on disk."""
        logger = self.runner.logger
        if logger.writer is None:
            return
        if isinstance(logger.writer, LogWriter):
            if not stopped_by_rsl_rl:
                logger.stop_logging_writer()
        elif hasattr(logger.writer, "close"):
            logger.writer.close()  # TensorBoard's SummaryWriter: flush and close the event file


class _StdoutToLog(io.TextIOBase):
    """A text stream that sends complete, non-empty lines to ``log.debug``."""

    def __init__(self) -> None:
        super().__init__()
        self._buf = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if log.isEnabledFor(logging.DEBUG):
            *lines, self._buf = (self._buf + text).split("\n")
            for line in lines:
                if line.strip():
                    log.debug("rsl-rl: %s", line.rstrip())
        return len(text)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops training as Ctrl-C does (a checkpoint of the last whole iteration is saved): ``kill PID``,
    a batch scheduler's preemption. A run started in the background by a non-interactive shell (``nohup ...
    &``) ignores SIGINT, so SIGTERM is how it is stopped. Only in the main thread; the old handler comes back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _stdout_to_log() -> Iterator[None]:
    with contextlib.redirect_stdout(_StdoutToLog()):
        yield


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]it {task.completed}/{task.total}"), BarColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=Console(file=sys.stderr),
        disable=not show, transient=False, redirect_stdout=False,
    )
