"""The built-in biped is mirror-symmetric in the simulator: stepping mirrored actions from a mirrored state (any
state, velocities included) gives the mirrored next state, which mirror augmentation and the mirror loss assume.
(The quadruped's version, through its observations, is in test_symmetry.py.)"""

from __future__ import annotations

import numpy as np
import stridelab

NO_RANDOMNESS = {"events": {"friction": {"params": {"range": (0.8, 0.8)}},
                            "base_mass": {"params": {"added_mass": (0.0, 0.0)}},
                            "reset_robot": {"params": {"joint_noise": 0.0}}}}


def mirror_state(robot, qpos: np.ndarray, qvel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The left/right mirror (about the world x-z plane) of one state. Shapes: (nq,), (nv,)."""
    spec = robot.spec
    perm, sign = np.asarray(spec.mirror_perm), np.asarray(spec.mirror_sign)
    q, v = qpos.copy(), qvel.copy()
    b, d = robot.base_qpos_adr, robot.base_dof_adr
    q[b + 1] *= -1.0  # y
    q[b + 3:b + 7] *= np.array([1.0, -1.0, 1.0, -1.0])  # (w, x, y, z) -> (w, -x, y, -z)
    v[d + 1] *= -1.0  # world vy
    v[d + 3:d + 6] *= np.array([-1.0, 1.0, -1.0])  # body-frame roll and yaw rates
    q[robot.qpos_adr] = qpos[robot.qpos_adr][perm] * sign
    v[robot.dof_adr] = qvel[robot.dof_adr][perm] * sign
    return q, v


def test_mirrored_actions_from_a_mirrored_state_give_the_mirrored_next_state():
    env = stridelab.make("biped-flat", num_envs=2, num_threads=1, seed=0, **NO_RANDOMNESS)
    robot, rng = env.robot, np.random.default_rng(1)
    spec = robot.spec
    perm, sign = np.asarray(spec.mirror_perm), np.asarray(spec.mirror_sign)
    zero = np.zeros((2, env.num_actions))
    for _ in range(10):  # walk off the reset into a generic, asymmetric state
        env.step(zero + rng.normal(0.0, 0.5, size=(1, env.num_actions)))
    q0, v0 = env.sim.qpos[0].copy(), env.sim.qvel[0].copy()
    q1, v1 = mirror_state(robot, q0, v0)
    env.sim.reset(np.array([0, 1]), np.stack([q0, q1]), np.stack([v0, v1]))
    asym = np.abs(q1 - q0).max()
    assert asym > 0.05  # the state is not already symmetric: the check below has teeth
    for _ in range(5):
        a = rng.normal(0.0, 1.0, size=env.num_actions)
        targets = env.action_term.targets(np.stack([a, a[perm] * sign]))
        env.sim.step(targets)
    q_exp, v_exp = mirror_state(robot, env.sim.qpos[0], env.sim.qvel[0])
    np.testing.assert_allclose(env.sim.qpos[1], q_exp, atol=1e-6)
    np.testing.assert_allclose(env.sim.qvel[1], v_exp, atol=1e-4)
