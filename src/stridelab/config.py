"""Frozen configuration dataclasses shared by tasks, with validation and a YAML snapshot.

Variants are made with ``dataclasses.replace``; nothing here is mutated after construction.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from stridelab.errors import ConfigError, did_you_mean

Range = tuple[float, float]


def _check_range(owner: str, name: str, value: Range, lo: float = float("-inf")) -> None:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or value[0] > value[1] or value[0] < lo:
        raise ConfigError(f"{owner}.{name} = {value!r} is not a valid range; give (low, high) with low <= high"
                          + (f" and low >= {lo}" if lo != float("-inf") else "") + ".")


def _check_positive(owner: str, name: str, value: float, allow_zero: bool = False) -> None:
    if not (value > 0 or (allow_zero and value == 0)):
        raise ConfigError(f"{owner}.{name} = {value!r} is out of range; it must be {'>= 0' if allow_zero else '> 0'}.")


@dataclass(frozen=True)
class CommandConfig:
    """Velocity commands (vx, vy, yaw rate) in the base's heading frame.

    Attributes:
        resample_s: time between command resamples [s].
        lin_vel_x, lin_vel_y: ranges [m/s].
        ang_vel_yaw: range [rad/s].
        standing_fraction: share of resamples that command standing still.
        min_lin_vel: planar commands with a smaller norm are set to zero [m/s].
    """

    resample_s: float = 10.0
    lin_vel_x: Range = (-1.0, 1.0)
    lin_vel_y: Range = (-0.5, 0.5)
    ang_vel_yaw: Range = (-1.0, 1.0)
    standing_fraction: float = 0.05
    min_lin_vel: float = 0.1

    def __post_init__(self) -> None:
        _check_positive("commands", "resample_s", self.resample_s)
        for name in ("lin_vel_x", "lin_vel_y", "ang_vel_yaw"):
            _check_range("commands", name, getattr(self, name))
        if not 0.0 <= self.standing_fraction <= 1.0:
            raise ConfigError(f"commands.standing_fraction = {self.standing_fraction} must be within [0, 1].")


@dataclass(frozen=True)
class ObservationConfig:
    """Policy observation scales, noise and history (legged_gym's defaults).

    Attributes:
        history: number of past frames appended to the policy observation (0: none).
        noise: multiplier of the per-term uniform noise (0 disables noise).
        clip: observations are clipped to [-clip, clip] after scaling.
    """

    history: int = 0
    noise: float = 1.0
    clip: float = 100.0
    lin_vel_scale: float = 2.0
    ang_vel_scale: float = 0.25
    joint_pos_scale: float = 1.0
    joint_vel_scale: float = 0.05
    noise_ang_vel: float = 0.2  # [rad/s]
    noise_gravity: float = 0.05
    noise_joint_pos: float = 0.01  # [rad]
    noise_joint_vel: float = 1.5  # [rad/s]

    def __post_init__(self) -> None:
        if self.history < 0 or self.history > 50:
            raise ConfigError(f"observations.history = {self.history} is out of range; use 0 to 50 frames.")
        _check_positive("observations", "noise", self.noise, allow_zero=True)
        _check_positive("observations", "clip", self.clip)


@dataclass(frozen=True)
class RewardConfig:
    """Reward weights (per second; multiplied by the control period) and term parameters.

    Tracking, air-time and orientation weights follow Isaac Lab's flat velocity task; the clip at
    zero and the termination penalty after it follow legged_gym (see docs/benchmarks.md for the
    experiments that chose them).

    Positive weights reward, negative weights penalize; a zero weight disables the term.
    """

    track_lin_vel_xy_exp: float = 1.5
    track_ang_vel_z_exp: float = 0.75
    lin_vel_z_l2: float = -2.0
    ang_vel_xy_l2: float = -0.05
    flat_orientation_l2: float = -2.5
    base_height_l2: float = -10.0
    torques_l2: float = -2e-4
    joint_acc_l2: float = -2.5e-7
    action_rate_l2: float = -0.01
    feet_air_time: float = 0.25
    undesired_contacts: float = -1.0
    joint_pos_limits: float = -10.0
    termination: float = -20.0  # paid once per fall, after the clip at zero
    only_positive_rewards: bool = True  # legged_gym: clip each step's total at 0 so dying early never pays
    tracking_std: float = 0.5  # [m/s], [rad/s]: exp(-err^2 / std^2)
    air_time_threshold: float = 0.5  # [s]
    soft_joint_limit: float = 0.9  # share of the joint range that is free of penalty

    def weights(self) -> dict[str, float]:
        """Non-zero term weights by term name."""
        params = {"tracking_std", "air_time_threshold", "soft_joint_limit", "only_positive_rewards"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in params and getattr(self, f.name)}

    def __post_init__(self) -> None:
        _check_positive("rewards", "tracking_std", self.tracking_std)
        if not 0.0 < self.soft_joint_limit <= 1.0:
            raise ConfigError(f"rewards.soft_joint_limit = {self.soft_joint_limit} must be within (0, 1].")


@dataclass(frozen=True)
class RandomizationConfig:
    """Per-environment physical parameters, sampled at every reset (ranges of (1, 1) or (0, 0) disable).

    Attributes:
        friction: foot friction coefficient range.
        added_mass: mass added to the base [kg].
        com_offset: base centre-of-mass shift per axis [m].
        motor_strength, kp_factor, kd_factor: multipliers of the PD torque, kp and kd.
        push_interval_s: time between pushes [s] (0: no pushes).
        push_vel: maximum planar velocity change of a push [m/s].
    """

    friction: Range = (0.5, 1.25)
    added_mass: Range = (-1.0, 1.0)
    com_offset: Range = (0.0, 0.0)
    motor_strength: Range = (1.0, 1.0)
    kp_factor: Range = (1.0, 1.0)
    kd_factor: Range = (1.0, 1.0)
    push_interval_s: float = 0.0
    push_vel: float = 0.5

    def __post_init__(self) -> None:
        _check_range("randomization", "friction", self.friction, lo=0.0)
        _check_range("randomization", "added_mass", self.added_mass)
        _check_range("randomization", "com_offset", self.com_offset)
        for name in ("motor_strength", "kp_factor", "kd_factor"):
            _check_range("randomization", name, getattr(self, name), lo=0.0)
        _check_positive("randomization", "push_interval_s", self.push_interval_s, allow_zero=True)


@dataclass(frozen=True)
class EnvConfig:
    """A locomotion task: robot, simulation, commands, observations, rewards, terminations.

    Attributes:
        robot: name in the robot registry (see ``stridelab.robots.ROBOTS``).
        num_envs: number of parallel simulations.
        num_threads: physics threads (0: all cores).
        seed: seed of every random draw of the environment.
        decimation: physics substeps per control step.
        episode_length_s: episode time limit [s].
        max_tilt: base tilt that ends an episode [rad].
        init_joint_noise: uniform joint-angle noise at reset [rad].
        clip_actions: actions are clipped to [-clip_actions, clip_actions].
    """

    task: str = "quadruped-flat"
    robot: str = "quadruped"
    num_envs: int = 512
    num_threads: int = 0
    seed: int = 0
    decimation: int = 4
    episode_length_s: float = 20.0
    max_tilt: float = 1.0
    init_joint_noise: float = 0.1
    clip_actions: float = 10.0
    commands: CommandConfig = field(default_factory=CommandConfig)
    observations: ObservationConfig = field(default_factory=ObservationConfig)
    rewards: RewardConfig = field(default_factory=RewardConfig)
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)

    def __post_init__(self) -> None:
        if not 1 <= self.num_envs <= 1_000_000:
            raise ConfigError(f"num_envs = {self.num_envs} is out of range; use 1 to 1000000 environments.")
        if self.num_threads < 0:
            raise ConfigError(f"num_threads = {self.num_threads} is out of range; use 0 (all cores) or more.")
        if not 1 <= self.decimation <= 100:
            raise ConfigError(f"decimation = {self.decimation} is out of range; use 1 to 100 substeps.")
        _check_positive("env", "episode_length_s", self.episode_length_s)
        if not 0.0 < self.max_tilt <= 3.2:
            raise ConfigError(f"max_tilt = {self.max_tilt} is out of range; use (0, pi] radians.")


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain dicts/lists (tuples become lists)."""
    if is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def from_dict(cls: type, data: dict, where: str = "config") -> Any:
    """Build dataclass ``cls`` from a (possibly partial) dict; unknown keys raise :class:`ConfigError`."""
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"unknown option {where}.{key}{did_you_mean(key, known)}; valid options are: "
                              f"{', '.join(known)}.")
        f = known[key]
        default = _default_of(f)
        if is_dataclass(default) and isinstance(value, dict):
            value = from_dict(type(default), value, f"{where}.{key}")
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def override(cfg: Any, **overrides: Any) -> Any:
    """``dataclasses.replace`` with nested dicts for nested dataclasses and a clear error for typos."""
    merged = to_dict(cfg)
    _merge(merged, overrides, type(cfg).__name__)
    return from_dict(type(cfg), merged, type(cfg).__name__)


def _merge(base: dict, new: dict, where: str) -> None:
    for key, value in new.items():
        if key not in base:
            raise ConfigError(f"unknown option {where}.{key}{did_you_mean(key, base)}; valid options are: "
                              f"{', '.join(base)}.")
        if isinstance(base[key], dict) and isinstance(value, dict):
            _merge(base[key], value, f"{where}.{key}")
        elif is_dataclass(value):
            base[key] = to_dict(value)
        else:
            base[key] = value


def save_yaml(obj: Any, path: Path) -> None:
    """Write a dataclass tree (or dict) as YAML, atomically."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(to_dict(obj), sort_keys=False))
    tmp.replace(path)
