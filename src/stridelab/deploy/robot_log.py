"""A robot's log: what dynamics identification (``stridelab sysid``) fits the simulator to, and what
``stridelab deploy --log`` writes from any backend.

One ``.npz`` file of named arrays, ``T`` samples at a fixed rate, ``J`` joints in the order of ``meta.joint_names``
(:data:`LOG_FORMAT`; the JSON schema is in ``docs/sysid.md``):

=================== ============ ========== =====================================================================
array               shape        unit       meaning
=================== ============ ========== =====================================================================
``time``            (T,)         s          sample times, uniform at ``meta.rate_hz`` (one sample per control step)
``joint_pos``       (T, J)       rad        measured joint positions
``joint_vel``       (T, J)       rad/s      measured joint velocities
``joint_target``    (T, J)       rad        the PD targets the controller sent at that sample
``kp``, ``kd``      (J,)/(T, J)  N m/rad,   the PD gains the controller sent (constant or per sample)
                                 N m s/rad
``base_quat``       (T, 4)       -          IMU orientation, (w, x, y, z), world frame
``base_ang_vel``    (T, 3)       rad/s      IMU angular velocity, base frame
``base_pos``        (T, 3)       m          optional: base position (a state estimate, motion capture, a simulation)
``base_lin_vel``    (T, 3)       m/s        optional: base linear velocity, base frame
``foot_contact``    (T, F)       bool       optional: foot contacts, feet in ``meta.feet`` order
``joint_torque``    (T, J)       N m        optional: measured joint torques
``meta``            ()           JSON       ``format``, ``robot``, ``joint_names``, ``rate_hz``, optional
                                            ``feet``, ``source``, ``stand_height``
=================== ============ ========== =====================================================================

Identification replays the logged targets from logged states, so a log of a robot on the ground needs
``base_pos`` and ``base_lin_vel``; a log of a robot on a test stand (base held upright, feet in the air) says so
with ``meta.stand_height`` (the base's height [m]) and can leave them out: it is replayed on the same stand.
:func:`load_log` checks a file and names what is wrong and how to fix it; :func:`log_from_csv` converts a CSV
with named columns (``time``, ``<joint>.pos``, ``<joint>.vel``, ``<joint>.target``, ``<joint>.kp``,
``<joint>.kd``, ``quat.w`` ... ``quat.z``, ``gyro.x`` ... ``gyro.z``, optional ``base.x``..., ``base_vel.x``...,
``<foot>.contact``, ``<joint>.torque``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stridelab.errors import StridelabError
from stridelab.files import read_npz_with_meta, write_atomic

LOG_FORMAT = "stridelab-robot-log/1"
REQUIRED = ("time", "joint_pos", "joint_vel", "joint_target", "kp", "kd", "base_quat", "base_ang_vel")
OPTIONAL = ("base_pos", "base_lin_vel", "foot_contact", "joint_torque")
#: the relative tolerance of the sample spacing against ``1 / rate_hz``
RATE_TOLERANCE = 0.01


class LogError(StridelabError):
    """A robot log is missing, malformed, or does not fit the robot."""


@dataclass
class RobotLog:
    """A robot's log (module docstring for the arrays); ``arrays`` maps names to numpy arrays."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def get(self, name: str) -> np.ndarray | None:
        return self.arrays.get(name)

    @property
    def num_samples(self) -> int:
        return int(len(self.arrays["time"]))

    @property
    def dt(self) -> float:
        """The sample period [s]."""
        return 1.0 / float(self.meta["rate_hz"])

    @property
    def duration(self) -> float:
        return self.num_samples * self.dt

    @property
    def joint_names(self) -> list[str]:
        return list(self.meta["joint_names"])

    @property
    def floating(self) -> bool:
        """Whether the base's position and velocity are in the log (a floating-base replay)."""
        return "base_pos" in self.arrays and "base_lin_vel" in self.arrays

    @property
    def stand_height(self) -> float | None:
        """The height [m] of the test stand the robot was logged on (``None``: on the ground)."""
        value = self.meta.get("stand_height")
        return None if value is None else float(value)

    def gains(self) -> tuple[np.ndarray, np.ndarray]:
        """kp and kd per sample. Shapes: (T, J)."""
        t = self.num_samples
        return tuple(np.broadcast_to(self.arrays[k], (t, len(self.joint_names))) for k in ("kp", "kd"))


def save_log(path: Path | str, log: RobotLog) -> Path:
    """Write the log as one ``.npz`` file, atomically."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in log.arrays.items()},
             meta=np.array(json.dumps({"format": LOG_FORMAT, **log.meta})))
    return write_atomic(path, lambda f: f.write(buf.getvalue()))


def load_log(path: Path | str, joint_names: list[str] | None = None) -> RobotLog:
    """Read and check a log; with ``joint_names`` (the robot's, in action order) also that it is this robot's.

    Raises:
        LogError: one sentence naming the problem (a missing file, a missing channel, a wrong shape, a sample
            rate that does not match the times, NaNs, joints that do not match the robot) and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise LogError(f"robot log {str(path)!r} does not exist; record one with `stridelab deploy --log FILE` or "
                       f"convert a CSV with `stridelab sysid FILE.csv --robot SPEC`.")
    try:
        arrays, meta = read_npz_with_meta(path)
    except ValueError as exc:
        raise LogError(f"robot log {str(path)!r} is corrupt or not an npz robot log ({exc}); write it "
                       f"as docs/sysid.md describes.") from None
    log = RobotLog(arrays, meta)
    check_log(log, str(path), joint_names)
    return log


def check_log(log: RobotLog, where: str = "the robot log", joint_names: list[str] | None = None) -> None:
    """Raise :class:`LogError` for the first problem of ``log`` (see :func:`load_log`)."""
    meta, arrays = log.meta, log.arrays
    if meta.get("format") not in (None, LOG_FORMAT):
        raise LogError(f"{where} has format {meta.get('format')!r}, not {LOG_FORMAT!r}; write it as docs/sysid.md "
                       f"describes.")
    for key in ("joint_names", "rate_hz"):
        if key not in meta:
            raise LogError(f"{where} has no meta.{key}; add it (docs/sysid.md: the meta entry is JSON with "
                           f"joint_names and rate_hz).")
    stand = meta.get("stand_height")
    if stand is not None and (not isinstance(stand, (int, float)) or isinstance(stand, bool) or stand <= 0):
        raise LogError(f"{where} has meta.stand_height {stand!r}; give the stand's base height in metres (> 0), or "
                       f"leave it out for a robot on the ground.")
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise LogError(f"{where} has no {', '.join(missing)} channel{'s' if len(missing) > 1 else ''}; log "
                       f"{'them' if len(missing) > 1 else 'it'} (docs/sysid.md lists the channels and their units).")
    t, j = len(arrays["time"]), len(meta["joint_names"])
    if t < 2:
        raise LogError(f"{where} has {t} samples; log at least a few seconds.")
    shapes = {"time": (t,), "joint_pos": (t, j), "joint_vel": (t, j), "joint_target": (t, j), "base_quat": (t, 4),
              "base_ang_vel": (t, 3), "base_pos": (t, 3), "base_lin_vel": (t, 3), "joint_torque": (t, j)}
    for name, shape in shapes.items():
        if name in arrays and arrays[name].shape != shape:
            raise LogError(f"{where}: {name} has shape {arrays[name].shape}, not {shape} ({t} samples x {j} joints "
                           f"of meta.joint_names); log one row per sample.")
    for name in ("kp", "kd"):
        if arrays[name].shape not in ((j,), (t, j)):
            raise LogError(f"{where}: {name} has shape {arrays[name].shape}; give one gain per joint ({j},) or per "
                           f"sample ({t}, {j}).")
    if "foot_contact" in arrays and (arrays["foot_contact"].ndim != 2 or len(arrays["foot_contact"]) != t):
        raise LogError(f"{where}: foot_contact has shape {arrays['foot_contact'].shape}; give ({t}, number of feet).")
    for name, values in arrays.items():
        bad = ~np.isfinite(np.asarray(values, dtype=np.float64))
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise LogError(f"{where}: {name} has {int(bad.sum())} NaN or infinite values, the first at sample {row} "
                           f"(t = {float(arrays['time'][min(row, t - 1)]):.3f} s); drop or interpolate those samples.")
    rate = float(meta["rate_hz"])
    spacing = np.diff(arrays["time"])
    if rate <= 0 or np.abs(spacing * rate - 1.0).max() > RATE_TOLERANCE:
        raise LogError(f"{where}: the samples are {float(spacing.min()):.4g}-{float(spacing.max()):.4g} s apart, but "
                       f"meta.rate_hz {rate:g} says every {1 / rate if rate > 0 else float('inf'):.4g} s; resample the "
                       f"log to a fixed rate or correct rate_hz.")
    if joint_names is not None and list(meta["joint_names"]) != list(joint_names):
        extra = [n for n in meta["joint_names"] if n not in joint_names]
        gone = [n for n in joint_names if n not in meta["joint_names"]]
        what = (f"names the robot does not have ({', '.join(extra[:4])})" if extra else
                f"lacks the robot's joints ({', '.join(gone[:4])})" if gone else "orders them differently")
        raise LogError(f"{where}'s joints do not match the robot: the log {what}; log the joints in the robot's "
                       f"action order: {', '.join(joint_names)}.")


def log_from_csv(path: Path | str, robot: str, joint_names: list[str], rate_hz: float | None = None,
                 feet: list[str] | None = None) -> RobotLog:
    """A log from a CSV with named columns (module docstring); ``rate_hz`` defaults to 1 / the mean spacing.

    Raises:
        LogError: a missing column (named), a non-numeric value, or what :func:`check_log` finds.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise LogError(f"CSV file {str(path)!r} does not exist; check the path.")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 3:
        raise LogError(f"CSV file {str(path)!r} has {max(len(rows) - 1, 0)} data rows; give a header row and data.")
    header = [h.strip() for h in rows[0]]
    try:
        data = np.array([[float(v) for v in r] for r in rows[1:] if r], dtype=np.float64)
    except ValueError as exc:
        raise LogError(f"CSV file {str(path)!r} has a value that is not a number ({exc}); fix that cell.") from None
    col = {name: i for i, name in enumerate(header)}

    def take(names: list[str], required: bool = True) -> np.ndarray | None:
        missing = [n for n in names if n not in col]
        if missing:
            if required:
                raise LogError(f"CSV file {str(path)!r} has no column {missing[0]!r}; name the columns as docs/sysid.md "
                               f"says (e.g. time, {joint_names[0]}.pos, quat.w).")
            return None
        return data[:, [col[n] for n in names]]

    arrays: dict[str, np.ndarray] = {"time": take(["time"])[:, 0]}
    for key, suffix in (("joint_pos", "pos"), ("joint_vel", "vel"), ("joint_target", "target"), ("kp", "kp"),
                        ("kd", "kd")):
        arrays[key] = take([f"{n}.{suffix}" for n in joint_names])
    arrays["base_quat"] = take([f"quat.{a}" for a in "wxyz"])
    arrays["base_ang_vel"] = take([f"gyro.{a}" for a in "xyz"])
    for key, names in (("base_pos", [f"base.{a}" for a in "xyz"]), ("base_lin_vel", [f"base_vel.{a}" for a in "xyz"]),
                       ("joint_torque", [f"{n}.torque" for n in joint_names]),
                       ("foot_contact", [f"{n}.contact" for n in feet or []])):
        values = take(names, required=False) if names else None
        if values is not None:
            arrays[key] = values > 0.5 if key == "foot_contact" else values
    rate = rate_hz or 1.0 / float(np.mean(np.diff(arrays["time"])))
    log = RobotLog(arrays, {"format": LOG_FORMAT, "robot": robot, "joint_names": list(joint_names), "rate_hz": rate,
                            "feet": list(feet or []), "source": f"csv:{path.name}"})
    check_log(log, f"the log converted from {str(path)!r}", joint_names)
    return log


class LogRecorder:
    """Collects one sample per control step of the deploy loop (``ControlLoop.run(..., on_tick=recorder.add)`` after
    each tick: the state the loop acted on and the targets and gains it sent) into a :class:`RobotLog`."""

    def __init__(self, robot: str, joint_names: list[str], rate_hz: float, feet: list[str] | None = None,
                 source: str = "stridelab deploy") -> None:
        self.meta = {"format": LOG_FORMAT, "robot": robot, "joint_names": list(joint_names), "rate_hz": float(rate_hz),
                     "feet": list(feet or []), "source": source}
        self.rows: dict[str, list[np.ndarray]] = {}

    def add(self, t: float, state: Any, sent: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """One sample: ``state`` (:class:`~stridelab.deploy.backend.RobotSignals`), ``sent`` = (targets, kp, kd)."""
        target, kp, kd = sent
        row = {"time": np.float64(t), "joint_pos": state.joint_pos, "joint_vel": state.joint_vel,
               "joint_target": target, "kp": kp, "kd": kd, "base_quat": state.base_quat,
               "base_ang_vel": state.base_ang_vel}
        extra = getattr(state, "extra", {}) or {}
        if "base_pos" in extra and state.base_lin_vel is not None:
            row.update(base_pos=extra["base_pos"], base_lin_vel=state.base_lin_vel)
        if getattr(state, "foot_contact", None) is not None:
            row["foot_contact"] = np.asarray(state.foot_contact, dtype=bool)
        if getattr(state, "joint_torque", None) is not None:
            row["joint_torque"] = state.joint_torque
        for key, value in row.items():
            self.rows.setdefault(key, []).append(np.array(value, copy=True))

    def log(self) -> RobotLog:
        arrays = {k: np.stack(v) for k, v in self.rows.items()}
        if all(np.array_equal(arrays[k][0], row) for k in ("kp", "kd") for row in arrays[k]):
            arrays["kp"], arrays["kd"] = arrays["kp"][0], arrays["kd"][0]  # constant gains: one row
        return RobotLog(arrays, dict(self.meta))
