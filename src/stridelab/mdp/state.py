"""The per-step robot state every MDP term reads, computed once per control step from the batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stridelab.sim.math import projected_gravity, quat_rotate_inverse

@dataclass
class RobotState:
    """Batched robot state after a control step: what every MDP term reads. Arrays are float64 numpy.

    The proprioceptive fields (first block) exist on a real robot too, and the deploy runtime fills
    them from robot signals (:meth:`from_signals`); the rest is known only in simulation and is
    ``None`` there.

    Attributes:
        base_quat: orientation (w, x, y, z). Shape: (n, 4).
        base_ang_vel: angular velocity in the base frame [rad/s]. Shape: (n, 3).
        projected_gravity: unit gravity direction in the base frame. Shape: (n, 3).
        joint_pos: [rad]. Shape: (n, j).
        joint_vel: [rad/s]. Shape: (n, j).
        default_joint_pos: the standing pose actions are offsets from [rad]. Shape: (j,).
        actions: the current (processed) actions. Shape: (n, j).
        commands: velocity command (vx [m/s], vy [m/s], yaw rate [rad/s]). Shape: (n, 3).
        gait_phase: per-foot phase of the gait clock in [0, 1), if the task has one (the controller's own
            clock, so it exists on a robot too). Shape: (n, f).
        gait_frequency: the gait clock's stepping frequency [Hz], if the task has a clock. Shape: (n,).
        gait_settling: envs told to stand whose clock still steps, for its ``settle_cycles`` after the last
            moving command (a walking biped stops in a step, not at once); :func:`commanded` counts them as
            moving. Shape: (n,), bool.
        base_pos: world position [m]. Shape: (n, 3).
        base_lin_vel: linear velocity in the base frame [m/s]. Shape: (n, 3).
        joint_acc: finite difference of joint_vel over the control period [rad/s^2]. Shape: (n, j).
        torques: actuator torques of the last substep [N m]. Shape: (n, j).
        foot_contact: whether each foot touches anything. Shape: (n, f), bool.
        foot_pos: world position of the feet [m]. Shape: (n, f, 3).
        foot_force: net contact force on each foot, world frame [N]. Shape: (n, f, 3).
        foot_vel: world velocity of each foot's lowest point (where it meets flat ground; a rolling sphere
            foot's is zero) [m/s]. Shape: (n, f, 3).
        terminate_contact: contact of bodies whose contact ends the episode. Shape: (n, t), bool.
        penalize_contact: contact of bodies whose contact is penalized. Shape: (n, p), bool.
        last_actions: previous actions. Shape: (n, j).
        terminated: envs that failed this step (set by the env after the terminations). Shape: (n,), bool.
    """

    base_quat: np.ndarray
    base_ang_vel: np.ndarray
    projected_gravity: np.ndarray
    joint_pos: np.ndarray
    joint_vel: np.ndarray
    default_joint_pos: np.ndarray
    actions: np.ndarray
    commands: np.ndarray
    gait_phase: np.ndarray | None = None
    gait_frequency: np.ndarray | None = None
    gait_settling: np.ndarray | None = None
    base_pos: np.ndarray | None = None
    base_lin_vel: np.ndarray | None = None
    joint_acc: np.ndarray | None = None
    torques: np.ndarray | None = None
    foot_contact: np.ndarray | None = None
    foot_pos: np.ndarray | None = None
    foot_force: np.ndarray | None = None
    foot_vel: np.ndarray | None = None
    terminate_contact: np.ndarray | None = None
    penalize_contact: np.ndarray | None = None
    last_actions: np.ndarray | None = None
    terminated: np.ndarray | None = None

    @classmethod
    def from_signals(cls, base_quat: np.ndarray, base_ang_vel: np.ndarray, joint_pos: np.ndarray,
                     joint_vel: np.ndarray, default_joint_pos: np.ndarray, last_action: np.ndarray,
                     command: np.ndarray, base_lin_vel: np.ndarray | None = None,
                     gait_phase: np.ndarray | None = None, gait_frequency: float | None = None) -> RobotState:
        """A batch of one from a robot's measurements (IMU quaternion and gyro, encoders) and the command."""
        quat = np.asarray(base_quat, dtype=np.float64).reshape(1, 4)
        return cls(
            base_quat=quat,
            base_ang_vel=np.asarray(base_ang_vel, dtype=np.float64).reshape(1, 3),
            projected_gravity=projected_gravity(quat),
            joint_pos=np.asarray(joint_pos, dtype=np.float64).reshape(1, -1),
            joint_vel=np.asarray(joint_vel, dtype=np.float64).reshape(1, -1),
            default_joint_pos=np.asarray(default_joint_pos, dtype=np.float64),
            actions=np.asarray(last_action, dtype=np.float64).reshape(1, -1),
            commands=np.asarray(command, dtype=np.float64).reshape(1, 3),
            base_lin_vel=None if base_lin_vel is None else np.asarray(base_lin_vel, dtype=np.float64).reshape(1, 3),
            gait_phase=None if gait_phase is None else np.asarray(gait_phase, dtype=np.float64).reshape(1, -1),
            gait_frequency=None if gait_frequency is None else np.array([float(gait_frequency)]),
        )


def told_to_move(commands: np.ndarray, min_command: float = 0.1) -> np.ndarray:
    """Rows of ``commands`` (n, 3) [m/s, m/s, rad/s] with a planar speed or a yaw rate of at least
    ``min_command``. Shape: (n,), bool."""
    commands = np.asarray(commands, dtype=np.float64)
    return (np.linalg.norm(commands[:, :2], axis=1) >= min_command) | (np.abs(commands[:, 2]) >= min_command)


def commanded(s: RobotState, min_command: float = 0.1) -> np.ndarray:
    """Envs of ``s`` that step: given a planar speed [m/s] or yaw rate [rad/s] of at least ``min_command``, or
    told to stand within the gait clock's settling cycles after moving (``s.gait_settling``); the others
    stand. Shape: (n,), bool."""
    moving = told_to_move(s.commands, min_command)
    settling = getattr(s, "gait_settling", None)  # a state built by hand (a namespace) may lack it
    return moving if settling is None else moving | settling


def read_state(sim, robot, prev_joint_vel: np.ndarray, dt: float, actions: np.ndarray,
               last_actions: np.ndarray, commands: np.ndarray, default_joint_pos: np.ndarray) -> RobotState:
    """Gather a :class:`RobotState` from a :class:`~stridelab.sim.simulator.BatchSimulator`."""
    qpos, qvel, sd = sim.qpos, sim.qvel, sim.sensordata
    b, d = robot.base_qpos_adr, robot.base_dof_adr
    quat = qpos[:, b + 3:b + 7].copy()
    joint_vel = qvel[:, robot.dof_adr]
    s = robot.sensors
    nf = robot.num_feet
    return RobotState(
        base_pos=qpos[:, b:b + 3].copy(),  # copies: the live views change at the next reset or step
        base_quat=quat,
        base_lin_vel=quat_rotate_inverse(quat, qvel[:, d:d + 3]),
        base_ang_vel=qvel[:, d + 3:d + 6].copy(),  # free-joint angular velocity is already in the body frame
        projected_gravity=projected_gravity(quat),
        joint_pos=qpos[:, robot.qpos_adr],
        joint_vel=joint_vel,
        default_joint_pos=default_joint_pos,
        joint_acc=(joint_vel - prev_joint_vel) / dt,
        torques=sim.actuator_force.copy(),
        foot_contact=sd[:, s.foot_contact[0]:s.foot_contact[1]] > 0,
        foot_pos=sd[:, s.foot_pos[0]:s.foot_pos[1]].reshape(-1, nf, 3).copy(),
        foot_vel=robot.foot_velocity(sd),
        foot_force=robot.foot_force(sd),
        terminate_contact=sd[:, s.terminate_contact[0]:s.terminate_contact[1]] > 0,
        penalize_contact=sd[:, s.penalize_contact[0]:s.penalize_contact[1]] > 0,
        actions=actions,
        last_actions=last_actions,
        commands=commands.copy(),
    )
