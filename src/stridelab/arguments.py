"""The options of every ``stridelab`` command: one frozen dataclass per command, parsed by tyro
(``stridelab COMMAND --help``); :mod:`stridelab.cli` finds the command and the task and runs it."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import tyro

from stridelab.config import EnvConfig
from stridelab.errors import ConfigError
from stridelab.learn.config import TrainConfig

DEFAULT_TASK = "quadruped-flat"


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_ray(workers: int, ray_address: str | None, cpus_per_worker: int | None, what: str) -> None:
    """The checks of --workers, --ray-address and --cpus-per-worker (``what``: e.g. "Ray rollout workers")."""
    one = what.replace("workers", "worker")
    _check(workers >= 0, f"--workers {workers} is out of range; use 0 to run in-process or 1 or more {what}.")
    _check(cpus_per_worker is None or cpus_per_worker >= 1,
           f"--cpus-per-worker {cpus_per_worker} is out of range; give each {one} 1 or more CPUs.")
    _check(workers > 0 or ray_address is not None or cpus_per_worker is None,
           f"--cpus-per-worker sizes {what}; add --workers N (or --ray-address), or drop it.")
    _check(ray_address is None or bool(ray_address.strip()),
           "--ray-address is empty; use auto, HOST:PORT of `ray start --head`, or ray://HOST:10001.")


# ---- the commands' options -----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ListArgs:
    """List the registered tasks and robots."""


@dataclasses.dataclass(frozen=True)
class BenchArgs:
    """Env throughput against the raw mujoco.batch limit (control steps/s, best of alternating rounds).

    Attributes:
        task: registered task name (see `stridelab list`).
        num_envs: parallel environments; several sizes run one after the other.
        threads: physics threads (0: all cores).
        steps: control steps per round.
        rounds: measured rounds (after one warm-up round).
        seed: seed of the env and of the random actions.
        out: JSON file for the results (default: none, the results are only printed).
        robot: a registered robot name or a RobotSpec YAML file in place of the task's robot.
    """

    task: str = DEFAULT_TASK
    num_envs: tuple[int, ...] = (1024,)
    threads: int = 0
    steps: int = 50
    rounds: int = 5
    seed: int = 0
    out: Annotated[str | None, tyro.conf.arg(metavar="FILE")] = None
    robot: Annotated[str | None, tyro.conf.arg(metavar="SPEC")] = None

    def __post_init__(self) -> None:
        _check(bool(self.num_envs) and all(n >= 1 for n in self.num_envs),
               f"--num-envs {' '.join(map(str, self.num_envs))} is out of range; give 1 or more environments.")
        _check(self.threads >= 0, f"--threads {self.threads} is out of range; use 0 (all cores) or more.")
        _check(self.steps >= 1, f"--steps {self.steps} is out of range; use 1 or more control steps per round.")
        _check(self.rounds >= 1, f"--rounds {self.rounds} is out of range; use 1 or more rounds.")


@dataclasses.dataclass(frozen=True)
class TrainArgs:
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
            configs; only budgets, the save interval and the final evaluation may change.
        init_from: run directory (or checkpoint) whose trained policy a new run starts from (fine-tuning:
            its actor and, when it fits, its critic; a fresh optimizer); see --train.algorithm.max-kl.
        eval: evaluate, plot and render after training (--no-eval skips it).
        eval_envs_per_command: envs per grid command in the final evaluation.
        eval_duration_s: seconds each grid command is held in the final evaluation.
        play_duration_s: length of the recorded command tour (video and plots) [s].
        video: render video.mp4 after training.
        workers: Ray rollout workers started on a local Ray instance (or on the cluster of --ray-address);
            0 trains in-process. --num-envs stays the total, split evenly over the workers.
        ray_address: join an existing Ray cluster: auto, HOST:PORT of `ray start --head`, or ray://HOST:10001
            (without --workers: one worker per --cpus-per-worker free CPUs of the cluster).
        cpus_per_worker: CPUs each Ray worker reserves (None: 1); it steps its envs on that many mujoco.batch
            threads.
        async_rollouts: workers collect the next rollout with the previous weights while the learner updates
            (policy lag 1 iteration, logged as Ray/policy_lag); default: synchronous, exactly on-policy.
        device: where the learner's networks run: cpu, cuda or cuda:N (environments always run on CPUs).
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
    eval_envs_per_command: int = 4
    eval_duration_s: float = 10.0
    play_duration_s: float = 15.0
    video: bool = True
    workers: int = 0
    ray_address: Annotated[str | None, tyro.conf.arg(metavar="ADDRESS")] = None
    cpus_per_worker: int | None = None
    async_rollouts: bool = False
    device: str = "cpu"
    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        _check_ray(self.workers, self.ray_address, self.cpus_per_worker, "Ray rollout workers")
        _check(self.workers > 0 or self.ray_address is not None or not self.async_rollouts,
               "--async-rollouts needs Ray rollout workers; add --workers N (or --ray-address), or drop it.")
        _check(self.num_envs is None or self.num_envs >= 1,
               f"--num-envs {self.num_envs} is out of range; give 1 or more environments.")
        _check(self.max_iterations is None or self.max_iterations >= 0,
               f"--max-iterations {self.max_iterations} is out of range; give 0 or more iterations.")
        _check(self.max_minutes is None or self.max_minutes >= 0,
               f"--max-minutes {self.max_minutes} is out of range; give 0 (no limit) or more minutes.")
        _check(self.eval_envs_per_command >= 1,
               f"--eval-envs-per-command {self.eval_envs_per_command} is out of range; use 1 or more.")
        _check(self.eval_duration_s > 0 and self.play_duration_s > 0,
               "--eval-duration-s and --play-duration-s must be positive numbers of seconds.")


@dataclasses.dataclass(frozen=True)
class EvalArgs:
    """Evaluate a run on the command grid; writes eval.json and eval_grid.png. On a task with terrain
    (quadruped-rough, the ETG-RL courses) also the success per terrain type and level (eval.json's
    "terrain", terrain_success.png; see docs/terrain.md).

    Attributes:
        target: run directory or checkpoint file.
        envs_per_command: envs per grid command.
        duration: seconds each command is held (and each terrain-grid trial lasts).
        out: output directory (default: the run directory).
        terrain_trials: trials per terrain type and level.
        terrain_speed: forward command of the terrain trials [m/s].
        terrain_fraction: share of the commanded distance a terrain trial must walk (legged_gym's 0.5);
            a course's trial must cross the finish line within distance / (fraction x speed) seconds.
    """

    target: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN")]
    envs_per_command: int = 4
    duration: float = 10.0
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    terrain_trials: int = 8
    terrain_speed: float = 0.5
    terrain_fraction: float = 0.5

    def __post_init__(self) -> None:
        _check(self.envs_per_command >= 1,
               f"--envs-per-command {self.envs_per_command} is out of range; use 1 or more.")
        _check(self.terrain_trials >= 1, f"--terrain-trials {self.terrain_trials} is out of range; use 1 or more.")
        _check(self.terrain_speed > 0, f"--terrain-speed {self.terrain_speed} is out of range; give a speed > 0 m/s.")
        _check(0 < self.terrain_fraction <= 1,
               f"--terrain-fraction {self.terrain_fraction} is out of range; give a share in (0, 1].")
        _check(self.duration > 0, f"--duration {self.duration} is out of range; give a positive number of seconds.")


@dataclasses.dataclass(frozen=True)
class PlayArgs:
    """Render an mp4 and plots of a run through a command tour; --viewer for the interactive viewer.

    Several runs play as one ensemble: the mean of their policies' actions.

    Attributes:
        target: run directory or checkpoint file.
        out: output directory (default: the run directory; for an ensemble its ensemble/ folder).
        video: render video.mp4 (--no-video: plots only).
        duration: length of the command tour [s].
        viewer: open the interactive MuJoCo viewer instead (needs a display).
        ensemble: further runs or checkpoints: play the ensemble of all the policies given (their actions
            averaged; they must read the same observations).
    """

    target: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN")]
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    video: bool = True
    duration: float = 15.0
    viewer: bool = False
    ensemble: Annotated[tyro.conf.Positional[tuple[str, ...]], tyro.conf.arg(metavar="[RUN ...]")] = ()

    def __post_init__(self) -> None:
        _check(self.duration > 0, f"--duration {self.duration} is out of range; give a positive number of seconds.")


@dataclasses.dataclass(frozen=True)
class ExportArgs:
    """Write policy.onnx, policy.pt and policy.json (and robot.xml) for a robot.

    Several runs export as one ensemble: one model averaging their policies' actions.

    Attributes:
        target: run directory or checkpoint file.
        out: output directory (default: RUN_DIR/export, for an ensemble RUN_DIR/export_ensemble).
        ensemble: further runs or checkpoints: export the ensemble of all the policies given (they must read
            the same observations; recurrent members carry their own state).
    """

    target: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN")]
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    ensemble: Annotated[tyro.conf.Positional[tuple[str, ...]], tyro.conf.arg(metavar="[RUN ...]")] = ()


@dataclasses.dataclass(frozen=True)
class DeployArgs:
    """Run an exported policy in the safe control loop.

    Attributes:
        policy: policy.onnx (with policy.json beside it) or the export directory.
        backend: sim: a separate MuJoCo simulation; udp: a robot process on localhost (see deploy/bridge.py).
        sim2sim_report: run the evaluation grid in the deploy simulation and write a side-by-side report here.
        repeats: runs per grid command in the sim2sim report.
        duration: seconds to run.
        command: fixed velocity command (vx [m/s], vy [m/s], yaw rate [rad/s]).
        commands: CSV/JSON file of rows t,vx,vy,yaw_rate.
        keyboard: arrow keys change the command.
        latency: actuation latency of the sim backend [s]; default: the middle of the latency range the policy
            was trained with (policy.json's latency).
        realtime: run the sim backend at wall-clock speed.
        port: UDP port of the robot process.
    """

    policy: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="POLICY")]
    backend: Literal["sim", "udp"] = "sim"
    sim2sim_report: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    repeats: int = 2
    duration: float = 10.0
    command: Annotated[tuple[float, float, float], tyro.conf.arg(metavar="VX VY YAW")] = (0.5, 0.0, 0.0)
    commands: Annotated[str | None, tyro.conf.arg(metavar="FILE")] = None
    keyboard: bool = False
    latency: float | None = None
    realtime: bool = False
    port: int = 9870

    def __post_init__(self) -> None:
        _check(self.repeats >= 1, f"--repeats {self.repeats} is out of range; use 1 or more runs per command.")
        _check(self.duration > 0, f"--duration {self.duration} is out of range; give a positive number of seconds.")
        _check(self.latency is None or self.latency >= 0,
               f"--latency {self.latency} is out of range; give 0 or more seconds.")
        _check(1 <= self.port <= 65535, f"--port {self.port} is out of range; use 1 to 65535.")


@dataclasses.dataclass(frozen=True)
class RobotArgs:
    """Check a robot: joints, limits, gains, masses and feet; whether it stands in its default pose.

    ``stridelab robot check SPEC`` is the first thing to run on a new robot (exit 1 if it does not stand).

    Attributes:
        action: what to do (check).
        spec: a registered robot name or a RobotSpec YAML file.
        out: PNG of the pose after holding it.
        seconds: how long the default pose is held under the PD controllers [s].
    """

    action: Annotated[tyro.conf.Positional[Literal["check"]], tyro.conf.arg(metavar="check")]
    spec: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="SPEC")]
    out: Annotated[str, tyro.conf.arg(metavar="PNG")] = "robot_check.png"
    seconds: float = 5.0

    def __post_init__(self) -> None:
        _check(self.seconds > 0, f"--seconds {self.seconds} is out of range; give a positive number of seconds.")


@dataclasses.dataclass(frozen=True)
class TerrainArgs:
    """Draw a task's terrain to a PNG: a grid top-down (types, levels, key figures, spawn origins), or a
    course's side elevation (key figures, spawn, finish line) over its lanes seen from above.

    Attributes:
        preview: the PNG to write.
        task: registered task with terrain (see `stridelab list`).
        dpi: resolution of the picture.
    """

    preview: Annotated[str, tyro.conf.arg(metavar="PNG")] = "terrain.png"
    task: str = "quadruped-rough"
    dpi: int = 100

    def __post_init__(self) -> None:
        _check(10 <= self.dpi <= 1000, f"--dpi {self.dpi} is out of range; use 10 to 1000.")


@dataclasses.dataclass(frozen=True)
class EtgArgs:
    """ETG-RL: a gait generator evolved by ES, with a PPO residual on top (docs/etg.md).

    `stridelab etg TASK` trains both, alternating ES and PPO phases; `stridelab etg pretrain TASK` evolves
    the generator alone; `stridelab etg export RUN` exports the policy with the generator as a .npy table.

    Attributes:
        what: a quadruped task (dual training), `pretrain` or `export`.
        target: the task for `pretrain`, the run directory (or checkpoint) for `export`.
        etg_path: the generator to start from: generator.json (or a run directory holding one), or `none` for
            the fit of the prior trajectory.
        alg: evolution strategy: cma (CMA-ES), openai-es, pgpe, snes or cem (EvoTorch).
        act_bound: bound of the policy's residual [rad]: target = generator + act-bound * clip(action, -1, 1).
        popsize: ES candidates per generation.
        sigma: initial ES step [m of foot offset].
        envs_per_member: envs each candidate is evaluated in.
        es_episode_s: length of an ES evaluation episode [s].
        es_generations: ES generations per ES phase (dual training).
        rl_iterations: PPO iterations per RL phase (dual training).
        generations: ES generations of `pretrain`.
        gait: trot, pace or bound.
        frequency: gait frequency [Hz].
        num_rbf: RBF centres of the generator (with --etg-path none).
        step_length: step length of the prior trajectory [m] (with --etg-path none).
        foot_height: foot clearance of the prior trajectory [m] (with --etg-path none).
        seed: seed of the env, the learner and the ES.
        num_envs: PPO envs (default: the task's).
        max_iterations: PPO iteration budget (default: the task's).
        max_minutes: wall-clock budget in minutes, ES included (default: the task's; 0: none).
        log_dir: root of the run directories.
        eval: evaluate on the command grid after training.
        out: export directory (default: RUN/export).
        table_size: rows of the lookup table (phase grid) written by export (default: the run's).
        workers: evaluate the ES populations on this many Ray workers (a local Ray instance, or the cluster of
            --ray-address); 0: in-process. PPO stays in-process.
        ray_address: join an existing Ray cluster for the ES populations: auto, HOST:PORT or ray://HOST:10001
            (without --workers: one worker per --cpus-per-worker free CPUs of the cluster).
        cpus_per_worker: CPUs each Ray worker reserves (None: 1); it steps its envs on that many threads.
    """

    what: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="TASK|pretrain|export")]
    target: Annotated[tyro.conf.Positional[str | None], tyro.conf.arg(metavar="TASK|RUN")] = None
    etg_path: str = "none"
    alg: str = "cma"
    act_bound: float = 0.5
    popsize: int = 16
    sigma: float = 0.01
    envs_per_member: int = 4
    es_episode_s: float = 5.0
    es_generations: int = 5
    rl_iterations: int = 50
    generations: int = 30
    gait: str = "trot"
    frequency: float = 2.0
    num_rbf: int = 12
    step_length: float = 0.05
    foot_height: float = 0.08
    seed: int = 0
    num_envs: int | None = None
    max_iterations: int | None = None
    max_minutes: float | None = None
    log_dir: str = "runs"
    eval: bool = True
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    table_size: int | None = None
    workers: int = 0
    ray_address: Annotated[str | None, tyro.conf.arg(metavar="ADDRESS")] = None
    cpus_per_worker: int | None = None

    def __post_init__(self) -> None:
        _check_ray(self.workers, self.ray_address, self.cpus_per_worker, "Ray ES workers")
        if self.what in ("pretrain", "export"):
            _check(self.target is not None, f"`stridelab etg {self.what}` needs a "
                   f"{'task' if self.what == 'pretrain' else 'run directory'}: stridelab etg {self.what} "
                   f"{'TASK' if self.what == 'pretrain' else 'RUN'}.")
        else:
            _check(self.target is None, f"`stridelab etg {self.what} {self.target}` has one argument too many; give "
                   f"`stridelab etg TASK`, `stridelab etg pretrain TASK` or `stridelab etg export RUN`.")
        _check(self.generations >= 1, f"--generations {self.generations} is out of range; use 1 or more.")
        _check(self.num_envs is None or self.num_envs >= 1,
               f"--num-envs {self.num_envs} is out of range; give 1 or more environments.")
        _check(self.max_iterations is None or self.max_iterations >= 0,
               f"--max-iterations {self.max_iterations} is out of range; give 0 or more iterations.")
        _check(self.max_minutes is None or self.max_minutes >= 0,
               f"--max-minutes {self.max_minutes} is out of range; give 0 (no limit) or more minutes.")


COMMANDS: dict[str, type] = {"list": ListArgs, "bench": BenchArgs, "train": TrainArgs, "eval": EvalArgs,
                             "play": PlayArgs, "export": ExportArgs, "deploy": DeployArgs, "robot": RobotArgs,
                             "terrain": TerrainArgs, "etg": EtgArgs}
