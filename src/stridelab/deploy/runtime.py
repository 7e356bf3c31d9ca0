"""The fixed-rate control loop: state -> safety -> observation -> policy (onnxruntime) -> safety -> targets."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stridelab.deploy.backend import RobotBackend, RobotSignals
from stridelab.deploy.observation import ObservationBuilder
from stridelab.deploy.safety import SafetyConfig, SafetyLayer
from stridelab.errors import StridelabError
from stridelab.managers.command import action_from_description

log = logging.getLogger(__name__)


class OnnxPolicy:
    """An exported policy (or ensemble) run by onnxruntime; recurrent state is carried between calls."""

    def __init__(self, path: Path | str) -> None:
        import onnxruntime as ort

        path = Path(path)
        meta_path = path.with_name("policy.json") if path.suffix == ".onnx" else path / "policy.json"
        onnx_path = path if path.suffix == ".onnx" else path / "policy.onnx"
        if not onnx_path.is_file() or not meta_path.is_file():
            raise StridelabError(f"need policy.onnx and policy.json side by side at {str(path)!r}; create them with "
                                 f"`stridelab export RUN_DIR`.")
        self.meta = json.loads(meta_path.read_text())
        self.directory = meta_path.parent  # files the description names (an ETG lookup table) lie here
        try:
            self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise StridelabError(f"onnxruntime cannot load {str(onnx_path)!r} ({str(exc).splitlines()[0][:100]}); "
                                 f"re-export the policy.") from None
        rec = self.meta.get("recurrent")
        self.state_names = rec["inputs"] if rec else []
        # one shape per state input (an ensemble's members may differ); older files give one shape for all
        shapes = (rec.get("state_shapes") or [rec["state_shape"]] * len(rec["inputs"])) if rec else []
        self.state_shapes = [tuple(shape) for shape in shapes]
        self.reset()

    def reset(self) -> None:
        self.state = [np.zeros(shape, np.float32) for shape in self.state_shapes]

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Actions for one observation. obs Shape: (1, size) float32; returns (num_joints,)."""
        feeds = {"obs": obs, **dict(zip(self.state_names, self.state))}
        out = self.session.run(None, feeds)
        if self.state_names:
            self.state = list(out[1:])
        return out[0][0]


@dataclass
class LoopStats:
    """Timing of a control loop run. Times in seconds."""

    ticks: int = 0
    overruns: int = 0
    compute: list = field(default_factory=list)
    jitter: list = field(default_factory=list)
    packets: dict = field(default_factory=dict)  # the backend's packet counts (UDP bridge), if it has any

    def summary(self) -> dict:
        c = np.asarray(self.compute) if self.compute else np.zeros(1)
        j = np.abs(np.asarray(self.jitter)) if self.jitter else np.zeros(1)
        return {"ticks": self.ticks, "overruns": self.overruns, "compute_mean_ms": 1000 * float(c.mean()),
                "compute_max_ms": 1000 * float(c.max()), "jitter_mean_ms": 1000 * float(j.mean()),
                "jitter_max_ms": 1000 * float(j.max()), **self.packets}


class ControlLoop:
    """Runs a policy against a backend at the policy's control rate, behind the safety layer."""

    def __init__(self, policy: OnnxPolicy, backend: RobotBackend, safety: SafetyConfig = SafetyConfig(),
                 realtime: bool = True, scan_noise: float = 0.0) -> None:
        """``scan_noise``: the level of the height scan's noise model (a simulation's test of a student); the scan
        reads the backend robot's terrain when it has one (the deploy simulation on a terrain tile)."""
        self.policy = policy
        self.backend = backend
        self.meta = policy.meta
        self.realtime = realtime
        self.safety = SafetyLayer(self.meta, safety)
        self.builder = ObservationBuilder(self.meta, terrain=getattr(getattr(backend, "robot", None), "terrain", None),
                                          scan_noise=scan_noise)
        self.action_term = action_from_description(self.meta["action"], getattr(policy, "directory", None))
        # an action term that reads the observed state (ETG's generator: the gait phases and the command) gets
        # the builder's; observation terms that read the action term (ETG's target) get the rebuilt one
        if hasattr(self.action_term, "bind_state"):
            self.action_term.bind_state(lambda: self.builder.last_state)
        for term in self.builder.group.terms:
            if hasattr(term, "bind_action"):
                term.bind_action(self.action_term)
        self.dt = float(self.meta["control_dt"])
        self.default = np.asarray(self.meta["default_joint_pos"])
        self.kp = np.asarray(self.meta["kp"])
        self.kd = np.asarray(self.meta["kd"])
        self.last_action = np.zeros(len(self.default))
        self.sent: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the last (targets, kp, kd) written
        self.stats = LoopStats()

    def reset(self) -> None:
        self.policy.reset()
        self.builder.reset()
        self.safety.reset()
        self.last_action[:] = 0.0
        self.stats = LoopStats()

    def set_gait_frequency(self, frequency: float | None) -> None:
        """Step at ``frequency`` [Hz] from the next tick (policies trained with a stepping-frequency command;
        clipped to the trained range), or ``None`` for the nominal frequency. Others ignore it."""
        self.builder.set_gait_frequency(frequency)

    def tick(self, command: np.ndarray) -> RobotSignals:
        """One control step: read, check, infer, filter, write. Returns the state it acted on."""
        now = self.backend.time()
        state = self.backend.read_state()
        ok = self.safety.check_state(state, now)
        if ok:
            obs = self.builder(state, command, self.last_action)
            ok = self.safety.check_observation(obs, now)
        if ok:
            action = self.action_term.process(self.policy(obs)[None])
            target = self.safety.filter_targets(self.action_term.targets(action)[0], state.joint_pos)
            action = action[0]
            self.sent = (target, self.kp, self.kd)
            self.last_action = action
        else:
            self.sent = self.safety.damping_command(state.joint_pos)
        self.backend.write_targets(*self.sent)
        return state

    def run(self, duration_s: float, command: Callable[[float], np.ndarray],
            on_tick: Callable[[float, RobotSignals, np.ndarray], None] | None = None) -> LoopStats:
        """Run for ``duration_s`` of backend time; ``command(t)`` gives (vx, vy, yaw rate) at time t."""
        start = self.backend.time()
        wall0 = time.monotonic()
        n = int(round(duration_s / self.dt))
        for k in range(n):
            scheduled = start + k * self.dt
            self.backend.wait_until(scheduled)
            if self.realtime:
                self.stats.jitter.append((time.monotonic() - wall0) - k * self.dt)
            t0 = time.perf_counter()
            cmd = np.asarray(command(scheduled - start), dtype=np.float64)
            state = self.tick(cmd)
            elapsed = time.perf_counter() - t0
            self.stats.compute.append(elapsed)
            self.stats.ticks += 1
            late = (time.monotonic() - wall0) - (k + 1) * self.dt if self.realtime else elapsed - self.dt
            if late > 0:
                self.stats.overruns += 1
            if on_tick is not None:
                on_tick(scheduled - start, state, cmd)
        if hasattr(self.backend, "packet_stats"):
            self.stats.packets = self.backend.packet_stats()
        return self.stats


def file_command(path: Path | str) -> Callable[[float], np.ndarray]:
    """Commands from a CSV/JSON file of rows (t [s], vx [m/s], vy [m/s], yaw rate [rad/s]), held until the next row."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            rows = np.asarray(json.loads(path.read_text()), dtype=np.float64)
        else:
            rows = np.loadtxt(path, delimiter=",", comments="#", ndmin=2)
    except (OSError, ValueError) as exc:
        raise StridelabError(f"cannot read command file {str(path)!r} ({exc}); give rows 't,vx,vy,yaw_rate'.") from None
    if rows.ndim != 2 or rows.shape[1] != 4:
        raise StridelabError(f"command file {str(path)!r} must have 4 columns (t, vx, vy, yaw_rate).")
    rows = rows[np.argsort(rows[:, 0])]

    def command(t: float) -> np.ndarray:
        i = np.searchsorted(rows[:, 0], t, side="right") - 1
        return rows[max(i, 0), 1:]

    return command


class KeyboardCommand:
    """Arrow keys on the terminal change the command (as the viewer does); reads stdin on a thread."""

    def __init__(self, limits: np.ndarray) -> None:
        import sys
        import threading

        from stridelab.viz.viewer import command_after_key

        self._step = command_after_key
        self.limits = limits
        self.command = np.zeros(3)
        self._codes = {"A": 265, "B": 264, "C": 262, "D": 263}
        if not sys.stdin.isatty():
            raise StridelabError("keyboard commands need an interactive terminal; use --commands FILE instead.")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        import sys
        import termios
        import tty

        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while True:
                ch = sys.stdin.read(1)
                if ch == "\x1b" and sys.stdin.read(1) == "[":
                    key = self._codes.get(sys.stdin.read(1))
                else:
                    key = {" ": 32, ",": 44, ".": 46}.get(ch)
                if key is not None:
                    self.command = self._step(self.command, key, self.limits)
                    log.info("command vx %.2f, vy %.2f, yaw %.2f", *self.command)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)

    def __call__(self, t: float) -> np.ndarray:
        return self.command
