"""Batched MuJoCo simulation of one robot on ``mujoco.batch.Batch``: stepping, resets, failures.

One control step is one ``Batch.step(nstep=decimation)`` call over all simulations; the PD
controllers run inside every substep. There is no Python loop over simulations.
"""

from __future__ import annotations

import logging

import mujoco
import numpy as np
from mujoco import batch as mjbatch

from stridelab.robots.loader import LoadedRobot

log = logging.getLogger(__name__)

_BAD_WARNINGS = [int(mujoco.mjtWarning.mjWARN_BADQPOS), int(mujoco.mjtWarning.mjWARN_BADQVEL),
                 int(mujoco.mjtWarning.mjWARN_BADQACC), int(mujoco.mjtWarning.mjWARN_BADCTRL)]


class BatchSimulator:
    """``num_envs`` simulations of one robot, stepped together on ``num_threads`` threads.

    Attributes:
        qpos, qvel, ctrl: live state views. Shapes: (num_envs, nq), (num_envs, nv), (num_envs, nu).
        sensordata: derived sensor values, one substep behind the state after :meth:`step`.
        actuator_force: applied joint torques of the last substep [N m]. Shape: (num_envs, nu).
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
        self.ctrl[:] = targets
        failed = np.zeros(self.num_envs, dtype=bool)
        try:
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
        ids = np.asarray(ids, dtype=np.int32)
        self.batch.reset(ids, keyframe=self.home_key, stage=mujoco.mjtStage.mjSTAGE_NONE)
        self.qpos[ids] = qpos
        self.qvel[ids] = qvel
        self.qfrc_applied[ids] = 0.0
        self.batch.forward(ids)
        self._warn_count[ids] = self.batch.warning[ids][:, _BAD_WARNINGS, 1]

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
