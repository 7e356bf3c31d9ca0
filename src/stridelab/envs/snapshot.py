"""Exact snapshots of a :class:`~stridelab.envs.locomotion_env.LocomotionEnv` for resumable training.

A snapshot holds tensors and plain values only (loadable with ``torch.load(weights_only=True)``):
the simulation state rows, the per-env model parameters, the env's buffers, every manager's state
(commands, events, reward sums and stateful terms, observation histories) and the RNG.
"""

from __future__ import annotations

import numpy as np
import torch
from tensordict import TensorDict

from stridelab.errors import CheckpointError

# per-env model fields that events may expand (domain randomization)
EXPANDABLE = ("geom_friction", "body_mass", "body_ipos", "body_inertia", "actuator_gainprm", "actuator_biasprm",
              "dof_damping", "dof_frictionloss", "dof_armature", "opt.gravity")


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a).copy())


def env_state_dict(env) -> dict:
    """Everything needed to continue ``env`` bit-identically."""
    batch = env.sim.batch
    expanded = {}
    for name in EXPANDABLE:
        try:
            arr = batch.expanded(name)
        except (KeyError, ValueError, AttributeError):
            continue
        if arr is not None:
            expanded[name] = _t(arr)
    return {
        "num_envs": env.num_envs,
        "sim_state": _t(batch.state),
        "warn_count": _t(env.sim._warn_count),
        "sim": {k: _t(v) for k, v in env.sim.state_dict().items()},
        "expanded": expanded,
        "episode_length": _t(env.episode_length),
        "actions": _t(env.actions),
        "last_actions": _t(env.last_actions),
        "prev_joint_vel": _t(env.prev_joint_vel),
        "commands": env.commands.state_dict(),
        "events": env.events.state_dict(),
        "rewards": env.rewards.state_dict(),
        "curriculum": env.curriculum.state_dict(),
        "observations": env.observations.state_dict(),
        "unstable_total": int(env.unstable_total),
        "common_step_counter": int(env.common_step_counter),
        "rng": _rng_to_plain(env.rng),
        "obs": {k: v.clone() for k, v in env.get_observations().items()},
    }


def load_env_state(env, state: dict) -> None:
    """Restore a snapshot from :func:`env_state_dict` into an env built from the same config."""
    if state["num_envs"] != env.num_envs:
        raise CheckpointError(f"the checkpoint's env state has {state['num_envs']} envs but the env has {env.num_envs}; "
                              f"resume with the same --num-envs.")
    batch = env.sim.batch
    batch.state[:] = state["sim_state"].numpy()
    env.sim._warn_count[:] = state["warn_count"].numpy()
    for name, values in state["expanded"].items():
        batch.expand(name)[:] = values.numpy()
    if {"body_mass", "body_ipos", "body_inertia", "dof_armature", "opt.gravity"} & set(state["expanded"]):
        env.sim.set_const(np.arange(env.num_envs))
    env.sim.load_state_dict({k: v.numpy() for k, v in state.get("sim", {}).items()})
    env.episode_length[:] = state["episode_length"].numpy()
    env.actions[:] = state["actions"].numpy()
    env.last_actions[:] = state["last_actions"].numpy()
    env.prev_joint_vel = state["prev_joint_vel"].numpy().copy()
    env.commands.load_state_dict(state["commands"])
    env.events.load_state_dict(state["events"])
    env.rewards.load_state_dict(state["rewards"])
    env.curriculum.load_state_dict(state["curriculum"])
    env.observations.load_state_dict(state["observations"])
    env.unstable_total = int(state["unstable_total"])
    env.common_step_counter = int(state.get("common_step_counter", 0))  # absent in checkpoints before 2026-12-03
    env.rng.bit_generator.state = _rng_from_plain(state["rng"])
    env.state = env.last_state = env._read_state()
    env._obs = TensorDict({k: v.clone() for k, v in state["obs"].items()}, batch_size=[env.num_envs])


def _rng_to_plain(rng: np.random.Generator) -> dict:
    """PCG64 state as strings (its 128-bit integers are kept exactly)."""
    s = rng.bit_generator.state
    return {"bit_generator": s["bit_generator"], "state": str(s["state"]["state"]), "inc": str(s["state"]["inc"]),
            "has_uint32": int(s["has_uint32"]), "uinteger": int(s["uinteger"])}


def _rng_from_plain(p: dict) -> dict:
    return {"bit_generator": p["bit_generator"], "state": {"state": int(p["state"]), "inc": int(p["inc"])},
            "has_uint32": p["has_uint32"], "uinteger": p["uinteger"]}
