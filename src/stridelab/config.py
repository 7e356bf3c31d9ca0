"""Frozen configuration dataclasses shared by tasks, with validation and a YAML snapshot.

Variants are made with ``dataclasses.replace``; nothing here is mutated after construction.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Annotated, Any

import tyro
import yaml

from stridelab.errors import ConfigError, did_you_mean
from stridelab.files import write_atomic
from stridelab.sim.terrain.config import TerrainConfig

Range = tuple[float, float]


def _check_range(owner: str, name: str, value: Range, lo: float = float("-inf")) -> None:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or value[0] > value[1] or value[0] < lo:
        raise ConfigError(f"{owner}.{name} = {value!r} is not a valid range; give (low, high) with low <= high"
                          + (f" and low >= {lo}" if lo != float("-inf") else "") + ".")


def _check_positive(owner: str, name: str, value: float, allow_zero: bool = False) -> None:
    if not (value > 0 or (allow_zero and value == 0)):
        raise ConfigError(f"{owner}.{name} = {value!r} is out of range; it must be {'>= 0' if allow_zero else '> 0'}.")


# A term parameter: a number, a flag, a name, or a tuple of them (a range, per-axis values, body names).
Param = float | int | bool | str | tuple[float, ...] | tuple[str, ...] | None


@dataclass(frozen=True)
class TermCfg:
    """A term of the MDP: a function (or a small class with ``reset(env_ids)``) and its parameters.

    Attributes:
        func: ``"module.path:name"``, or a bare name looked up in the kind's module of
            :mod:`stridelab.mdp` (``rewards``, ``observations``, ...). Kept as text so that configs are
            plain data (YAML, pickling to Ray workers).
        params: keyword arguments of the term.
    """

    func: str
    params: dict[str, Param] = field(default_factory=dict)


@dataclass(frozen=True)
class ObsTermCfg(TermCfg):
    """An observation term: ``clip(value * scale)`` (+ uniform noise of half-width ``noise`` before scaling).

    Attributes:
        scale: one factor, or one per component.
        noise: half-width of the uniform noise, in the term's units (0: none).
    """

    scale: float | tuple[float, ...] = 1.0
    noise: float = 0.0


@dataclass(frozen=True)
class ObsGroupCfg:
    """One observation group (``policy``, ``privileged``, later ``extero``): terms concatenated in order.

    Attributes:
        terms: the group's terms, in vector order.
        history: past frames appended (0: none); the vector is oldest frame first.
        noise: multiplier of every term's noise (0 disables noise, e.g. for the privileged group).
        clip: the scaled vector is clipped to [-clip, clip].
    """

    terms: dict[str, ObsTermCfg] = field(default_factory=dict)
    history: int = 0
    noise: float = 1.0
    clip: float = 100.0

    def __post_init__(self) -> None:
        if self.history < 0 or self.history > 50:
            raise ConfigError(f"observation history = {self.history} is out of range; use 0 to 50 frames.")
        _check_positive("observations", "noise", self.noise, allow_zero=True)
        _check_positive("observations", "clip", self.clip)


@dataclass(frozen=True)
class RewardTermCfg(TermCfg):
    """A reward term: ``weight * value * dt`` per step (weights are per second; 0 disables).

    Attributes:
        after_clip: added after the step total is clipped at zero (legged_gym's termination penalty).
    """

    weight: float = 0.0
    after_clip: bool = False


@dataclass(frozen=True)
class TerminationTermCfg(TermCfg):
    """A termination term (per-env bool). ``time_out``: a truncation (bootstrapped), not a failure."""

    time_out: bool = False


@dataclass(frozen=True)
class EventTermCfg(TermCfg):
    """An event: changes physics or state.

    Attributes:
        mode: ``"startup"`` (once, all envs), ``"reset"`` (each reset, the reset envs) or ``"interval"``.
        interval_s: (min, max) time between firings of an interval event [s], drawn per env.
    """

    mode: str = "reset"
    interval_s: Range = (0.0, 0.0)

    def __post_init__(self) -> None:
        if self.mode not in ("startup", "reset", "interval"):
            raise ConfigError(f"event mode {self.mode!r} is unknown; use 'startup', 'reset' or 'interval'.")
        _check_range("events", "interval_s", self.interval_s, lo=0.0)
        if self.mode == "interval" and self.interval_s[1] <= 0:
            raise ConfigError(f"interval event {self.func!r} needs interval_s = (min, max) with max > 0 seconds.")


@dataclass(frozen=True)
class EnvConfig:
    """A locomotion task: robot, simulation, and the MDP as named terms grouped by kind.

    The env runs the managers in a fixed order each control step (see ``envs/locomotion_env.py``) and
    knows no term by name.

    Attributes:
        task: registered task name (a label: runs are filed under it).
        robot: robot registry name, ``menagerie:NAME`` or a RobotSpec YAML file.
        env_class: ``"module:Class"`` of the env that runs the config (:func:`stridelab.envs.make_env`).
        num_envs: number of parallel simulations.
        num_threads: physics threads (0: all cores).
        seed: seed of every random draw of the environment.
        decimation: physics substeps per control step.
        episode_length_s: episode time limit [s].
        action: the action term (maps policy outputs to PD targets).
        commands: command terms (the velocity command is ``velocity``).
        observations: observation groups by name (``policy``, ``privileged``).
        rewards, terminations, events, curriculum: terms by name.
        only_positive_rewards: clip each step's total (before ``after_clip`` terms) at zero (legged_gym).
        terrain: a terrain grid added to the robot's model (``None``: the flat floor plane, as fast as
            before). Terms reach the built terrain as ``env.robot.terrain``.
    """

    task: str = "quadruped-flat"
    robot: str = "quadruped"
    env_class: str = "stridelab.envs.locomotion_env:LocomotionEnv"
    num_envs: int = 512
    num_threads: int = 0
    seed: int = 0
    decimation: int = 4
    episode_length_s: float = 20.0
    action: TermCfg = field(default_factory=lambda: TermCfg("joint_position", {"clip": 10.0}))
    commands: dict[str, TermCfg] = field(default_factory=dict)
    observations: dict[str, ObsGroupCfg] = field(default_factory=dict)
    rewards: dict[str, RewardTermCfg] = field(default_factory=dict)
    terminations: dict[str, TerminationTermCfg] = field(default_factory=dict)
    events: dict[str, EventTermCfg] = field(default_factory=dict)
    curriculum: dict[str, TermCfg] = field(default_factory=dict)
    only_positive_rewards: bool = True
    # AvoidSubcommands: on the command line, --env.terrain.* options when the task has terrain, none (None)
    # when it has the flat floor, rather than two tyro subcommands
    terrain: Annotated[TerrainConfig | None, tyro.conf.AvoidSubcommands] = None

    def __post_init__(self) -> None:
        if isinstance(self.num_envs, bool) or not 1 <= self.num_envs <= 1_000_000:
            raise ConfigError(f"num_envs = {self.num_envs} is out of range; use 1 to 1000000 environments.")
        if self.num_threads < 0:
            raise ConfigError(f"num_threads = {self.num_threads} is out of range; use 0 (all cores) or more.")
        if not 1 <= self.decimation <= 100:
            raise ConfigError(f"decimation = {self.decimation} is out of range; use 1 to 100 substeps.")
        _check_positive("env", "episode_length_s", self.episode_length_s)


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
    """Build dataclass ``cls`` from a (possibly partial) dict; unknown keys raise :class:`ConfigError`.

    Nested dataclasses and dicts of them (term tables) are rebuilt from their field types; lists become
    tuples.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping of options, not {data!r}.")
    hints = _hints(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in hints:
            raise ConfigError(f"unknown option {where}.{key}{did_you_mean(key, hints)}; valid options are: "
                              f"{', '.join(hints)}.")
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where} is incomplete ({exc}); give every required option.") from None


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """Field name -> resolved type of a config dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _coerce(t: Any, value: Any, where: str) -> Any:
    """``value`` (plain data) as type ``t``: dataclasses from dicts, dicts of them, tuples from lists."""
    optional = _optional_dataclass(t)
    if optional is not None:  # ``Dataclass | None``
        return None if value is None else _coerce(optional, value, where)
    if is_dataclass(t) and isinstance(value, dict):
        return from_dict(t, value, where)
    if is_dataclass(t) and not isinstance(value, t):
        raise ConfigError(f"{where} = {value!r} is not a {t.__name__}; give a mapping of its options "
                          f"({', '.join(_hints(t))}).")
    if typing.get_origin(t) is dict and isinstance(value, dict):
        _, value_type = typing.get_args(t)
        return {k: _coerce(value_type, v, f"{where}.{k}") for k, v in value.items()}
    return _tuples(value)


def _optional_dataclass(t: Any) -> type | None:
    """``D`` for a ``D | None`` type hint with ``D`` a dataclass, else None."""
    args = typing.get_args(t)
    if typing.get_origin(t) in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        other = args[0] if args[1] is type(None) else args[1]
        return other if is_dataclass(other) else None
    return None


def _tuples(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def override(cfg: Any, **overrides: Any) -> Any:
    """``dataclasses.replace`` with nested dicts for nested dataclasses and a clear error for typos.

    Term tables (dict fields) accept new entries, e.g. ``override(cfg, rewards={"my_term": {...}})``, and a term
    set to ``None`` is removed, as in Isaac Lab: ``override(cfg, events={"push": None})``.
    """
    merged = to_dict(cfg)
    _merge(merged, overrides, type(cfg), type(cfg).__name__)
    return from_dict(type(cfg), merged, type(cfg).__name__)


def _merge(base: dict, new: dict, t: Any, where: str) -> None:
    hints = _hints(t) if is_dataclass(t) else {}
    is_table = typing.get_origin(t) is dict
    value_type = typing.get_args(t)[1] if is_table else None
    for key, value in new.items():
        if is_dataclass(value):
            value = to_dict(value)
        if value is None and is_table and is_dataclass(value_type):  # a term set to None is switched off
            if key not in base:
                raise ConfigError(f"{where}.{key} = None removes a term, but {where} has no term {key!r}"
                                  f"{did_you_mean(key, base)}; its terms are: {', '.join(base) or '(none)'}.")
            del base[key]
            continue
        if key not in base:
            if not is_table:
                raise ConfigError(f"unknown option {where}.{key}{did_you_mean(key, base)}; valid options are: "
                                  f"{', '.join(base)}.")
            base[key] = value
            continue
        sub_t = value_type if is_table else hints.get(key)
        sub_t = _optional_dataclass(sub_t) or sub_t
        if isinstance(base[key], dict) and isinstance(value, dict) and sub_t is not None and (
                is_dataclass(sub_t) or typing.get_origin(sub_t) is dict):
            _merge(base[key], value, sub_t, f"{where}.{key}")
        else:
            base[key] = value


def is_term_path(cls: type, path: tuple[str, ...]) -> bool:
    """Whether ``path`` (field names and table keys below dataclass ``cls``, e.g. ``("events", "push")`` or
    ``("observations", "policy", "terms", "base_lin_vel")``) names an entry of a term table (a dict of
    dataclasses), whether or not the entry exists."""
    t: Any = cls
    for i, part in enumerate(path):
        t = _optional_dataclass(t) or t
        if is_dataclass(t):
            hints = _hints(t)
            if part not in hints:
                return False
            t = hints[part]
        elif typing.get_origin(t) is dict:
            value_type = typing.get_args(t)[1]
            if i == len(path) - 1:
                return is_dataclass(value_type)
            t = value_type
        else:
            return False
    return False


def save_yaml(obj: Any, path: Path) -> None:
    """Write a dataclass tree (or dict) as YAML, atomically."""
    text = yaml.safe_dump(to_dict(obj), sort_keys=False)
    write_atomic(path, lambda f: f.write(text), binary=False)
