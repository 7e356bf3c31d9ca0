"""The robot interface of the deployment loop, and its simulated implementation.

A robot SDK implements :class:`RobotBackend`'s few methods: ``read_state``, ``write_targets``,
``time`` and ``wait_until``. :class:`SimBackend` is a separate MuJoCo simulation with settings that
differ from training (integrator, timestep, actuation latency, sensor noise), for sim-to-sim checks.
"""

from __future__ import annotations

import abc
import copy
import logging
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import mujoco
import numpy as np

from stridelab.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class RobotSignals:
    """One proprioceptive sample, as a robot reports it.

    Attributes:
        stamp: time of the measurement [s] (backend clock).
        joint_pos: [rad], in the policy's joint order. Shape: (j,).
        joint_vel: [rad/s]. Shape: (j,).
        base_quat: IMU orientation (w, x, y, z) in the world. Shape: (4,).
        base_ang_vel: IMU angular velocity in the base frame [rad/s]. Shape: (3,).
        base_lin_vel: base velocity in the base frame [m/s] if known (simulation, state estimator), else None.
        joint_torque: measured torques [N m] if known.
    """

    stamp: float
    joint_pos: np.ndarray
    joint_vel: np.ndarray
    base_quat: np.ndarray
    base_ang_vel: np.ndarray
    base_lin_vel: np.ndarray | None = None
    joint_torque: np.ndarray | None = None
    foot_contact: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


class RobotBackend(abc.ABC):
    """What the control loop needs from a robot (real or simulated)."""

    @abc.abstractmethod
    def time(self) -> float:
        """The backend's clock [s]."""

    @abc.abstractmethod
    def read_state(self) -> RobotSignals:
        """The newest state sample (its ``stamp`` shows how fresh it is)."""

    @abc.abstractmethod
    def write_targets(self, joint_pos: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Command joint position targets [rad] with PD gains [N m/rad], [N m s/rad]. Shapes: (j,)."""

    @abc.abstractmethod
    def wait_until(self, t: float) -> None:
        """Block until the backend clock reaches ``t`` (a simulation steps its physics to ``t``)."""

    def close(self) -> None:
        """Release the connection."""


@dataclass(frozen=True)
class SimBackendConfig:
    """How the deploy simulation differs from training.

    Attributes:
        timestep: physics step [s] (training: 0.005).
        integrator: MuJoCo integrator name (training: implicitfast).
        latency_s: delay between write_targets and the motors applying them [s]; ``None``: the latency the
            policy was trained with (:func:`trained_latency_s`), filled in by :meth:`for_policy`.
        noise_joint_pos, noise_joint_vel, noise_gyro: Gaussian sensor noise std [rad, rad/s, rad/s].
        friction: foot friction coefficient.
        realtime: also sleep so that simulated time follows the wall clock.
    """

    timestep: float = 0.002
    integrator: str = "RK4"
    latency_s: float | None = None
    noise_joint_pos: float = 0.005
    noise_joint_vel: float = 0.1
    noise_gyro: float = 0.02
    friction: float = 0.8
    realtime: bool = False
    seed: int = 0

    def for_policy(self, meta: dict) -> SimBackendConfig:
        """This config for the policy ``policy.json`` describes: an unset ``latency_s`` becomes the middle of the
        latency range it was trained with (:func:`trained_latency_s`); a set one is kept."""
        if self.latency_s is not None:
            return self
        latency = trained_latency_s(meta)
        log.info("deploy sim latency %.4g s: the middle of the trained range %s s (%s)", latency,
                 meta["latency"]["range_s"], meta["latency"].get("source") or "no latency event")
        return replace(self, latency_s=latency)


def trained_latency_s(meta: dict) -> float:
    """The deploy simulation's default actuation latency [s]: the middle of the latency range the policy was trained
    with (``policy.json["latency"]["range_s"]``; 0 for a task without a latency event). The one place it is set."""
    latency = meta.get("latency")
    if not latency or "range_s" not in latency:
        raise ConfigError("policy.json does not say which actuation latency the policy was trained with (it was "
                          "exported by an older stridelab); export it again, or give the latency with --latency "
                          "SECONDS.")
    low, high = (float(v) for v in latency["range_s"])
    return 0.5 * (low + high)


class SimBackend(RobotBackend):
    """One MuJoCo simulation of the robot behind the RobotBackend interface."""

    def __init__(self, robot, cfg: SimBackendConfig, init_yaw: float = 0.0) -> None:
        """``robot``: a loaded robot (:func:`robot_of`); on a terrain it stands at the first tile's origin."""
        import time as _time

        if cfg.latency_s is None or cfg.latency_s < 0:
            raise ConfigError(f"the deploy simulation's latency_s is {cfg.latency_s}; give 0 or more seconds, or fill "
                              f"in the policy's trained latency with SimBackendConfig.for_policy(policy.json).")
        self._wall = _time
        self.robot = robot
        self.cfg = cfg
        self.model = copy.copy(robot.model)  # its own options and gains; training's model stays untouched
        self.model.opt.timestep = cfg.timestep
        self.model.opt.integrator = getattr(mujoco.mjtIntegrator, f"mjINT_{cfg.integrator.upper()}")
        self.model.geom_friction[robot.foot_geom_ids, 0] = cfg.friction
        self.data = mujoco.MjData(self.model)
        self.rng = np.random.default_rng(cfg.seed)
        terrain = getattr(robot, "terrain", None)
        self.spawn = np.asarray(terrain.origins[0, 0], dtype=np.float64) if terrain is not None else np.zeros(3)
        self._pending: deque = deque()
        self.reset(init_yaw)

    def reset(self, yaw: float = 0.0) -> None:
        """Stand the robot in its default pose at the origin, or on a terrain at its first tile's origin."""
        r, spec, d = self.robot, self.robot.spec, self.data
        mujoco.mj_resetData(self.model, d)
        b = r.base_qpos_adr
        d.qpos[b:b + 3] = np.add(self.spawn, [0.0, 0.0, spec.init_height])
        d.qpos[b + 3:b + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        d.qpos[r.qpos_adr] = spec.default_pose
        d.ctrl[:] = spec.default_pose
        mujoco.mj_forward(self.model, d)
        self._pending.clear()
        self._wall_start = self._wall.monotonic()

    def time(self) -> float:
        return float(self.data.time)

    def read_state(self) -> RobotSignals:
        r, d, c = self.robot, self.data, self.cfg
        b, v = r.base_qpos_adr, r.base_dof_adr
        j = r.spec.num_joints
        quat = d.qpos[b + 3:b + 7].copy()
        from stridelab.sim.math import quat_rotate_inverse

        lin = quat_rotate_inverse(quat[None], d.qvel[v:v + 3][None])[0]
        s = r.sensors
        return RobotSignals(
            stamp=float(d.time),
            joint_pos=d.qpos[r.qpos_adr] + self.rng.normal(0, c.noise_joint_pos, j),
            joint_vel=d.qvel[r.dof_adr] + self.rng.normal(0, c.noise_joint_vel, j),
            base_quat=quat,
            base_ang_vel=d.qvel[v + 3:v + 6] + self.rng.normal(0, c.noise_gyro, 3),
            base_lin_vel=lin,
            joint_torque=d.actuator_force.copy(),
            foot_contact=d.sensordata[s.foot_contact[0]:s.foot_contact[1]] > 0,
            extra={"base_pos": d.qpos[b:b + 3].copy(),
                   "foot_pos": d.sensordata[s.foot_pos[0]:s.foot_pos[1]].reshape(-1, 3).copy(),  # world [m]
                   "foot_vel": r.foot_velocity(d.sensordata[None])[0],
                   "terminate_contact": bool((d.sensordata[s.terminate_contact[0]:s.terminate_contact[1]] > 0).any())},
        )

    def write_targets(self, joint_pos: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        self._pending.append((self.data.time + self.cfg.latency_s, np.array(joint_pos), np.array(kp), np.array(kd)))

    def _apply_due(self) -> None:
        while self._pending and self._pending[0][0] <= self.data.time + 1e-9:
            _, q, kp, kd = self._pending.popleft()
            m = self.model
            m.actuator_gainprm[:, 0] = kp
            m.actuator_biasprm[:, 1] = -kp
            m.actuator_biasprm[:, 2] = -kd
            self.data.ctrl[:] = q

    def wait_until(self, t: float) -> None:
        while self.data.time < t - 1e-9:
            self._apply_due()
            mujoco.mj_step(self.model, self.data)
        if self.cfg.realtime:
            delay = (self._wall_start + t) - self._wall.monotonic()
            if delay > 0:
                self._wall.sleep(delay)


def robot_of(meta: dict, terrain: Any = None):
    """Load the robot a policy.json describes (registry name or YAML spec, with its model source), on ``terrain``
    (a TerrainConfig; ``None``: the flat floor)."""
    from stridelab.robots import get_robot, load_robot

    r = meta["robot"]
    spec = get_robot(r.get("registry", r["name"]), source=r["source"])
    return load_robot(spec, terrain=terrain) if terrain is not None else load_robot(spec)


def terrain_tile(meta: dict, kind: str, level: float) -> Any:
    """A one-tile terrain of type ``kind`` at difficulty ``level`` (0-1) of the terrain ``policy.json`` was trained on;
    for a policy trained on an ETG-RL course, ``kind`` is the course's name (or ``course``): one lane of it.

    Raises:
        ConfigError: the policy was trained on the flat floor, or ``kind`` is not one of its terrain types.
    """
    from stridelab.config import from_dict
    from stridelab.sim.terrain import TerrainConfig

    if not meta.get("terrain"):
        raise ConfigError("policy.json has no training terrain (a flat-floor policy, or exported by an older "
                          "stridelab); drop --terrain, or export a terrain policy again.")
    cfg = from_dict(TerrainConfig, meta["terrain"], "terrain")
    if cfg.course:  # a course: the first lane of its last level (ETG-RL's figures), the robot at the lane's start
        from stridelab.sim.terrain.courses import final_level

        if kind not in (cfg.course, "course"):
            raise ConfigError(f"--terrain {kind!r} is not the course the policy was trained on; use --terrain "
                              f"{cfg.course}.")
        return replace(final_level(cfg), num_cols=1)
    kinds = [k for k, p in cfg.types.items() if p > 0]
    if kind not in kinds:
        raise ConfigError(f"--terrain {kind!r} is not a terrain type the policy was trained on; use one of "
                          f"{', '.join(kinds)}.")
    if not 0.0 <= level <= 1.0:
        raise ConfigError(f"--terrain-level {level} is out of range; give a difficulty in [0, 1].")
    return replace(cfg, num_rows=1, num_cols=1, levels=(float(level), float(level)), types={kind: 1.0})

