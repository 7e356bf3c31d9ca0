"""The vectorized locomotion environment (rsl-rl-lib ``VecEnv`` contract), composed of managers.

The env knows no term by name: the task config's term tables become managers, and ``step`` runs
them in this fixed order for all envs at once (no Python loop over environments):

1. action term: policy output -> processed actions (clip) -> PD joint targets;
2. physics: one ``Batch.step(nstep=decimation)`` call (PD inside every substep; with action latency one
   ``Batch.rollout`` call applying each env's delayed targets substep by substep);
3. commands advance their timers; interval events (pushes) fire;
4. the state is read once (:class:`~stridelab.mdp.state.RobotState`);
5. terminations, then rewards (the failure flag is visible to the termination penalty);
6. done envs reset: curriculum, reset events (randomization, then the pose), commands, per-term resets;
7. observations of every group.

The one terrain hook: ``cfg.terrain`` (a TerrainConfig, or None for the flat floor) is passed to the robot
loader, which adds the terrain to the model; terms reach it as ``env.robot.terrain``, and terrain terms
share per-env tiles through ``env.terrain_tiles`` (:mod:`stridelab.mdp.terrain`).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from stridelab.config import EnvConfig
from stridelab.errors import ConfigError
from stridelab.managers.command import CommandManager, CurriculumManager, build_action
from stridelab.managers.event import EventManager
from stridelab.managers.observation import ObservationManager
from stridelab.managers.reward import RewardManager
from stridelab.managers.termination import TerminationManager
from stridelab.mdp.state import RobotState, read_state
from stridelab.robots.loader import LoadedRobot
from stridelab.sim.simulator import BatchSimulator

log = logging.getLogger(__name__)


class LocomotionEnv(VecEnv):
    """``cfg.num_envs`` legged robots on one ``mujoco.batch.Batch``, driven by the task's terms.

    Observations: a TensorDict of float32 groups (``policy``, ``privileged``, ...), shape (n, size).
    Actions: (n, num_joints), interpreted by the task's action term.
    """

    def __init__(self, cfg: EnvConfig, robot: LoadedRobot | None = None) -> None:
        from stridelab.robots.registry import load_robot_of
        self.cfg = cfg
        self.robot = robot if robot is not None else load_robot_of(cfg.robot, terrain=cfg.terrain)
        spec = self.robot.spec
        self.rng = np.random.default_rng(cfg.seed)
        self.num_envs = n = cfg.num_envs
        self.num_actions = j = spec.num_joints
        self.device = "cpu"
        self.sim = BatchSimulator(self.robot, n, cfg.num_threads, cfg.decimation)
        self.dt = self.sim.control_dt
        # the tolerance keeps 0.14 s / 0.02 s at 7 steps despite floating-point error
        self.max_episode_length = int(np.ceil(cfg.episode_length_s / self.dt - 1e-6))
        self.episode_length = np.zeros(n, dtype=np.int64)
        self.default_pose = np.asarray(spec.default_pose, dtype=np.float64)
        self.actions = np.zeros((n, j))
        self.last_actions = np.zeros((n, j))
        self.prev_joint_vel = np.zeros((n, j))
        self.unstable_total = 0
        self.common_step_counter = 0  # control steps since the env was built (Isaac Lab's name); schedules read it
        self.extras: dict = {}
        self.keep_final_obs = False  # gymnasium wants the terminal observations of reset envs

        self.action_term = build_action(cfg.action, self)
        self.commands = CommandManager(cfg.commands, self)
        velocity = self.commands.velocity
        self._velocity = velocity.command if velocity is not None else np.zeros((n, 3))
        self._gait = self.commands.gait
        self.events = EventManager(cfg.events, self)
        self.terminations = TerminationManager(cfg.terminations, self)
        self.rewards = RewardManager(cfg.rewards, self, cfg.only_positive_rewards)
        self.curriculum = CurriculumManager(cfg.curriculum, self)
        self.observations: ObservationManager | None = None

        all_ids = np.arange(n)
        self.events.startup()
        self._reset(all_ids)
        self.state = self.last_state = self._read_state()
        self.observations = ObservationManager(cfg.observations, self)
        self._obs = self.observations.compute(self.state, all_ids)

    # ---- VecEnv contract -------------------------------------------------------------------------
    @property
    def episode_length_buf(self) -> torch.Tensor:
        """Control steps since each env's reset. Shape: (n,). Shares memory with the env."""
        return torch.from_numpy(self.episode_length)

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        self.episode_length[:] = np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value)

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor | np.ndarray) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Advance one control step. Returns (obs, rewards (n,), dones (n,), extras)."""
        a = actions.detach().cpu().numpy() if isinstance(actions, torch.Tensor) else np.asarray(actions)
        self.last_actions[:] = self.actions
        self.actions[:] = self.action_term.process(a)
        bad_action = ~np.isfinite(self.actions).all(axis=1)
        if bad_action.any():  # a non-finite action would poison the simulation: hold the pose and reset the env
            self.actions[bad_action] = 0.0
        self.prev_joint_vel = self.sim.qvel[:, self.robot.dof_adr]
        unstable = self.sim.step(self.action_term.targets(self.actions)) | bad_action

        self.episode_length += 1
        self.common_step_counter += 1
        self.commands.step(self.dt)
        self.events.step(self.dt)
        s = self.state = self.last_state = self._read_state()

        failed, time_outs = self.terminations.compute(s)
        failed |= unstable
        time_outs &= ~failed
        s.terminated = failed & ~unstable
        # an unstable simulation's state is meaningless: no reward, no bootstrapping from it
        reward = self.rewards.compute(s, self.dt, unstable)

        dones = failed | time_outs
        ids = np.flatnonzero(dones)
        log_info = {
            "Metrics/lin_vel_error": float(np.mean(np.linalg.norm(s.commands[:, :2] - s.base_lin_vel[:, :2], axis=1))),
            "Metrics/ang_vel_error": float(np.mean(np.abs(s.commands[:, 2] - s.base_ang_vel[:, 2]))),
        }
        n_unstable = int(unstable.sum())
        self.unstable_total += n_unstable
        final_obs = self.observations.peek(s, ids) if self.keep_final_obs and len(ids) else None
        if len(ids):
            log_info.update(self.rewards.episode_log(ids, self.cfg.episode_length_s))
            log_info.update(self.terminations.episode_log(ids, failed))
            log_info["Episode_Termination/unstable"] = float(unstable[ids].sum())
            log_info.update(self._reset(ids))
            self.state = self._read_state()
        self._obs = self.observations.compute(self.state, ids)
        self.extras = {"time_outs": torch.from_numpy(time_outs), "log": log_info, "unstable": n_unstable,
                       "unstable_total": self.unstable_total}
        if final_obs is not None:
            self.extras["final_obs"] = {"ids": ids, **final_obs}
        return self._obs, torch.from_numpy(reward.astype(np.float32)), torch.from_numpy(dones), self.extras

    # ---- internals -------------------------------------------------------------------------------
    def _read_state(self) -> RobotState:
        s = read_state(self.sim, self.robot, self.prev_joint_vel, self.dt, self.actions, self.last_actions,
                       self._velocity, self.default_pose)
        if self._gait is not None:
            s.gait_phase = self._gait.command.copy()
            s.gait_frequency = self._gait.frequencies.copy()
            s.gait_settling = self._gait.settling
        return s

    def _reset(self, ids: np.ndarray) -> dict[str, float]:
        """Reset ``ids``: curriculum, reset events (parameters, then pose), buffers, commands, terms."""
        info = self.curriculum.reset(ids)
        self.events.reset(ids)
        self.sim.hold(ids, self.action_term.targets(np.zeros((len(ids), self.num_actions))))
        self.episode_length[ids] = 0
        self.actions[ids] = 0.0
        self.last_actions[ids] = 0.0
        self.prev_joint_vel[ids] = 0.0
        self.commands.reset(ids)
        self.rewards.reset(ids)
        self.terminations.reset(ids)
        if self.observations is not None:
            self.observations.reset(ids)
        return info

    # ---- helpers for evaluation and play ---------------------------------------------------------
    def set_commands(self, commands: np.ndarray | None) -> None:
        """Fix every env's velocity command (Shape: (n, 3) or (3,)), or ``None`` to sample randomly again."""
        if self.commands.velocity is None:
            raise ConfigError("the task has no velocity command term; add one (e.g. velocity_command) to commands.")
        self.commands.velocity.set_fixed(commands)
        if self._gait is not None and hasattr(self._gait, "recount"):
            self._gait.recount(self.commands.velocity.command)  # the stop's settling counts the new command
        # the newest observation frame now shows the new command; older frames stay as they were
        self.state = self._read_state()
        self._obs = self.observations.replace_last(self.state)

    def reset_all(self) -> TensorDict:
        """Reset every env and return fresh observations."""
        ids = np.arange(self.num_envs)
        self._reset(ids)
        self.rewards.episode_sums[:] = 0.0
        self.state = self._read_state()
        self._obs = self.observations.compute(self.state, ids)
        return self._obs

    def close(self) -> None:
        """Release nothing (the batch frees itself); kept for gymnasium-style callers."""
