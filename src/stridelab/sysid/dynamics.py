"""Identified dynamics as a file (``params.yaml``) and as a task: domain randomization centred on them.

``params.yaml`` (:data:`DYNAMICS_FORMAT`)::

    format: stridelab-dynamics/1
    robot: quadruped
    method: least_squares
    substep_s: 0.005                 # the physics step a latency counts in
    params:
      damping: {value: 0.131, std: 0.002, unit: N m s/rad, nominal: 0.1}
      latency: {value: 3, std: null, unit: substeps, nominal: 0}
      ...
    cost: {before: ..., after: ...}

``stridelab train TASK --dynamics params.yaml`` moves each identified parameter's randomization in the task
(:data:`RANDOMIZED`) to be centred on the identified value: keeping the range's width (``--dynamics-ranges
width``), shrinking it to +-2 standard deviations where the method gave one (``uncertainty``), or to the value
itself (``exact``: a simulator with exactly these dynamics, as ``stridelab eval RUN --dynamics`` evaluates in).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from stridelab.config import EnvConfig
from stridelab.errors import ConfigError
from stridelab.files import write_atomic

DYNAMICS_FORMAT = "stridelab-dynamics/1"
#: identified name -> (randomization term, its parameter, how the value becomes that parameter's centre)
RANDOMIZED: dict[str, tuple[str, str, str]] = {
    "friction": ("randomize_joint_dynamics", "frictionloss", "offset"),  # added to the model's dry friction
    "damping": ("randomize_joint_dynamics", "damping_factor", "ratio"),  # a factor of the model's damping
    "armature": ("randomize_joint_dynamics", "armature_factor", "ratio"),
    "motor_strength": ("randomize_actuator_gains", "motor_strength", "value"),
    "kp": ("randomize_actuator_gains", "kp_factor", "value"),
    "kd": ("randomize_actuator_gains", "kd_factor", "value"),
    "latency": ("randomize_action_latency", "delay_s", "seconds"),
    "base_mass": ("randomize_base_mass", "added_mass", "value"),
    "foot_friction": ("randomize_friction", "range", "value"),
}


def write_dynamics(path: Path | str, robot: str, method: str, values: dict[str, dict], substep_s: float,
                   extra: dict | None = None) -> Path:
    """Write ``params.yaml``: ``values`` maps a name to ``{"value", "std", "unit", "nominal"}``."""
    data = {"format": DYNAMICS_FORMAT, "robot": robot, "method": method, "substep_s": float(substep_s),
            "params": values, **(extra or {})}
    text = yaml.safe_dump(data, sort_keys=False)
    return write_atomic(path, lambda f: f.write(text), binary=False)


def load_dynamics(path: Path | str) -> dict[str, Any]:
    """Read ``params.yaml``.

    Raises:
        ConfigError: a missing or malformed file, or a parameter without a value.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--dynamics {str(path)!r} does not exist; identify it first with `stridelab sysid LOG`.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"--dynamics {str(path)!r} is not valid YAML ({str(exc).splitlines()[0]}); fix it or "
                          f"identify again.") from None
    if not isinstance(data, dict) or data.get("format") != DYNAMICS_FORMAT or not isinstance(data.get("params"), dict):
        raise ConfigError(f"--dynamics {str(path)!r} is not a {DYNAMICS_FORMAT} file; give the params.yaml "
                          f"`stridelab sysid` wrote.")
    for name, entry in data["params"].items():
        if name not in RANDOMIZED or not isinstance(entry, dict) or "value" not in entry:
            raise ConfigError(f"--dynamics {str(path)!r}: parameter {name!r} is unknown or has no value; give names from "
                              f"{', '.join(RANDOMIZED)} with a value each.")
    return data


def centred_env_cfg(env_cfg: EnvConfig, dynamics: dict[str, Any], ranges: str = "width") -> EnvConfig:
    """``env_cfg`` with every identified parameter's randomization centred on it (module docstring).

    Raises:
        ConfigError: the task has no randomization term for an identified parameter, or ``ranges`` is unknown.
    """
    from stridelab.mdp.lookup import resolve

    if ranges not in ("width", "uncertainty", "exact"):
        raise ConfigError(f"--dynamics-ranges {ranges!r} is unknown; use width, uncertainty or exact.")
    events = dict(env_cfg.events)
    for name, entry in dynamics["params"].items():
        func, key, kind = RANDOMIZED[name]
        terms = [k for k, t in events.items() if resolve(t.func, "events").__name__ == func]
        if not terms:
            raise ConfigError(f"task {env_cfg.task!r} has no {func} event to centre {name} on; add it to the task's "
                              f"events, or drop {name} from the dynamics file.")
        term = events[terms[0]]
        low, high = (float(v) for v in term.params.get(key, (0.0, 0.0)))
        nominal = float(entry.get("nominal") or 0.0)
        value, std = float(entry["value"]), entry.get("std")
        to = {"offset": lambda v: v - nominal, "ratio": lambda v: v / nominal if nominal else 1.0,
              "value": lambda v: v, "seconds": lambda v: v * float(dynamics.get("substep_s", 0.005))}[kind]
        centre = to(value)
        if ranges == "exact":
            half = 0.0
        elif ranges == "uncertainty" and std is not None:
            half = abs(to(value + 2.0 * float(std)) - centre)
        else:
            half = 0.5 * (high - low)
        lo = max(centre - half, 0.0) if kind in ("offset", "ratio", "seconds") or name == "foot_friction" else centre - half
        events[terms[0]] = replace(term, params={**term.params, key: (lo, centre + half)})
    return replace(env_cfg, events=events)
