"""The exteroception noise model of a height scan: what a real robot's elevation map does wrong (Miki et al. 2022,
"Learning robust perceptive locomotion for quadrupedal robots in the wild", Fig. 3: noise, offsets, drift,
outliers, holes, a map that is gone). :class:`stridelab.mdp.height_scan.height_scan` applies it; a student is
distilled against it (``stridelab distill``), the curriculum term
:class:`stridelab.mdp.curriculum.scan_noise_level` schedules its ``level``.

Every magnitude and probability is multiplied by ``level`` (0: off, 1: as configured, 2: twice as bad). Per env,
all arrays vectorized over envs and points (``n`` envs, ``m`` points):

- ``point_noise`` [m]: Gaussian noise on every value, every step;
- ``env_offset`` [m]: a per-env height offset, uniform in +-env_offset, drawn at each reset (the map's height out of
  register with the robot);
- ``foot_offset`` [m]: on the foot rings, a per-foot offset drawn at each reset (a foot's local map out of register);
- ``drift_rate`` [m/sqrt(s)], ``drift_max`` [m]: map drift, a random walk of the map against the robot in x, y and
  z (x, y move the points the heights are read at, z adds to every value), each axis growing by a normal step of
  std ``drift_rate * sqrt(dt)`` per control step and clipped to +-``drift_max``; zero at each reset (a state
  estimate that drifts, a map lagging behind a turn);
- ``outlier_prob``: per value and step, the value is replaced by one uniform in [-clip, clip] (spurious returns);
- ``missing_prob``: per value and step, the value is missing (a sparse hole);
- ``region_rate`` [1/s], ``region_radius`` [m]: missing regions: per env, at that rate, a disc of radius uniform in
  [0.05, region_radius] m appears at a random point of the scan's footprint, fixed in the world, and every point
  inside it is missing until the next disc or the episode's end (an occlusion: a step's riser, grass, glass);
- ``blind_prob``, ``blind_after_s``: per episode, with that probability the scan is removed at a time uniform in
  ``blind_after_s`` [s] after the reset, for the rest of the episode: every value reads ``blind_value`` (default:
  the missing value; 0 zeroes the scan).

A missing value reads ``missing_value`` (default ``+clip``, what a ray that hits nothing reads).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from stridelab.errors import ConfigError


@dataclass(frozen=True)
class ScanNoiseSettings:
    """The noise model's parameters (module docstring for each); ``level`` scales all of them."""

    point_noise: float = 0.0
    env_offset: float = 0.0
    foot_offset: float = 0.0
    drift_rate: float = 0.0
    drift_max: float = 0.1
    outlier_prob: float = 0.0
    missing_prob: float = 0.0
    region_rate: float = 0.0
    region_radius: float = 0.3
    blind_prob: float = 0.0
    blind_after_s: tuple[float, float] = (1.0, 10.0)

    def __post_init__(self) -> None:
        bad = [f.name for f in fields(self) if f.name != "blind_after_s" and not getattr(self, f.name) >= 0]
        probs = [name for name in ("outlier_prob", "missing_prob", "blind_prob") if getattr(self, name) > 1]
        lo, hi = self.blind_after_s
        if bad or probs or not 0 <= lo <= hi:
            raise ConfigError(f"height_scan noise: {', '.join(bad + probs) or 'blind_after_s'} out of range; give "
                              f"magnitudes >= 0, probabilities in [0, 1] and blind_after_s (low, high) with "
                              f"0 <= low <= high [s].")

    @property
    def active(self) -> bool:
        return any(getattr(self, name) > 0 for name in ("point_noise", "env_offset", "foot_offset", "drift_rate",
                                                        "outlier_prob", "missing_prob", "region_rate", "blind_prob"))


class ScanNoise:
    """The per-env state of the noise model and its application (module docstring).

    Args:
        settings: the parameters.
        num_envs, num_points, ring_start: ``n``, ``m``, and the index of the first foot-ring value (``m`` if none).
        points_per_foot: ring values per foot.
        dt: control period [s].
        rng: the env's random generator.
        level: the initial level.
    """

    def __init__(self, settings: ScanNoiseSettings, num_envs: int, num_points: int, ring_start: int,
                 points_per_foot: int, dt: float, rng: np.random.Generator, level: float = 1.0) -> None:
        self.cfg, self.dt, self.rng = settings, float(dt), rng
        self.level = float(level)
        self.ring_start, self.per_foot = int(ring_start), int(points_per_foot)
        n, m = int(num_envs), int(num_points)
        self.num_feet = (m - ring_start) // points_per_foot if points_per_foot else 0
        self.env_offsets = np.zeros((n, 1))
        self.foot_offsets = np.zeros((n, m - ring_start))
        self.drift = np.zeros((n, 3))
        self.region = np.full((n, 3), np.nan)  # world (x, y) and radius of each env's missing disc, NaN: none
        self.blind_at = np.full(n, np.inf)  # episode time [s] at which the scan is removed
        self.time = np.zeros(n)

    def reset(self, env_ids: np.ndarray) -> None:
        """New episodes: new offsets, no drift, no missing region, a new blind time."""
        k, c, lv = len(env_ids), self.cfg, self.level
        if not k:
            return
        self.env_offsets[env_ids] = self.rng.uniform(-1.0, 1.0, (k, 1)) * c.env_offset * lv
        if self.num_feet:
            per_foot = self.rng.uniform(-1.0, 1.0, (k, self.num_feet)) * c.foot_offset * lv
            self.foot_offsets[env_ids] = np.repeat(per_foot, self.per_foot, axis=1)
        self.drift[env_ids] = 0.0
        self.region[env_ids] = np.nan
        blind = self.rng.random(k) < min(1.0, c.blind_prob * lv)
        self.blind_at[env_ids] = np.where(blind, self.rng.uniform(*c.blind_after_s, size=k), np.inf)
        self.time[env_ids] = 0.0

    def step(self, xy: np.ndarray) -> None:
        """Advance one control step: drift and missing regions. ``xy``: the points' world (x, y). Shape: (n, m, 2)."""
        c, lv, n = self.cfg, self.level, len(self.time)
        self.time += self.dt
        if c.drift_rate > 0 and lv > 0:
            bound = c.drift_max * lv
            self.drift = np.clip(self.drift + self.rng.normal(0.0, c.drift_rate * lv * np.sqrt(self.dt), (n, 3)),
                                 -bound, bound)
        if c.region_rate > 0 and lv > 0:
            new = np.flatnonzero(self.rng.random(n) < c.region_rate * lv * self.dt)
            if len(new):
                point = self.rng.integers(0, xy.shape[1], size=len(new))
                self.region[new, :2] = xy[new, point]
                self.region[new, 2] = self.rng.uniform(0.05, max(0.05, c.region_radius), size=len(new))

    def shift(self, xy: np.ndarray) -> np.ndarray:
        """The points the map is read at: moved by the drift in x and y. Shape: (n, m, 2)."""
        return xy + self.drift[:, None, :2] if self.cfg.drift_rate > 0 else xy

    def heights(self, values: np.ndarray) -> np.ndarray:
        """Offsets, drift in z and per-point noise added to the values [m] (before the clip). Shape: (n, m)."""
        c, lv = self.cfg, self.level
        out = values + self.env_offsets + self.drift[:, 2:3] if (c.env_offset or c.drift_rate) else values.copy()
        if self.num_feet and c.foot_offset:
            out[:, self.ring_start:] += self.foot_offsets
        if c.point_noise > 0 and lv > 0:
            out += self.rng.normal(0.0, c.point_noise * lv, size=out.shape)
        return out

    def corrupt(self, values: np.ndarray, xy: np.ndarray, clip: float, missing_value: float,
                blind_value: float) -> np.ndarray:
        """Outliers, missing points and regions, and the blind scan, after the clip. ``values`` (n, m) is changed
        in place and returned; ``xy`` (n, m, 2) the points' world (x, y)."""
        c, lv = self.cfg, self.level
        if c.outlier_prob > 0 and lv > 0:
            hit = self.rng.random(values.shape) < min(1.0, c.outlier_prob * lv)
            values[hit] = self.rng.uniform(-clip, clip, size=int(hit.sum()))
        if c.missing_prob > 0 and lv > 0:
            values[self.rng.random(values.shape) < min(1.0, c.missing_prob * lv)] = missing_value
        if c.region_rate > 0:
            has = ~np.isnan(self.region[:, 2])
            if has.any():
                d2 = ((xy[has] - self.region[has, None, :2]) ** 2).sum(axis=2)
                rows = values[has]
                rows[d2 <= self.region[has, 2:3] ** 2] = missing_value
                values[has] = rows
        blind = self.time >= self.blind_at
        if blind.any():
            values[blind] = blind_value
        return values

    @property
    def blind(self) -> np.ndarray:
        """Whether each env's scan is removed. Shape: (n,)."""
        return self.time >= self.blind_at

    def state_dict(self) -> dict:
        import torch

        return {name: torch.from_numpy(getattr(self, name).copy()) for name in
                ("env_offsets", "foot_offsets", "drift", "region", "blind_at", "time")} | {"level": self.level}

    def load_state_dict(self, state: dict) -> None:
        for name in ("env_offsets", "foot_offsets", "drift", "region", "blind_at", "time"):
            getattr(self, name)[:] = state[name].numpy()
        self.level = float(state["level"])
