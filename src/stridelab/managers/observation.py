"""Observation groups: one description, used to build the training observation, to write the
``observation`` block of ``policy.json``, and to build the deploy observation from robot signals.

A group concatenates its terms' values (each ``(n, k)``), adds uniform noise (half-width per term,
times the group's noise multiplier), multiplies by the per-column scale, clips, and keeps a history of
frames (oldest first).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

from stridelab.config import ObsGroupCfg, ObsTermCfg
from stridelab.errors import ConfigError
from stridelab.managers.terms import build_term, load_term_state, term_state
from stridelab.mdp.describe import resolved_params, term_description
from stridelab.mdp.lookup import qualified_name, resolve
from stridelab.mdp.symmetry import check_involution, mirror_of


class History:
    """Rolling buffer of the last ``length`` frames (oldest first). ``buf`` Shape: (n, length, frame_size)."""

    def __init__(self, num_envs: int, length: int, frame_size: int) -> None:
        self.buf = np.zeros((num_envs, length, frame_size))

    def push(self, frame: np.ndarray, reset_ids: np.ndarray) -> np.ndarray:
        """Append a frame; envs in ``reset_ids`` are refilled with it. Returns (n, length * frame_size)."""
        self.buf[:, :-1] = self.buf[:, 1:]
        self.buf[:, -1] = frame
        if len(reset_ids):
            self.buf[reset_ids] = frame[reset_ids, None, :]
        return self.buf.reshape(len(frame), -1)

    def replace_last(self, frame: np.ndarray) -> np.ndarray:
        """Overwrite the newest frame (e.g. after a command change). Returns (n, length * frame_size)."""
        self.buf[:, -1] = frame
        return self.buf.reshape(len(frame), -1)


class ObservationGroup:
    """The terms of one group and how they become a vector.

    Attributes:
        term_names: in vector order.
        sizes: values per term (known after the first frame, or from a description).
        frame_size: values per frame; the vector has ``frame_size * (history + 1)`` values.
    """

    def __init__(self, name: str, cfg: ObsGroupCfg, env: Any, num_envs: int,
                 rng: np.random.Generator | None) -> None:
        self.name = name
        self.cfg = cfg
        self.env = env
        self.rng = rng
        self.term_names = list(cfg.terms)
        self.term_cfgs = list(cfg.terms.values())
        self.terms = [build_term(n, t, "observations", env, 1) for n, t in cfg.terms.items()]
        self.num_envs = num_envs
        self.sizes: list[int] | None = None
        self.history: History | None = None

    # ---- vectors ---------------------------------------------------------------------------------
    def _setup(self, values: list[np.ndarray]) -> None:
        self.sizes = [v.shape[1] for v in values]
        scale, noise = [], []
        for t, size, name in zip(self.term_cfgs, self.sizes, self.term_names):
            s = np.broadcast_to(np.asarray(t.scale, dtype=np.float64), (size,)) if np.ndim(t.scale) == 0 or \
                len(t.scale) == size else None
            if s is None:
                raise ConfigError(f"observation term {self.name}.{name} has {size} values but {len(t.scale)} scales; "
                                  f"give one scale or one per value.")
            scale.append(s)
            noise.append(np.full(size, t.noise * self.cfg.noise))
        self.scale = np.concatenate(scale) if scale else np.zeros(0)
        self.noise = np.concatenate(noise) if noise else np.zeros(0)
        self.noisy = self.noise > 0.0
        self.frame_size = int(sum(self.sizes))
        self.history = History(self.num_envs, self.cfg.history + 1, self.frame_size)

    def frame(self, s: Any, noise: bool = True) -> np.ndarray:
        """One frame for state ``s``. Shape: (n, frame_size). ``noise=False`` leaves the RNG untouched."""
        values = [np.asarray(term(s), dtype=np.float64).reshape(self.num_envs, -1) for term in self.terms]
        if self.sizes is None:
            self._setup(values)
        frame = np.concatenate(values, axis=1) if values else np.zeros((self.num_envs, 0))
        if noise and self.rng is not None and self.noisy.any():  # one draw: uniform in [-noise, noise]
            frame[:, self.noisy] += (2.0 * self.rng.random((self.num_envs, int(self.noisy.sum()))) - 1.0) \
                * self.noise[self.noisy]
        frame *= self.scale
        return np.clip(frame, -self.cfg.clip, self.cfg.clip, out=frame)

    def compute(self, s: Any, reset_ids: np.ndarray, noise: bool = True) -> np.ndarray:
        """The group vector after pushing a new frame. Shape: (n, frame_size * (history + 1))."""
        frame = self.frame(s, noise)
        return self.history.push(frame, reset_ids)

    def peek(self, s: Any, env_ids: np.ndarray) -> np.ndarray:
        """The vector of ``env_ids`` as if a noise-free frame of ``s`` were pushed, leaving the history as it
        is (terminal observations before a reset). Shape: (k, frame_size * (history + 1))."""
        frame = self.frame(s, noise=False)[env_ids]
        stacked = np.concatenate([self.history.buf[env_ids, 1:], frame[:, None, :]], axis=1)
        return stacked.reshape(len(env_ids), -1)

    def replace_last(self, s: Any) -> np.ndarray:
        """Recompute the newest frame without noise (the command changed). Shape as :meth:`compute`."""
        return self.history.replace_last(self.frame(s, noise=False))

    def reset(self, env_ids: np.ndarray) -> None:
        for term in self.terms:
            term.reset(env_ids)

    def mirror_map(self, spec: Any) -> tuple[np.ndarray, np.ndarray]:
        """(perm, sign) of the whole vector, history included: ``mirrored = v[:, perm] * sign``."""
        perms, signs, offset = [], [], 0
        for name, term, size in zip(self.term_names, self.terms, self.sizes):
            p, s = mirror_of(term, f"{self.name}.{name}", spec, size)
            perms.append(p + offset)
            signs.append(s)
            offset += size
        perm = np.concatenate(perms) if perms else np.zeros(0, dtype=np.int64)
        sign = np.concatenate(signs) if signs else np.zeros(0)
        frames = self.cfg.history + 1
        perm = np.concatenate([perm + k * self.frame_size for k in range(frames)])
        sign = np.tile(sign, frames)
        check_involution(perm, sign)
        return perm, sign

    # ---- description (policy.json) ---------------------------------------------------------------
    def describe(self) -> dict:
        """The group as data: terms with import paths, params (defaults included), offsets, sizes, scales, noise and
        a whole-sentence ``description`` each (:mod:`stridelab.mdp.describe`); history; clip."""
        offset, terms = 0, []
        for name, cfg, term, size, scale in zip(self.term_names, self.term_cfgs, self.terms, self.sizes,
                                                 np.split(self.scale, np.cumsum(self.sizes)[:-1])):
            target = resolve(cfg.func, "observations")
            params = resolved_params(target, cfg.params)
            entry = {"name": name, "func": qualified_name(target), "params": params, "offset": offset,
                     "size": size, "scale": scale.tolist(), "noise": cfg.noise * self.cfg.noise,
                     "description": term_description(target, term, params, self.env)}
            if hasattr(term, "describe"):
                entry["parts"] = term.describe()
            terms.append(entry)
            offset += size
        return {"group": self.name, "size": self.frame_size * (self.cfg.history + 1), "frame_size": self.frame_size,
                "history": self.cfg.history, "history_order": "oldest frame first; the newest frame is last",
                "clip": self.cfg.clip, "terms": terms,
                "assembly": "a frame is every term's values in term order (offset, size), each value multiplied by "
                            "its scale (training adds the noise before), then clipped to [-clip, clip]; the vector is "
                            "the last history + 1 frames, oldest first, and an episode starts with its first frame "
                            "repeated"}

    @classmethod
    def from_description(cls, desc: dict, env: Any = None) -> ObservationGroup:
        """Rebuild a group (without noise) from :meth:`describe` output, with the same term code."""
        terms = {t["name"]: ObsTermCfg(func=t["func"], params=dict(t.get("params", {})),
                                       scale=tuple(t["scale"]) if isinstance(t["scale"], list) else t["scale"])
                 for t in desc["terms"]}
        cfg = ObsGroupCfg(terms=terms, history=int(desc["history"]), noise=0.0, clip=float(desc["clip"]))
        group = cls(desc.get("group", "policy"), cfg, env, 1, None)
        group.expected_sizes = [int(t["size"]) for t in desc["terms"]]
        return group


class ObservationManager:
    """All observation groups of a task; returns them as one TensorDict (float32)."""

    def __init__(self, cfgs: dict[str, ObsGroupCfg], env: Any) -> None:
        if "policy" not in cfgs:
            raise ConfigError("the task has no 'policy' observation group; add observations.policy with its terms.")
        self.groups = {name: ObservationGroup(name, cfg, env, env.num_envs, env.rng) for name, cfg in cfgs.items()}
        self.num_envs = env.num_envs

    def compute(self, s: Any, reset_ids: np.ndarray) -> TensorDict:
        return self._pack({name: g.compute(s, reset_ids) for name, g in self.groups.items()})

    def replace_last(self, s: Any) -> TensorDict:
        return self._pack({name: g.replace_last(s) for name, g in self.groups.items()})

    def reset(self, env_ids: np.ndarray) -> None:
        for g in self.groups.values():
            g.reset(env_ids)

    def peek(self, s: Any, env_ids: np.ndarray) -> dict[str, np.ndarray]:
        """Terminal observations of ``env_ids`` per group (see :meth:`ObservationGroup.peek`)."""
        return {name: g.peek(s, env_ids) for name, g in self.groups.items()}

    def _pack(self, arrays: dict[str, np.ndarray]) -> TensorDict:
        return TensorDict({k: torch.from_numpy(v.astype(np.float32)) for k, v in arrays.items()},
                          batch_size=[self.num_envs])

    def mirror_maps(self, spec: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(perm, sign) per group; raises ConfigError naming a term that cannot be mirrored."""
        return {name: g.mirror_map(spec) for name, g in self.groups.items()}

    def state_dict(self) -> dict:
        """Every group's history and its terms' per-env state (e.g. a height scan's noise model)."""
        return {"history": {name: torch.from_numpy(g.history.buf.copy()) for name, g in self.groups.items()},
                "terms": {name: {t: term_state(term) for t, term in zip(g.term_names, g.terms)}
                          for name, g in self.groups.items()}}

    def load_state_dict(self, state: dict) -> None:
        history = state.get("history", state)  # before 2026-12-07 a snapshot held the histories only
        for name, buf in history.items():
            self.groups[name].history.buf[:] = buf.numpy()
        for name, terms in state.get("terms", {}).items():
            group = self.groups[name]
            for t, term in zip(group.term_names, group.terms):
                load_term_state(term, terms.get(t, {}))
