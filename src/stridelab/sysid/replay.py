"""Batched open-loop replay of a robot log: C candidate parameter sets x W windows in one ``mujoco.batch`` batch.

Each window starts from the logged state at its first sample (base pose and velocity, joint positions and
velocities) and replays the logged PD targets (with the logged gains) for ``length`` control steps, open loop;
env ``c * W + w`` runs candidate ``c`` on window ``w``, every candidate's parameters written into its envs
(:class:`stridelab.sysid.params.Writer`). The residual compares the simulated joint positions and velocities,
the base's angular velocity and its tilt (gravity in the base frame) with the logged ones after every step,
each divided by its noise scale (:data:`SCALES`), and, when the log has them, the joint torques (the motors'
output, which alone separates a motor's strength from its gains and from the joints' passive damping), leaving
out the first ``skip`` steps of a window (the solver's warm start and the sensor noise of the starting state
settle). The delayed targets of a window's first steps are the logged ones before it.
"""

from __future__ import annotations

import numpy as np

from stridelab.deploy.robot_log import LogError, RobotLog
from stridelab.sim.math import projected_gravity, quat_rotate
from stridelab.sim.simulator import BatchSimulator
from stridelab.sysid.params import Writer

#: a residual channel's scale: the error that counts as 1 (about the sensors' noise); ``joint_torque`` only when
#: the log has it (it separates the motor's strength from its gains: without it only their products show)
SCALES = {"joint_pos": 0.01, "joint_vel": 0.5, "base_ang_vel": 0.2, "gravity": 0.02, "joint_torque": 0.5}
#: the residual of a simulation that failed (unstable), per value
FAILED = 10.0
#: MuJoCo solver settings of every replay (and of the self-test's "real" robot). The tasks run 4 Newton
#: iterations for speed; a solve cut short changes in small steps as a parameter changes, which makes a replay's
#: residual rugged (on a stand, with joint friction: the cost jumps by +-30 for a 0.07 % change of the friction,
#: and its minimum is 10 % away from the truth). Converged solves make it smooth (docs/sysid.md).
SOLVER = {"iterations": 100, "ls_iterations": 50}


def converge_solver(sim: BatchSimulator) -> BatchSimulator:
    """Set :data:`SOLVER` on every simulation of ``sim`` (per-simulation option fields); returns ``sim``."""
    for name, value in SOLVER.items():
        sim.batch.expand(f"opt.{name}")[:] = value
    return sim


def windows(log: RobotLog, length: int, count: int) -> np.ndarray:
    """``count`` window starts spread evenly over the log (each ``length`` steps long, the last ending at the
    log's end). Shape: (W,), int.

    Raises:
        LogError: the log is shorter than one window.
    """
    last = log.num_samples - 1 - length
    if last < 0:
        raise LogError(f"the log has {log.num_samples} samples but a window needs {length + 1}; log longer, or give a "
                       f"shorter --window-s.")
    return np.unique(np.linspace(0, last, count).round().astype(np.int64))


def smoothed_at(signal: np.ndarray, samples: np.ndarray, half: int) -> np.ndarray:
    """``signal`` (Shape: (T, ...)) at ``samples`` (Shape: (W,)), each the value at that sample of a quadratic
    least-squares fit over the ``2 half + 1`` samples around it (Savitzky-Golay; fewer at the log's ends);
    ``half = 0``: the samples themselves. Shape: (W, ...)."""
    if half <= 0:
        return signal[samples].copy()
    t = len(signal)
    offsets = np.arange(-half, half + 1)
    out = np.empty((len(samples), *signal.shape[1:]))
    for k, centre in enumerate(samples):  # W small fits (once per replay, not per evaluation)
        idx = np.clip(centre + offsets, 0, t - 1)
        x = (idx - centre).astype(np.float64)
        basis = np.stack([np.ones_like(x), x, x * x], axis=1)
        weights = np.linalg.pinv(basis)[0]  # the fit's value at the centre, as weights of the samples
        out[k] = np.tensordot(weights, signal[idx], axes=(0, 0))
    return out


class Replay:
    """Batches of up to ``capacity`` candidates over the log's windows; :meth:`residual` evaluates up to ``capacity``
    (a batch of C candidates steps C x W envs).

    Args:
        robot: the loaded robot (:func:`stridelab.robots.load_robot`).
        log: the robot's log (on the ground: with ``base_pos`` and ``base_lin_vel``; on a stand: ``robot`` is
            loaded on the same stand, ``load_robot(spec, stand_height=log.stand_height)``).
        names: the fitted parameter names (a candidate's values, in order).
        starts: window starts (sample indices). Shape: (W,).
        length: control steps per window.
        capacity: candidates per batch.
        skip: steps at a window's start left out of the residual.
        num_threads: physics threads (0: all cores).
        sim: a simulator of ``capacity x W`` envs of this robot to replay in (e.g. a population evaluator's env's),
            at the log's control rate; ``None``: one is made.
        smooth: half-width [samples] of the quadratic fit that smooths each logged signal at a window's start
            (:func:`smoothed_at`; 0: the raw samples). A window starts from a measured state, and its noise (the
            base height's above all: it sets how deep the feet start in the ground) otherwise dominates the
            residual and biases the fit. 3 (7 samples at 50 Hz) halved the self-test's cost at the hidden values
            (docs/sysid.md); longer fits smooth the joints' fast motion away.
    """

    def __init__(self, robot, log: RobotLog, names: tuple[str, ...], starts: np.ndarray, length: int, capacity: int,
                 skip: int = 2, num_threads: int = 0, sim: BatchSimulator | None = None, smooth: int = 3) -> None:
        if log.stand_height is not None and robot.stand_height != log.stand_height:
            raise ValueError(f"a log from a stand at {log.stand_height} m replays on the robot loaded with "
                             f"load_robot(spec, stand_height={log.stand_height})")
        if log.stand_height is None and not log.floating:
            raise LogError("the log has no base_pos and base_lin_vel, which replaying a robot on the ground needs; log "
                           "a state estimate (or motion capture) of the base, as stridelab deploy --log does, or set "
                           "meta.stand_height if the robot was on a test stand.")
        timestep = float(robot.model.opt.timestep)
        decimation = int(round(log.dt / timestep))
        if decimation < 1 or abs(decimation * timestep - log.dt) > 1e-6 * log.dt:
            raise LogError(f"the log's sample period {log.dt:.4g} s is not a whole number of the model's physics step "
                           f"{timestep:g} s; resample the log to a multiple of it (e.g. {4 * timestep:g} s).")
        self.robot, self.log, self.names = robot, log, tuple(names)
        self.starts, self.length, self.capacity, self.skip = np.asarray(starts), int(length), int(capacity), int(skip)
        self.smooth = int(smooth)
        self.num_windows = len(self.starts)
        if sim is not None and (sim.num_envs != self.capacity * self.num_windows or sim.decimation != decimation):
            raise ValueError(f"the simulator has {sim.num_envs} envs at decimation {sim.decimation}; the replay needs "
                             f"{self.capacity * self.num_windows} at {decimation}")
        self.sim = converge_solver(sim or BatchSimulator(robot, self.capacity * self.num_windows, num_threads,
                                                         decimation))
        self.writer = Writer(self.sim, self.names)
        self._num_threads, self._decimation = num_threads, decimation
        #: candidates per batch -> (simulator, writer); smaller batches are made when first asked for (a
        #: least-squares step evaluates 1 candidate, its Jacobian D + 1), unless the simulator was given
        self._batches = {self.capacity: (self.sim, self.writer)}
        self._own_sims = sim is None
        self.kp, self.kd = log.gains()  # per sample (T, J); a window uses each sample's own
        self.steps = 0  # control steps simulated, summed over envs
        self._initial_state()

    def _initial_state(self) -> None:
        """qpos, qvel of every window's first sample, each logged signal smoothed there (:func:`smoothed_at`).
        Shapes: (W, nq), (W, nv)."""
        r, log, s = self.robot, self.log, self.starts

        def at(name: str) -> np.ndarray:
            return smoothed_at(log[name], s, self.smooth)

        qpos = np.tile(r.model.qpos0, (len(s), 1))
        qvel = np.zeros((len(s), r.model.nv))
        b, v = r.base_qpos_adr, r.base_dof_adr
        qpos[:, r.qpos_adr] = at("joint_pos")
        qvel[:, r.dof_adr] = at("joint_vel")
        if log.stand_height is not None:  # the base where the stand holds it (qpos0), at rest
            self.qpos0, self.qvel0 = qpos, qvel
            return
        quat = at("base_quat")
        quat /= np.linalg.norm(quat, axis=1, keepdims=True)
        qpos[:, b:b + 3], qpos[:, b + 3:b + 7] = at("base_pos"), quat
        qvel[:, v:v + 3] = quat_rotate(quat, at("base_lin_vel"))  # a free joint's velocity: world frame
        qvel[:, v + 3:v + 6] = at("base_ang_vel")  # angular: body frame
        self.qpos0, self.qvel0 = qpos, qvel

    def simulate(self, candidates: np.ndarray) -> dict[str, np.ndarray]:
        """Replay every window for each candidate. ``candidates`` Shape: (C, D), C <= capacity.

        Returns the simulated signals after each step, Shapes: (C, W, L, ...) for ``joint_pos``, ``joint_vel``,
        ``base_ang_vel``, ``gravity``, and ``failed`` (C, W) bool.
        """
        cand = np.atleast_2d(np.asarray(candidates, dtype=np.float64))
        c, w, length = len(cand), self.num_windows, self.length
        if c > self.capacity:
            raise ValueError(f"{c} candidates exceed the batch's capacity of {self.capacity}")
        size = c if self._own_sims else self.capacity
        if size not in self._batches:
            sim = converge_solver(BatchSimulator(self.robot, size * w, self._num_threads, self._decimation))
            self._batches[size] = (sim, Writer(sim, self.names))
        sim, writer = self._batches[size]
        full = np.concatenate([cand, np.repeat(cand[-1:], size - c, axis=0)])  # idle rows repeat the last
        n = size * w
        ids = np.arange(n)
        values = np.repeat(full, w, axis=0)
        writer.write(ids, values, np.tile(self.kp[self.starts], (size, 1)), np.tile(self.kd[self.starts], (size, 1)))
        sim.reset(ids, np.tile(self.qpos0, (size, 1)), np.tile(self.qvel0, (size, 1)))
        targets = self.log["joint_target"]
        back = np.clip(self.starts[:, None] - 1 - np.arange(4)[None, :], 0, None)  # targets 1..4 steps before
        sim.hold_history(ids, np.tile(targets[back], (size, 1, 1)))
        r = self.robot
        b, v = r.base_qpos_adr, r.base_dof_adr
        nj = len(r.dof_adr)
        out = {"joint_pos": np.empty((n, length, nj)), "joint_vel": np.empty((n, length, nj)),
               "base_ang_vel": np.empty((n, length, 3)), "gravity": np.empty((n, length, 3)),
               "joint_torque": np.empty((n, length, nj))}
        failed = np.zeros(n, dtype=bool)
        for step in range(length):
            now = self.starts + step
            if step and ((self.kp[now] != self.kp[now - 1]).any() or (self.kd[now] != self.kd[now - 1]).any()):
                writer.write(ids, values, np.tile(self.kp[now], (size, 1)), np.tile(self.kd[now], (size, 1)))
            failed |= sim.step(np.tile(targets[self.starts + step], (size, 1)))
            qpos, qvel = sim.qpos, sim.qvel
            out["joint_pos"][:, step] = qpos[:, r.qpos_adr]
            out["joint_vel"][:, step] = qvel[:, r.dof_adr]
            out["base_ang_vel"][:, step] = qvel[:, v + 3:v + 6]
            out["gravity"][:, step] = projected_gravity(qpos[:, b + 3:b + 7])
            out["joint_torque"][:, step] = sim.actuator_force
        self.steps += n * length
        shaped = {k: a.reshape(size, w, length, -1)[:c] for k, a in out.items()}
        shaped["failed"] = failed.reshape(size, w)[:c]
        return shaped

    def logged(self) -> dict[str, np.ndarray]:
        """The logged signals the simulation is compared with (sample ``start + step + 1``). Shapes: (W, L, ...)."""
        idx = self.starts[:, None] + 1 + np.arange(self.length)[None, :]
        log = self.log
        out = {"joint_pos": log["joint_pos"][idx], "joint_vel": log["joint_vel"][idx],
               "base_ang_vel": log["base_ang_vel"][idx], "gravity": projected_gravity(
                   log["base_quat"][idx].reshape(-1, 4)).reshape(*idx.shape, 3)}
        if log.get("joint_torque") is not None:
            out["joint_torque"] = log["joint_torque"][idx]
        return out

    def residual(self, candidates: np.ndarray, per_window: bool = False) -> np.ndarray:
        """Scaled residuals of each candidate (module docstring). Shape: (C, M), M = W x (L - skip) x channels; with
        ``per_window`` (C, W, M / W)."""
        sim, real = self.simulate(candidates), self.logged()
        parts = []
        for name, scale in SCALES.items():
            if name not in real:
                continue
            diff = (sim[name][:, :, self.skip:] - real[name][None, :, self.skip:]) / scale
            diff[sim["failed"]] = FAILED
            parts.append(diff.reshape(*diff.shape[:2], -1))
        out = np.concatenate(parts, axis=2)
        return out if per_window else out.reshape(len(out), -1)

    def cost(self, candidates: np.ndarray) -> np.ndarray:
        """Half the sum of squared residuals of each candidate. Shape: (C,)."""
        r = self.residual(candidates)
        return 0.5 * (r ** 2).sum(axis=1)
