"""The vectorized velocity-tracking locomotion environment (rsl-rl-lib ``VecEnv`` contract).

``step`` runs one control step for all envs: actions -> PD targets -> one ``Batch.step`` call ->
state -> terminations -> rewards -> resets -> observations. Every stage is a batched numpy
operation; nothing loops over environments.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from stridelab.config import EnvConfig
from stridelab.mdp import rewards as R
from stridelab.mdp import terminations as T
from stridelab.mdp.commands import VelocityCommand
from stridelab.mdp.observations import History, policy_frame, policy_layout, privileged_layout, privileged_obs
from stridelab.mdp.randomization import DomainRandomizer
from stridelab.mdp.state import RobotState, read_state
from stridelab.robots import get_robot, load_robot
from stridelab.robots.loader import LoadedRobot
from stridelab.sim.simulator import BatchSimulator

log = logging.getLogger(__name__)


class LocomotionEnv(VecEnv):
    """``cfg.num_envs`` legged robots tracking velocity commands on flat ground.

    Observations (TensorDict, float32): ``policy`` (n, frame * (history + 1)) and ``privileged``.
    Actions: (n, num_joints) offsets from the default pose in units of ``robot.action_scale`` [rad].
    """

    def __init__(self, cfg: EnvConfig, robot: LoadedRobot | None = None) -> None:
        self.cfg = cfg
        self.robot = robot if robot is not None else load_robot(get_robot(cfg.robot))
        spec = self.robot.spec
        self.rng = np.random.default_rng(cfg.seed)
        self.num_envs = cfg.num_envs
        self.num_actions = spec.num_joints
        self.device = "cpu"
        self.sim = BatchSimulator(self.robot, cfg.num_envs, cfg.num_threads, cfg.decimation)
        self.dt = self.sim.control_dt
        # the tolerance keeps 0.14 s / 0.02 s at 7 steps despite floating-point error
        self.max_episode_length = int(np.ceil(cfg.episode_length_s / self.dt - 1e-6))
        self._ep_len = np.zeros(cfg.num_envs, dtype=np.int64)

        self.default_pose = np.asarray(spec.default_pose, dtype=np.float64)
        self.action_scale = spec.action_scale
        lo, hi = self.robot.joint_range[:, 0], self.robot.joint_range[:, 1]
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * cfg.rewards.soft_joint_limit
        self.soft_lower, self.soft_upper = mid - half, mid + half

        n, j = cfg.num_envs, spec.num_joints
        self.actions = np.zeros((n, j))
        self.last_actions = np.zeros((n, j))
        self.prev_joint_vel = np.zeros((n, j))
        self.command = VelocityCommand(cfg.commands, n, self.dt, self.rng)
        self.randomizer = DomainRandomizer(cfg.randomization, self.sim, self.robot, self.rng)
        self.push_interval = (int(round(cfg.randomization.push_interval_s / self.dt))
                              if cfg.randomization.push_interval_s > 0 else 0)
        self.air_time = R.FeetAirTime(n, len(self.robot.foot_geom_ids), self.dt, cfg.rewards.air_time_threshold)
        self.policy_terms = policy_layout(cfg.observations, j)
        self.frame_size = sum(t.size for t in self.policy_terms)
        self.history = History(n, cfg.observations.history + 1, self.frame_size)
        self.privileged_terms = privileged_layout(j, len(self.robot.foot_geom_ids))
        self.reward_weights = cfg.rewards.weights()
        self.episode_sums = {name: np.zeros(n) for name in self.reward_weights}
        self.unstable_total = 0
        self.extras: dict = {}
        self._reset(np.arange(n))
        self.state = self._read_state()
        self._obs = self._observe(np.arange(n))

    # ---- VecEnv contract -------------------------------------------------------------------------
    @property
    def episode_length_buf(self) -> torch.Tensor:
        """Control steps since each env's reset. Shape: (n,). Shares memory with the env."""
        return torch.from_numpy(self._ep_len)

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        self._ep_len[:] = np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value)

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor | np.ndarray) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Advance one control step. Returns (obs, rewards (n,), dones (n,), extras)."""
        a = actions.detach().cpu().numpy() if isinstance(actions, torch.Tensor) else np.asarray(actions)
        self.last_actions[:] = self.actions
        np.clip(a, -self.cfg.clip_actions, self.cfg.clip_actions, out=self.actions)
        bad_action = ~np.isfinite(self.actions).all(axis=1)
        if bad_action.any():  # a non-finite action would poison the simulation: hold the pose and reset the env
            self.actions[bad_action] = 0.0
        self.prev_joint_vel = self.sim.qvel[:, self.robot.dof_adr]
        unstable = self.sim.step(self.default_pose + self.action_scale * self.actions) | bad_action

        self._ep_len += 1
        self.command.step()
        if self.push_interval:
            self.randomizer.push(np.flatnonzero(self._ep_len % self.push_interval == 0))
        s = self.state = self.last_state = self._read_state()

        contact = T.base_contact(s)
        tilt = T.bad_orientation(s, self.cfg.max_tilt)
        terminated = contact | tilt | unstable
        time_outs = (self._ep_len >= self.max_episode_length) & ~terminated
        reward = self._reward(s, terminated & ~unstable)
        # an unstable simulation's state is meaningless: no reward, no bootstrapping from it
        reward[unstable] = 0.0

        dones = terminated | time_outs
        ids = np.flatnonzero(dones)
        log_info = {
            "Metrics/lin_vel_error": float(np.mean(np.linalg.norm(s.commands[:, :2] - s.base_lin_vel[:, :2], axis=1))),
            "Metrics/ang_vel_error": float(np.mean(np.abs(s.commands[:, 2] - s.base_ang_vel[:, 2]))),
        }
        n_unstable = int(unstable.sum())
        self.unstable_total += n_unstable
        if len(ids):
            log_info.update(self._episode_log(ids, contact, tilt, time_outs, unstable))
            self._reset(ids)
            self.state = self._read_state()
        self._obs = self._observe(ids)
        self.extras = {
            "time_outs": torch.from_numpy(time_outs),
            "log": log_info,
            "unstable": n_unstable,
            "unstable_total": self.unstable_total,
        }
        return self._obs, torch.from_numpy(reward.astype(np.float32)), torch.from_numpy(dones), self.extras

    # ---- internals -------------------------------------------------------------------------------
    def _read_state(self) -> RobotState:
        return read_state(self.sim, self.robot, self.prev_joint_vel, self.dt, self.actions, self.last_actions,
                          self.command.commands)

    def _reward(self, s: RobotState, terminated: np.ndarray) -> np.ndarray:
        rc, w = self.cfg.rewards, self.reward_weights
        terms = {
            "track_lin_vel_xy_exp": lambda: R.track_lin_vel_xy_exp(s, rc.tracking_std),
            "track_ang_vel_z_exp": lambda: R.track_ang_vel_z_exp(s, rc.tracking_std),
            "lin_vel_z_l2": lambda: R.lin_vel_z_l2(s),
            "ang_vel_xy_l2": lambda: R.ang_vel_xy_l2(s),
            "flat_orientation_l2": lambda: R.flat_orientation_l2(s),
            "base_height_l2": lambda: R.base_height_l2(s, self.robot.spec.base_height_target),
            "torques_l2": lambda: R.torques_l2(s),
            "joint_acc_l2": lambda: R.joint_acc_l2(s),
            "action_rate_l2": lambda: R.action_rate_l2(s),
            "feet_air_time": lambda: self.air_time(s),
            "undesired_contacts": lambda: R.undesired_contacts(s),
            "joint_pos_limits": lambda: R.joint_pos_limits(s, self.soft_lower, self.soft_upper),
            "termination": lambda: terminated.astype(np.float64),
        }
        total = np.zeros(self.num_envs)
        for name, weight in w.items():
            if name == "termination":
                continue
            value = terms[name]() * (weight * self.dt)
            self.episode_sums[name] += value
            total += value
        if rc.only_positive_rewards:
            np.clip(total, 0.0, None, out=total)
        if "termination" in w:  # after the clip (as legged_gym does), so that a fall always costs
            value = terms["termination"]() * (w["termination"] * self.dt)
            self.episode_sums["termination"] += value
            total += value
        return total

    def _episode_log(self, ids, contact, tilt, time_outs, unstable) -> dict[str, float]:
        info = {}
        for name, sums in self.episode_sums.items():
            info[f"Episode_Reward/{name}"] = float(np.mean(sums[ids]) / self.cfg.episode_length_s)
            sums[ids] = 0.0
        info["Episode_Termination/base_contact"] = float(contact[ids].sum())
        info["Episode_Termination/bad_orientation"] = float(tilt[ids].sum())
        info["Episode_Termination/time_out"] = float(time_outs[ids].sum())
        info["Episode_Termination/unstable"] = float(unstable[ids].sum())
        return info

    def _reset(self, ids: np.ndarray) -> None:
        """Reset ``ids``: pose (default + noise, random yaw), parameters, commands, stateful terms."""
        k, j = len(ids), self.num_actions
        qpos = np.broadcast_to(self.robot.model.qpos0, (k, self.robot.model.nq)).copy()
        b = self.robot.base_qpos_adr
        qpos[:, b:b + 3] = [0.0, 0.0, self.robot.spec.init_height]
        yaw = self.rng.uniform(-np.pi, np.pi, size=k)
        qpos[:, b + 3] = np.cos(yaw / 2)
        qpos[:, b + 4:b + 6] = 0.0
        qpos[:, b + 6] = np.sin(yaw / 2)
        noise = self.rng.uniform(-self.cfg.init_joint_noise, self.cfg.init_joint_noise, size=(k, j))
        qpos[:, self.robot.qpos_adr] = np.clip(self.default_pose + noise, self.robot.joint_range[:, 0],
                                               self.robot.joint_range[:, 1])
        qvel = np.zeros((k, self.robot.model.nv))
        self.randomizer.apply(ids)
        self.sim.reset(ids, qpos, qvel)
        self.sim.ctrl[ids] = self.default_pose
        self._ep_len[ids] = 0
        self.actions[ids] = 0.0
        self.last_actions[ids] = 0.0
        self.prev_joint_vel[ids] = 0.0
        self.command.resample(ids)
        self.air_time.reset(ids)

    def _observe(self, reset_ids: np.ndarray, replace_last: bool = False) -> TensorDict:
        frame = policy_frame(self.state, self.cfg.observations, self.default_pose, self.rng, self.policy_terms,
                             noise=not replace_last)
        policy = self.history.replace_last(frame) if replace_last else self.history.push(frame, reset_ids)
        priv = privileged_obs(self.state, self.randomizer.params, self.privileged_terms)
        return TensorDict(
            {"policy": torch.from_numpy(policy.astype(np.float32)),
             "privileged": torch.from_numpy(priv.astype(np.float32))},
            batch_size=[self.num_envs],
        )

    # ---- helpers for evaluation and play ---------------------------------------------------------
    def set_commands(self, commands: np.ndarray | None) -> None:
        """Fix every env's command (Shape: (n, 3) or (3,)), or ``None`` to sample randomly again."""
        self.command.fixed = None if commands is None else np.asarray(commands, dtype=np.float64)
        self.command.resample(np.arange(self.num_envs))
        # the newest observation frame now shows the new command; older frames stay as they were
        self.state = self._read_state()
        self._obs = self._observe(np.zeros(0, dtype=np.int64), replace_last=True)

    def reset_all(self) -> TensorDict:
        """Reset every env and return fresh observations."""
        ids = np.arange(self.num_envs)
        self._reset(ids)
        for sums in self.episode_sums.values():
            sums[:] = 0.0
        self.state = self._read_state()
        self._obs = self._observe(ids)
        return self._obs

    def close(self) -> None:
        """Release nothing (the batch frees itself); kept for gymnasium-style callers."""
