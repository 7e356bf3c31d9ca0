"""The training loop: rsl-rl-lib PPO on a LocomotionEnv, with checkpoints, resume and walk checks.

rsl-rl-lib's ``OnPolicyRunner`` builds the algorithm (PPO, actor on ``policy``, critic on
``policy`` + ``privileged``, observation normalizers) and its TensorBoard logger; this module runs
the iterations itself so that it can show a progress bar, save exact-resume checkpoints atomically,
stop on Ctrl-C with a checkpoint, and stop once the policy walks.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rsl_rl.runners import OnPolicyRunner

from stridelab.config import EnvConfig
from stridelab.envs.locomotion_env import LocomotionEnv
from stridelab.envs.snapshot import env_state_dict, load_env_state
from stridelab.learn.checkpoint import checkpoint_name, load_checkpoint, save_checkpoint
from stridelab.learn.config import TrainConfig
from stridelab.learn.policy import config_dict

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run produced."""

    run_dir: Path
    iterations: int
    env_steps: int
    seconds: float
    checkpoint: Path
    stopped_because: str  # "max_iterations" | "max_minutes" | "walks" | "interrupted"
    walk_checks: list


def build_runner(env: LocomotionEnv, train_cfg: TrainConfig, log_dir: Path | None) -> OnPolicyRunner:
    """An rsl-rl-lib runner (PPO + models + logger) for ``env``; torch threads set from the config."""
    torch.set_num_threads(train_cfg.torch_threads)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # rsl-rl prints the model summary
        runner = OnPolicyRunner(env, train_cfg.rsl_rl_dict(), log_dir=str(log_dir) if log_dir else None, device="cpu")
    log.debug("%s", out.getvalue())
    return runner


def policy_state(runner: OnPolicyRunner) -> dict:
    """The learner's state: models, optimizer and the adaptive learning rate."""
    alg = runner.alg
    saved = alg.save()
    saved["learning_rate"] = float(alg.learning_rate)
    return saved


def load_policy_state(runner: OnPolicyRunner, data: dict) -> None:
    """Restore models, optimizer and learning rate saved by :func:`policy_state`."""
    from stridelab.errors import CheckpointError

    alg = runner.alg
    try:
        alg.load(data, None, strict=True)
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"the checkpoint does not fit this task's networks ({str(exc).splitlines()[0][:100]}); "
                              f"use the task and network sizes it was trained with.") from None
    alg.learning_rate = float(data.get("learning_rate", alg.learning_rate))
    for group in alg.optimizer.param_groups:
        group["lr"] = alg.learning_rate


class Trainer:
    """Owns the env, the rsl-rl runner and the run directory of one training run."""

    def __init__(self, env_cfg: EnvConfig, train_cfg: TrainConfig, run_dir: Path, seed: int,
                 walk_check=None) -> None:
        self.env_cfg = env_cfg
        self.train_cfg = train_cfg
        self.run_dir = Path(run_dir)
        self.seed = seed
        self.walk_check = walk_check  # callable(policy) -> dict with "walks"
        torch.manual_seed(seed)
        self.env = LocomotionEnv(env_cfg)
        self.runner = build_runner(self.env, train_cfg, self.run_dir)
        self.iteration = 0  # completed iterations
        self.env_steps = 0
        self.train_seconds = 0.0

    # ---- checkpoints -----------------------------------------------------------------------------
    def save(self) -> Path:
        data = policy_state(self.runner)
        data.update({
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "train_seconds": self.train_seconds,
            "seed": self.seed,
            "torch_rng": torch.get_rng_state(),
            "env_state": env_state_dict(self.env),
            "config": config_dict(self.env_cfg, self.train_cfg),
        })
        return save_checkpoint(data, self.run_dir / "checkpoints" / checkpoint_name(self.iteration))

    def load(self, path: Path) -> None:
        data = load_checkpoint(path)
        load_policy_state(self.runner, data)
        if "env_state" in data:
            load_env_state(self.env, data["env_state"])
        self.iteration = int(data.get("iteration", 0))
        self.env_steps = int(data.get("env_steps", 0))
        self.train_seconds = float(data.get("train_seconds", 0.0))
        if "torch_rng" in data:
            torch.set_rng_state(data["torch_rng"])
        log.info("resumed from %s at iteration %d", path, self.iteration)

    # ---- loop ------------------------------------------------------------------------------------
    def train(self, fresh: bool = True, show_progress: bool = True) -> TrainResult:
        """Run iterations until a budget ends, the policy walks (if asked), or Ctrl-C."""
        cfg, env, runner, alg = self.train_cfg, self.env, self.runner, self.runner.alg
        if fresh:
            # stagger episode ends, as legged_gym does (only at the start, so resume stays exact)
            env._ep_len[:] = env.rng.integers(0, env.max_episode_length, size=env.num_envs)
        with contextlib.redirect_stdout(io.StringIO()):  # rsl-rl announces where it stores the git diff
            runner.logger.init_logging_writer()
        obs = env.get_observations()
        alg.train_mode()
        start_time = time.monotonic() - self.train_seconds
        last_check = self.train_seconds
        stopped, checks = "max_iterations", []
        steps_per_iter = cfg.num_steps_per_env * env.num_envs
        progress = _progress(show_progress)
        task = progress.add_task("train", total=cfg.max_iterations, completed=self.iteration, info="")
        try:
            with progress:
                while self.iteration < cfg.max_iterations:
                    t0 = time.monotonic()
                    with torch.inference_mode():
                        for _ in range(cfg.num_steps_per_env):
                            actions = alg.act(obs)
                            obs, rewards, dones, extras = env.step(actions)
                            alg.process_env_step(obs, rewards, dones, extras)
                            runner.logger.process_env_step(rewards, dones, extras, None)
                        t1 = time.monotonic()
                        alg.compute_returns(obs)
                    loss = alg.update()
                    t2 = time.monotonic()
                    self.iteration += 1
                    self.env_steps += steps_per_iter
                    self.train_seconds = time.monotonic() - start_time
                    self._log(loss, t1 - t0, t2 - t1, extras)
                    progress.update(task, completed=self.iteration, info=self._status())
                    if not show_progress and self.iteration % 10 == 0:
                        log.info("it %d/%d  %s  %.0f s", self.iteration, cfg.max_iterations, self._status(),
                                 self.train_seconds)
                    if self.iteration % cfg.save_interval == 0:
                        self.save()
                    if cfg.max_minutes and self.train_seconds >= cfg.max_minutes * 60:
                        stopped = "max_minutes"
                        break
                    if (cfg.stop_when_walks and self.walk_check is not None
                            and self.train_seconds - last_check >= cfg.check_every_s):
                        check = self._check_walk()
                        checks.append(check)
                        last_check = self.train_seconds = time.monotonic() - start_time
                        if check["walks"]:
                            stopped = "walks"
                            break
        except KeyboardInterrupt:
            stopped = "interrupted"
            log.warning("interrupted: saving a checkpoint at iteration %d", self.iteration)
        path = self.save()
        runner.logger.stop_logging_writer()
        if runner.logger.writer is not None:
            runner.logger.writer.flush()
        return TrainResult(self.run_dir, self.iteration, self.env_steps, self.train_seconds, path, stopped, checks)

    def _check_walk(self) -> dict:
        policy = self.runner.get_inference_policy()
        check = self.walk_check(policy)
        self.runner.alg.train_mode()
        check.update(iteration=self.iteration, env_steps=self.env_steps, seconds=round(self.train_seconds, 1))
        w = self.runner.logger.writer
        if w is not None:
            w.add_scalar("Eval/lin_vel_error", check["lin_vel_error"], self.iteration)
            w.add_scalar("Eval/yaw_rate_error", check["yaw_rate_error"], self.iteration)
            w.add_scalar("Eval/fall_rate", check["fall_rate"], self.iteration)
        log.info("walk check at %.0f s (%d env steps): lin err %.3f m/s, yaw err %.3f rad/s, falls %.1f%% -> %s",
                 self.train_seconds, self.env_steps, check["lin_vel_error"], check["yaw_rate_error"],
                 100 * check["fall_rate"], "walks" if check["walks"] else "not yet")
        return check

    def _log(self, loss: dict, collect_s: float, learn_s: float, extras: dict) -> None:
        logger = self.runner.logger
        lin_err = float(extras["log"]["Metrics/lin_vel_error"])  # read first: rsl-rl's logger converts it in place
        # rsl-rl's logger writes TensorBoard scalars and prints a block per iteration: keep the scalars,
        # drop the block (the progress bar shows the figures)
        with contextlib.redirect_stdout(io.StringIO()):
            logger.log(it=self.iteration, start_it=0, total_it=self.train_cfg.max_iterations, collect_time=collect_s,
                       learn_time=learn_s, loss_dict=loss, learning_rate=self.runner.alg.learning_rate,
                       action_std=self.runner.alg.get_policy().output_std, rnd_weight=None)
        self._last = {"reward": float(np.mean(logger.rewbuffer)) if logger.rewbuffer else float("nan"),
                      "lin_err": lin_err,
                      "fps": self.train_cfg.num_steps_per_env * self.env.num_envs / max(collect_s + learn_s, 1e-9)}
        if logger.writer is not None:
            logger.writer.add_scalar("Perf/unstable_total", self.env.unstable_total, self.iteration)

    def _status(self) -> str:
        s = self._last
        return f"reward {s['reward']:7.2f}  lin err {s['lin_err']:.2f} m/s  {s['fps']:,.0f} steps/s"


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]it {task.completed}/{task.total}"), BarColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), disable=not show, transient=False,
    )
