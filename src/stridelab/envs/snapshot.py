"""Exact snapshots of a :class:`~stridelab.envs.locomotion_env.LocomotionEnv` for resumable training.

A snapshot holds tensors and plain values only (loadable with ``torch.load(weights_only=True)``):
the simulation state rows, the per-env model parameters, every buffer of the env and its RNG.
"""

from __future__ import annotations

import numpy as np
import torch

_EXPANDED = ("geom_friction", "body_mass", "body_ipos", "actuator_gainprm", "actuator_biasprm")


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a).copy())


def env_state_dict(env) -> dict:
    """Everything needed to continue ``env`` bit-identically."""
    batch = env.sim.batch
    expanded = {name: _t(arr) for name in _EXPANDED if (arr := batch.expanded(name)) is not None}
    return {
        "num_envs": env.num_envs,
        "sim_state": _t(batch.state),
        "warn_count": _t(env.sim._warn_count),
        "expanded": expanded,
        "ep_len": _t(env._ep_len),
        "actions": _t(env.actions),
        "last_actions": _t(env.last_actions),
        "prev_joint_vel": _t(env.prev_joint_vel),
        "commands": _t(env.command.commands),
        "command_time_left": _t(env.command.time_left),
        "air_time": _t(env.air_time.air_time),
        "last_contact": _t(env.air_time.last_contact),
        "history": _t(env.history.buf),
        "params": {k: _t(v) for k, v in env.randomizer.params.items()},
        "episode_sums": {k: _t(v) for k, v in env.episode_sums.items()},
        "unstable_total": int(env.unstable_total),
        "rng": _rng_to_plain(env.rng),
        "obs": {k: v.clone() for k, v in env.get_observations().items()},
    }


def load_env_state(env, state: dict) -> None:
    """Restore a snapshot from :func:`env_state_dict` into an env built from the same config."""
    if state["num_envs"] != env.num_envs:
        from stridelab.errors import CheckpointError

        raise CheckpointError(f"the checkpoint's env state has {state['num_envs']} envs but the env has {env.num_envs}; "
                              f"resume with the same --num-envs.")
    batch = env.sim.batch
    batch.state[:] = state["sim_state"].numpy()
    env.sim._warn_count[:] = state["warn_count"].numpy()
    for name, values in state["expanded"].items():
        batch.expand(name)[:] = values.numpy()
    if "body_mass" in state["expanded"]:
        env.sim.set_const(np.arange(env.num_envs))
    env._ep_len[:] = state["ep_len"].numpy()
    env.actions[:] = state["actions"].numpy()
    env.last_actions[:] = state["last_actions"].numpy()
    env.prev_joint_vel = state["prev_joint_vel"].numpy().copy()
    env.command.commands[:] = state["commands"].numpy()
    env.command.time_left[:] = state["command_time_left"].numpy()
    env.air_time.air_time[:] = state["air_time"].numpy()
    env.air_time.last_contact[:] = state["last_contact"].numpy()
    env.history.buf[:] = state["history"].numpy()
    for k, v in state["params"].items():
        env.randomizer.params[k][:] = v.numpy()
    for k, v in state["episode_sums"].items():
        env.episode_sums[k][:] = v.numpy()
    env.unstable_total = int(state["unstable_total"])
    env.rng.bit_generator.state = _rng_from_plain(state["rng"])
    from tensordict import TensorDict

    env._obs = TensorDict({k: v.clone() for k, v in state["obs"].items()}, batch_size=[env.num_envs])


def _rng_to_plain(rng: np.random.Generator) -> dict:
    """PCG64 state as strings (its 128-bit integers are kept exactly)."""
    s = rng.bit_generator.state
    return {"bit_generator": s["bit_generator"], "state": str(s["state"]["state"]), "inc": str(s["state"]["inc"]),
            "has_uint32": int(s["has_uint32"]), "uinteger": int(s["uinteger"])}


def _rng_from_plain(p: dict) -> dict:
    return {"bit_generator": p["bit_generator"], "state": {"state": int(p["state"]), "inc": int(p["inc"])},
            "has_uint32": p["has_uint32"], "uinteger": p["uinteger"]}
