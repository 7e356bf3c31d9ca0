"""Batched MuJoCo simulation of one robot on ``mujoco.batch.Batch``: stepping, resets, failures, per-env
physical parameters (:mod:`stridelab.sim.physics`) and action latency.

One control step is one ``Batch.step(nstep=decimation)`` call over all simulations; the PD
controllers run inside every substep. There is no Python loop over simulations.

Action latency: each env may delay its PD targets by a whole number ``d`` of physics substeps
(``set_delay``); a target then takes effect exactly ``d`` substeps after it was issued. MuJoCo applies the
delay itself: the loader gives every PD actuator a history of control samples
(``actuator_history``, zero-order hold, :data:`~stridelab.robots.loader.MAX_ACTION_DELAY_S`), and
``set_delay`` writes the per-env ``actuator_delay``. Stepping stays one ``Batch.step`` call, as fast as
without latency (a per-substep ``Batch.rollout`` of delayed targets cost 15 % more physics time, measured
2026-12-02). The delay is set half a substep short of ``d`` substeps: the sample ``d`` substeps back is then
found despite floating-point drift in ``time`` (with exactly ``d`` substeps a 3-substep delay picked the
wrong sample after 16 s; with the half-substep margin it matches the explicit per-substep targets bit for bit
over 100 s, tested).
"""

from __future__ import annotations

import logging

import mujoco
import numpy as np
from mujoco import batch as mjbatch

from stridelab.errors import ConfigError
from stridelab.robots.loader import LoadedRobot
from stridelab.sim.physics import PhysicsParams

log = logging.getLogger(__name__)

_BAD_WARNINGS = [int(mujoco.mjtWarning.mjWARN_BADQPOS), int(mujoco.mjtWarning.mjWARN_BADQVEL),
                 int(mujoco.mjtWarning.mjWARN_BADQACC), int(mujoco.mjtWarning.mjWARN_BADCTRL)]


class BatchSimulator:
    """``num_envs`` simulations of one robot, stepped together on ``num_threads`` threads.

    Attributes:
        qpos, qvel, ctrl: live state views. Shapes: (num_envs, nq), (num_envs, nv), (num_envs, nu).
        sensordata: derived sensor values, one substep behind the state after :meth:`step`.
        actuator_force: applied joint torques of the last substep [N m]. Shape: (num_envs, nu).
        physics: the per-env physical parameters by name (:class:`~stridelab.sim.physics.PhysicsParams`).
        delay_substeps: per-env action delay in substeps (all zero until :meth:`set_delay`). Shape: (num_envs,).
    """

    def __init__(self, robot: LoadedRobot, num_envs: int, num_threads: int, decimation: int) -> None:
        self.robot = robot
        self.model = robot.model
        self.num_envs = num_envs
        self.decimation = decimation
        self.batch = mjbatch.Batch(robot.model, num_envs, num_threads)
        # bind derived fields before the first call, so that they are filled from then on
        self.sensordata = self.batch.bind("sensordata")
        self.actuator_force = self.batch.bind("actuator_force")
        self.qpos = self.batch.bind("qpos")
        self.qvel = self.batch.bind("qvel")
        self.ctrl = self.batch.bind("ctrl")
        self.qfrc_applied = self.batch.bind("qfrc_applied")
        self._warn_count = self.batch.warning[:, _BAD_WARNINGS, 1].copy()
        self.home_key = robot.model.keyframe("home").id if _has_key(robot.model, "home") else -1
        self.physics = PhysicsParams(self)
        self.delay_substeps = np.zeros(num_envs, dtype=np.int64)
        # the value slots of every actuator's control history in MjData.history (its time slots precede them)
        model, nsample = robot.model, robot.model.actuator_history[:, 0]
        self.max_delay_substeps = int(nsample.min()) - 2 if model.nu and nsample.min() > 0 else 0
        self._history = self.batch.bind("history") if self.max_delay_substeps > 0 else None
        self._history_values = np.concatenate(
            [adr + 2 + k + np.arange(k) for adr, k in zip(model.actuator_historyadr, nsample)]) \
            if self._history is not None else None
        self._samples_per_actuator = nsample

    @property
    def control_dt(self) -> float:
        """Control period [s]: timestep x decimation (per-env timestep randomization is not used)."""
        return float(self.model.opt.timestep) * self.decimation

    def step(self, targets: np.ndarray) -> np.ndarray:
        """Apply joint targets [rad] for one control step. Returns a mask of failed simulations.

        A simulation fails when MuJoCo raises for it (it then keeps its old state), when its state
        becomes non-finite, or when MuJoCo flags a bad qpos/qvel/qacc (and resets it internally).
        Failed simulations must be reset by the caller.

        Args:
            targets: Shape: (num_envs, nu).
        Returns:
            Shape: (num_envs,), bool.
        """
        self.physics.flush()
        failed = np.zeros(self.num_envs, dtype=bool)
        try:
            self.ctrl[:] = targets
            self.batch.step(nstep=self.decimation)
        except mjbatch.SimulationError as err:
            failed[err.ids] = True
            log.debug("simulation error in %d envs: %s", len(err.ids), err)
        counts = self.batch.warning[:, _BAD_WARNINGS, 1]
        if (counts != self._warn_count).any():
            failed |= (counts != self._warn_count).any(axis=1)
            self._warn_count = counts.copy()
        failed |= ~np.isfinite(self.qpos).all(axis=1) | ~np.isfinite(self.qvel).all(axis=1)
        return failed

    def reset(self, ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Reset simulations ``ids`` to the given state and refresh their derived fields.

        Args:
            ids: sorted env indices. Shape: (k,).
            qpos: Shape: (k, nq).
            qvel: Shape: (k, nv).
        """
        if len(ids) == 0:
            return
        self.physics.flush()
        ids = np.asarray(ids, dtype=np.int32)
        self.batch.reset(ids, keyframe=self.home_key, stage=mujoco.mjtStage.mjSTAGE_NONE)
        self.qpos[ids] = qpos
        self.qvel[ids] = qvel
        self.qfrc_applied[ids] = 0.0
        self.batch.forward(ids)
        self._warn_count[ids] = self.batch.warning[ids][:, _BAD_WARNINGS, 1]

    def hold(self, ids: np.ndarray, targets: np.ndarray) -> None:
        """Set the PD targets [rad] of ``ids`` (Shape: (k,)) to ``targets`` (Shape: (k, nu)) as if they had been
        issued for as long as any delay reaches back (a reset: no stale target of the last episode applies)."""
        self.ctrl[ids] = targets
        if self._history is not None and len(ids):
            self._history[np.asarray(ids)[:, None], self._history_values] = np.repeat(
                np.asarray(targets, dtype=np.float64), self._samples_per_actuator, axis=1)

    # ---- action latency --------------------------------------------------------------------------
    def set_delay(self, ids: np.ndarray, substeps: np.ndarray) -> None:
        """Delay the PD targets of ``ids`` (Shape: (k,)) by ``substeps`` physics substeps (Shape: (k,), whole
        numbers from 0 to ``max_delay_substeps``), through MuJoCo's ``actuator_delay``."""
        d = np.asarray(substeps, dtype=np.float64)
        if (d < 0).any() or (d != np.round(d)).any():
            raise ConfigError(f"action delays must be whole numbers of substeps >= 0; got {d.min()} .. {d.max()}.")
        if len(d) and d.max() > self.max_delay_substeps:
            raise ConfigError(f"an action delay of {int(d.max())} substeps ({d.max() * self.model.opt.timestep:g} s) "
                              f"exceeds the {self.max_delay_substeps} substeps this model's actuators keep; give "
                              f"delays up to stridelab.robots.loader.MAX_ACTION_DELAY_S.")
        ids = np.asarray(ids, dtype=np.int64)
        self.delay_substeps[ids] = d.astype(np.int64)
        # all-zero delays leave the model field shared (not expanded), as without latency
        if self._history is not None and (d.any() or self.batch.expanded("actuator_delay") is not None):
            seconds = np.where(d > 0, d - 0.5, 0.0) * float(self.model.opt.timestep)
            self.batch.expand("actuator_delay")[ids] = seconds[:, None]

    def state_dict(self) -> dict:
        """The per-env delays, for exact resume (MuJoCo's control history is part of ``Batch.state``)."""
        return {"delay_substeps": self.delay_substeps.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.set_delay(np.arange(self.num_envs), np.asarray(state.get("delay_substeps", np.zeros(self.num_envs))))

    def expand(self, name: str) -> np.ndarray:
        """Per-environment values of a model field (domain randomization hook). Shape: (num_envs, ...)."""
        return self.batch.expand(name)

    def set_const(self, ids: np.ndarray) -> None:
        """Recompute derived model constants after editing masses or inertias of ``ids``."""
        if len(ids):
            self.batch.set_const(np.asarray(ids, dtype=np.int32))


def _has_key(model: mujoco.MjModel, name: str) -> bool:
    try:
        model.keyframe(name)
        return True
    except KeyError:
        return False
