"""Domain randomization through per-simulation model fields (``Batch.expand``), sampled at reset.

Every sampled value stays readable in :attr:`DomainRandomizer.params` for the privileged observations.
"""

from __future__ import annotations

import numpy as np

from stridelab.config import RandomizationConfig


class DomainRandomizer:
    """Samples and writes friction, base mass/COM and PD gains per env; applies pushes.

    Attributes:
        params: per-env values by name: friction (n, f), added_mass (n, 1), com_offset (n, 3),
            motor_strength/kp_factor/kd_factor (n, j), push (n, 6) [m/s, rad/s].
    """

    def __init__(self, cfg: RandomizationConfig, sim, robot, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.sim = sim
        self.robot = robot
        self.rng = rng
        n, j, f = sim.num_envs, robot.spec.num_joints, len(robot.foot_geom_ids)
        model = robot.model
        self._friction0 = model.geom_friction[robot.foot_geom_ids, 0].copy()
        self._mass0 = float(model.body_mass[robot.base_body_id])
        self._ipos0 = model.body_ipos[robot.base_body_id].copy()
        self._kp = np.asarray(robot.spec.kp)
        self._kd = np.asarray(robot.spec.kd)
        self.params = {
            "friction": np.broadcast_to(self._friction0, (n, f)).copy(),
            "added_mass": np.zeros((n, 1)),
            "com_offset": np.zeros((n, 3)),
            "motor_strength": np.ones((n, j)),
            "kp_factor": np.ones((n, j)),
            "kd_factor": np.ones((n, j)),
            "push": np.zeros((n, 6)),
        }
        c = cfg
        self._mass = c.added_mass != (0.0, 0.0) or c.com_offset != (0.0, 0.0)
        self._gains = any(r != (1.0, 1.0) for r in (c.motor_strength, c.kp_factor, c.kd_factor))
        # friction is always written: a (mu, mu) range sets every foot to mu
        self._geom_friction = sim.expand("geom_friction")
        if self._mass:
            self._body_mass = sim.expand("body_mass")
            self._body_ipos = sim.expand("body_ipos")
        if self._gains:
            self._gainprm = sim.expand("actuator_gainprm")
            self._biasprm = sim.expand("actuator_biasprm")

    def apply(self, ids: np.ndarray) -> None:
        """Sample new parameters for ``ids`` and write them into their simulations."""
        if len(ids) == 0:
            return
        c, k, p = self.cfg, len(ids), self.params
        p["push"][ids] = 0.0
        mu = self.rng.uniform(*c.friction, size=(k, 1))
        p["friction"][ids] = mu
        self._geom_friction[ids[:, None], self.robot.foot_geom_ids[None, :], 0] = mu
        if self._mass:
            p["added_mass"][ids] = self.rng.uniform(*c.added_mass, size=(k, 1))
            p["com_offset"][ids] = self.rng.uniform(*c.com_offset, size=(k, 3))
            b = self.robot.base_body_id
            self._body_mass[ids, b] = self._mass0 + p["added_mass"][ids, 0]
            self._body_ipos[ids, b] = self._ipos0 + p["com_offset"][ids]
            self.sim.set_const(ids)
        if self._gains:
            j = self.robot.spec.num_joints
            for name, rng in (("motor_strength", c.motor_strength), ("kp_factor", c.kp_factor),
                              ("kd_factor", c.kd_factor)):
                p[name][ids] = self.rng.uniform(*rng, size=(k, j))
            kp = self._kp * p["kp_factor"][ids] * p["motor_strength"][ids]
            kd = self._kd * p["kd_factor"][ids] * p["motor_strength"][ids]
            # PD actuator: force = kp ctrl - kp q - kd qdot (see robots.loader)
            self._gainprm[ids, :, 0] = kp
            self._biasprm[ids, :, 1] = -kp
            self._biasprm[ids, :, 2] = -kd

    def push(self, ids: np.ndarray) -> None:
        """Add a random planar velocity change to the bases of ``ids`` (legged_gym's push)."""
        if len(ids) == 0:
            return
        d = self.robot.base_dof_adr
        dv = self.rng.uniform(-self.cfg.push_vel, self.cfg.push_vel, size=(len(ids), 2))
        self.sim.qvel[ids, d:d + 2] += dv
        self.params["push"][ids] = 0.0
        self.params["push"][ids, :2] = dv
