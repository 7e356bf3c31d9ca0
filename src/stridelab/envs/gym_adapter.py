"""A ``gymnasium.vector.VectorEnv`` view of :class:`~stridelab.envs.locomotion_env.LocomotionEnv`.

    envs = stridelab.tasks.make_gym("quadruped-flat", num_envs=64, seed=0)   # or GymVectorEnv(env)
    obs, info = envs.reset(seed=0)
    obs, rew, terminated, truncated, info = envs.step(envs.action_space.sample())

The wrapped env resets finished episodes inside ``step`` (same-step autoreset): the observation
returned for a finished env is the first one of its next episode. The last observation of the
finished episode is not kept by the env, so ``info`` has no ``final_obs``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.spaces import Box
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space



class GymVectorEnv(gymnasium.vector.VectorEnv):
    """``env.num_envs`` sub-environments with numpy arrays in and out (n = ``num_envs``).

    Spaces:
        single_observation_space: Box (obs_dim,) float32, the ``policy`` group, within
            [-clip, clip] of ``cfg.observations.clip``; observation_space: (n, obs_dim).
        single_action_space: Box (num_actions,) float32 within [-clip_actions, clip_actions];
            action_space: (n, num_actions).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, env) -> None:
        self.env = env
        env.keep_final_obs = True
        self.num_envs = env.num_envs
        obs_dim = int(env.get_observations()["policy"].shape[1])
        clip = float(env.cfg.observations["policy"].clip)
        self.single_observation_space = Box(-clip, clip, shape=(obs_dim,), dtype=np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        act = float(getattr(env.action_term, "clip", np.inf))
        self.single_action_space = Box(-act, act, shape=(env.num_actions,), dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment.

        Args:
            seed: if given, re-seeds the env's random generator (initial poses, commands,
                randomized parameters, noise), so that the same seed gives the same episodes.
            options: unused.
        Returns:
            obs: (n, obs_dim) float32; info: ``{"privileged": (n, priv_dim) float32}``.
        """
        super().reset(seed=seed)
        if seed is not None:
            # command sampler and randomizer share this generator: reseed it in place
            self.env.rng.bit_generator.state = np.random.default_rng(seed).bit_generator.state
        obs = self.env.reset_all()
        return obs["policy"].numpy(), {"privileged": obs["privileged"].numpy()}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Advance one control step of every sub-environment.

        Args:
            actions: (n, num_actions), offsets from the default pose in units of the action scale.
        Returns:
            obs (n, obs_dim) float32, rewards (n,) float32, terminations (n,) bool (fell or unstable),
            truncations (n,) bool (time limit), infos with ``privileged`` (n, priv_dim) float32,
            ``log`` (episode statistics of the envs that finished), ``unstable``, ``unstable_total``,
            and for envs that finished (autoreset in the same step) ``final_obs`` (object array: the
            observation the episode ended on, None elsewhere) with the mask ``_final_obs``.
        """
        actions = np.asarray(actions, dtype=np.float32)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions have shape {actions.shape}; expected {self.action_space.shape}.")
        obs, rew, dones, extras = self.env.step(actions)
        truncations = extras["time_outs"].numpy().copy()
        terminations = dones.numpy() & ~truncations
        infos = {"privileged": obs["privileged"].numpy(), "log": extras["log"],
                 "unstable": extras["unstable"], "unstable_total": extras["unstable_total"]}
        if "final_obs" in extras:  # gymnasium's same-step autoreset: the observation the episode ended on
            final = extras["final_obs"]
            infos["final_obs"] = np.full(self.num_envs, None, dtype=object)
            infos["_final_obs"] = np.zeros(self.num_envs, dtype=bool)
            infos["final_obs"][final["ids"]] = list(final["policy"].astype(np.float32))
            infos["_final_obs"][final["ids"]] = True
        return obs["policy"].numpy(), rew.numpy(), terminations, truncations, infos

    def close_extras(self, **kwargs: Any) -> None:
        self.env.close()
