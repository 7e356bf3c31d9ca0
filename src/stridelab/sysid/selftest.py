"""A synthetic log with hidden parameters: the check that identification recovers what made a log.

:func:`synthetic_log` simulates the robot (the identification's own model, one simulation) with the hidden
parameters written in, standing on the floor while every joint follows an excitation around the default pose
(a sum of sinusoids per joint, 0.3-3 Hz, and target steps every 0.5 s; it stays standing), and logs it at the
control rate with sensor noise like the deploy simulation's (joint positions 0.005 rad, velocities 0.1 rad/s, gyro
0.02 rad/s, torques 0.2 N m; base position and velocity 0.002 m, 0.02 m/s as a state estimate's).
"""

from __future__ import annotations

import numpy as np

from stridelab.deploy.robot_log import LOG_FORMAT, RobotLog
from stridelab.sim.math import quat_rotate_inverse
from stridelab.sim.simulator import BatchSimulator
from stridelab.sysid.params import Writer
from stridelab.sysid.replay import converge_solver

#: the hidden parameters of ``stridelab sysid --self-test`` (the built-in quadruped's nominal: friction 0 N m,
#: damping 0.1 N m s/rad, motor strength 1, kp 1, latency 0)
HIDDEN = {"friction": 0.15, "damping": 0.13, "motor_strength": 0.9, "kp": 1.12, "latency": 3}
#: the excitation's kd is the robot's for KD_SWITCH_S seconds, then KD_HIGH times it, in turn: with one kd,
#: the motion shows only the sum of the PD's damping (motor strength x kd) and the joints' passive damping
KD_SWITCH_S = 2.5
KD_HIGH = 3.0
NOISE = {"joint_pos": 0.005, "joint_vel": 0.1, "base_ang_vel": 0.02, "base_pos": 0.002, "base_lin_vel": 0.02,
         "joint_torque": 0.2}


def excitation(num_joints: int, steps: int, dt: float, rng: np.random.Generator, amplitude: float = 0.15
               ) -> np.ndarray:
    """Target offsets from the default pose [rad]: per joint three sinusoids (0.3-3 Hz, random phases) plus a step
    every 0.5 s (uniform in +-amplitude). Shape: (steps, J)."""
    t = np.arange(steps)[:, None] * dt
    freq = rng.uniform(0.3, 3.0, size=(3, num_joints))
    phase = rng.uniform(0, 2 * np.pi, size=(3, num_joints))
    waves = sum(np.sin(2 * np.pi * freq[k] * t + phase[k]) for k in range(3)) * amplitude / 3
    hold = max(1, int(round(0.5 / dt)))
    jumps = rng.uniform(-amplitude, amplitude, size=(steps // hold + 1, num_joints))
    return waves + np.repeat(jumps, hold, axis=0)[:steps]


def synthetic_log(robot, hidden: dict[str, float], seconds: float = 20.0, seed: int = 0, noise: bool = True
                  ) -> RobotLog:
    """A log of ``seconds`` of the robot with ``hidden`` parameters (module docstring); at the model's control rate
    (the tasks' 4 substeps per control step)."""
    rng = np.random.default_rng(seed)
    decimation = 4
    dt = float(robot.model.opt.timestep) * decimation
    steps = int(round(seconds / dt))
    sim = converge_solver(BatchSimulator(robot, 1, 1, decimation))  # the real world's physics is not cut short
    spec = robot.spec
    names = tuple(hidden)
    kp, kd = np.asarray(spec.kp, dtype=np.float64)[None], np.asarray(spec.kd, dtype=np.float64)[None]
    Writer(sim, names).write(np.array([0]), np.array([[hidden[n] for n in names]]), kp, kd)
    qpos = robot.model.qpos0.copy()
    b, v = robot.base_qpos_adr, robot.base_dof_adr
    if robot.stand_height is None:  # standing on the floor (on a stand the base stays where qpos0 has it)
        qpos[b:b + 3] = [0.0, 0.0, spec.init_height]
        qpos[b + 3:b + 7] = [1.0, 0.0, 0.0, 0.0]
    qpos[robot.qpos_adr] = spec.default_pose
    sim.reset(np.array([0]), qpos[None], np.zeros((1, robot.model.nv)))
    kd_series = kd * np.where((np.arange(steps) // int(round(KD_SWITCH_S / dt))) % 2 == 1, KD_HIGH, 1.0)[:, None]
    targets = np.asarray(spec.default_pose)[None] + excitation(len(spec.joint_names), steps, dt, rng)
    targets = np.clip(targets, robot.joint_range[:, 0], robot.joint_range[:, 1])
    sim.hold(np.array([0]), targets[:1])
    rows = {k: [] for k in ("joint_pos", "joint_vel", "base_quat", "base_ang_vel", "base_pos", "base_lin_vel",
                            "joint_torque")}
    for step in range(steps):
        q, dq = sim.qpos[0], sim.qvel[0]
        quat = q[b + 3:b + 7].copy()
        rows["joint_pos"].append(q[robot.qpos_adr].copy())
        rows["joint_vel"].append(dq[robot.dof_adr].copy())
        rows["base_quat"].append(quat)
        rows["base_ang_vel"].append(dq[v + 3:v + 6].copy())
        rows["base_pos"].append(q[b:b + 3].copy())
        rows["base_lin_vel"].append(quat_rotate_inverse(quat[None], dq[None, v:v + 3])[0])
        rows["joint_torque"].append(sim.actuator_force[0].copy())
        if step == 0 or kd_series[step, 0] != kd_series[step - 1, 0]:
            Writer(sim, names).write(np.array([0]), np.array([[hidden[n] for n in names]]), kp, kd_series[step][None])
        sim.step(targets[step:step + 1])
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    if robot.stand_height is not None:  # a stand's log has no base position or velocity to give
        del arrays["base_pos"], arrays["base_lin_vel"]
    if noise:
        for k, std in NOISE.items():
            if k in arrays:
                arrays[k] = arrays[k] + rng.normal(0.0, std, size=arrays[k].shape)
    arrays.update(time=np.arange(steps) * dt, joint_target=targets, kp=kp[0], kd=kd_series)
    meta = {"format": LOG_FORMAT, "robot": spec.name, "joint_names": list(spec.joint_names), "rate_hz": 1.0 / dt,
            "feet": list(spec.feet), "source": "stridelab sysid --self-test",
            "hidden": {k: float(v) for k, v in hidden.items()}}
    if robot.stand_height is not None:
        meta["stand_height"] = robot.stand_height
    return RobotLog(arrays, meta)
