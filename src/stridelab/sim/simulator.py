"""Batched MuJoCo simulation of one robot on ``mujoco.batch.Batch``: stepping, resets, failures, per-env
physical parameters (:mod:`stridelab.sim.physics`) and action latency.

One control step is one ``Batch.step(nstep=decimation)`` call over all simulations; the PD
controllers run inside every substep. There is no Python loop over simulations.

Action latency: each env may delay its PD targets by a whole number of physics substeps
(``set_delay``). At substep ``k`` (0 <= k < decimation) of a control step an env with delay ``d`` applies
the target issued ``lag = max(0, ceil((d - k) / decimation))`` control steps ago, so a target takes
effect exactly ``d`` substeps after it was issued. The last ``ceil(max_delay / decimation) + 1`` targets are
kept per env; the per-substep targets of all envs are gathered in one indexing operation and applied by
one ``Batch.rollout(nstep=decimation, control=...)`` call, which sets each simulation's ``ctrl`` before each
substep in C and is bit-identical to stepping substep by substep. While every delay is zero the
simulator keeps the single ``Batch.step(nstep=decimation)`` call.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import mujoco
import numpy as np
from mujoco import batch as mjbatch

from stridelab.errors import ConfigError
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

    def __init__(self, robot: Any, num_envs: int, num_threads: int, decimation: int) -> None:
        """``robot``: a loaded robot (:class:`stridelab.robots.loader.LoadedRobot`: its compiled ``model``, and the
        joint and body indices :mod:`stridelab.sim.physics` reads); the simulator does not depend on how it was built."""
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
        self._history: np.ndarray | None = None  # (num_envs, H, nu): targets issued 0, 1, ..., H-1 steps ago
        self._lag: np.ndarray | None = None  # (num_envs, decimation): history index applied at each substep

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
            if self._history is None:
                self.ctrl[:] = targets
                self.batch.step(nstep=self.decimation)
            else:
                self._step_delayed(targets)
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
        if self._history is not None:
            self._history[ids] = np.asarray(targets)[:, None, :]

    def hold_history(self, ids: np.ndarray, past: np.ndarray) -> None:
        """Give ``ids`` (Shape: (k,)) the targets they were issued before: ``past[:, h]`` is the target issued
        ``h + 1`` control steps ago (Shape: (k, H, nu)), so a delay applies them as it would have (a replay that
        starts mid-log). Entries beyond the kept history are ignored; a short ``past`` repeats its oldest."""
        past = np.asarray(past, dtype=np.float64)
        self.ctrl[ids] = past[:, 0]
        if self._history is None:
            return
        h = self._history.shape[1]
        index = np.minimum(np.arange(h), past.shape[1] - 1)
        self._history[ids] = past[:, index]

    # ---- action latency --------------------------------------------------------------------------
    def set_delay(self, ids: np.ndarray, substeps: np.ndarray) -> None:
        """Delay the PD targets of ``ids`` (Shape: (k,)) by ``substeps`` physics substeps (Shape: (k,), whole
        numbers >= 0). The first nonzero delay switches stepping to the delayed path for good (the history
        of targets starts from the current ``ctrl``); all-zero delays step exactly as without latency."""
        d = np.asarray(substeps, dtype=np.float64)
        if (d < 0).any() or (d != np.round(d)).any():
            raise ConfigError(f"action delays must be whole numbers of substeps >= 0; got {d.min()} .. {d.max()}.")
        ids = np.asarray(ids, dtype=np.int64)
        self.delay_substeps[ids] = d.astype(np.int64)
        length = math.ceil(int(self.delay_substeps.max()) / self.decimation) + 1
        if self._history is None and self.delay_substeps.any() or \
                self._history is not None and self._history.shape[1] < length:
            old = self._history if self._history is not None else self.ctrl[:, None, :]
            self._history = np.repeat(old[:, -1:], length, axis=1)
            self._history[:, :old.shape[1]] = old
        if self._history is not None:
            k = np.arange(self.decimation)
            self._lag = np.maximum(0, -((k[None, :] - self.delay_substeps[:, None]) // self.decimation))

    def _step_delayed(self, targets: np.ndarray) -> None:
        """One control step with per-env delayed targets: push ``targets`` (Shape: (n, nu)) into the history,
        gather each env's target per substep, one ``Batch.rollout`` call."""
        h = self._history
        h[:, 1:] = h[:, :-1].copy()
        h[:, 0] = targets
        if not self.delay_substeps.any():
            self.ctrl[:] = targets
            self.batch.step(nstep=self.decimation)
            return
        control = h[np.arange(self.num_envs)[:, None], self._lag]  # (n, decimation, nu)
        self.batch.rollout(self.decimation, control=control, record=())

    def state_dict(self) -> dict:
        """Latency state for exact resume (the delays and the target history); empty without latency."""
        if self._history is None:
            return {}
        return {"delay_substeps": self.delay_substeps.copy(), "history": self._history.copy()}

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        self.set_delay(np.arange(self.num_envs), np.asarray(state["delay_substeps"]))
        self._history = np.array(state["history"], dtype=np.float64)

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
