"""Build the policy observation on the robot from ``policy.json`` alone, with the training term code.

The ``observation`` block of ``policy.json`` is an :class:`~stridelab.managers.observation.ObservationGroup`
description (terms by import path, params, sizes, scales, history, clip). This builder rebuilds that
group and feeds it a :class:`~stridelab.mdp.state.RobotState` made from the robot's signals, so the
vector is assembled by exactly the code that assembled it in training (without the training noise).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from stridelab.deploy.backend import RobotSignals
from stridelab.errors import StridelabError
from stridelab.managers.observation import ObservationGroup
from stridelab.mdp.commands import gait_clock
from stridelab.mdp.state import RobotState


def input_size(meta: dict) -> int:
    """Length of the ``obs`` input of an exported policy: the policy group, plus the height scan if it reads one."""
    extero = meta.get("extero")
    return int(meta["observation"]["size"]) + (int(extero["size"]) if extero else 0)


class ObservationBuilder:
    """Assembles the policy input (frames and history) exactly as ``policy.json`` describes it."""

    def __init__(self, meta: dict, terrain: Any = None, scan_noise: float = 0.0) -> None:
        """``terrain``: the ground the height scan reads (a built :class:`~stridelab.sim.terrain.Terrain`, e.g. the
        deploy simulation's; ``None``: the flat floor at z = 0). ``scan_noise``: the level of the exteroception
        noise model policy.json describes (a simulation's test of a student; 0 on a robot, whose own map is
        noisy)."""
        desc = meta["observation"]
        try:
            self.group = ObservationGroup.from_description(desc)
        except StridelabError as err:
            raise StridelabError(f"policy.json's observation cannot be rebuilt here ({err}); install the stridelab "
                                 f"version that exported it on the robot.") from None
        self.expected_sizes = [int(t["size"]) for t in desc["terms"]]
        self.size = input_size(meta)
        # the height scan of a terrain policy: its training term on the given terrain (or a flat floor, ground at
        # z = 0), fed the base height the backend reports (a simulation's base position; a real robot would need an
        # elevation map)
        self.extero = None
        extero_terms = (meta.get("extero") or {}).get("terms", [])
        self.foot_rings = any(t.get("params", {}).get("foot_radii") for t in extero_terms)
        if meta.get("extero"):
            feet = len(meta.get("robot", {}).get("feet", []))
            floor = SimpleNamespace(num_envs=1, robot=SimpleNamespace(terrain=terrain, num_feet=feet),
                                    rng=np.random.default_rng(0), dt=float(meta["control_dt"]))
            self.extero = ObservationGroup.from_description(meta["extero"], env=floor)
            for term in self.extero.terms:
                if hasattr(term, "noise_level"):
                    term.noise_level = scan_noise
            if list(meta.get("observation_groups", ["policy", "extero"])) != ["policy", "extero"]:
                raise StridelabError(f"policy.json's observation_groups {meta['observation_groups']} are not "
                                     f"['policy', 'extero']; export the policy with this stridelab version.")
        self.default = np.asarray(meta["default_joint_pos"], dtype=np.float64)
        # the gait clock, if the policy was trained with one: it starts at phase 0 and ticks once per call
        self.clock = gait_clock.from_description(meta["gait"]) if meta.get("gait") else None
        self.control_dt = float(meta["control_dt"])
        self.last_state: RobotState | None = None  # the state of the last observation (what the policy acts on)
        self._fresh = True

    def reset(self) -> None:
        """The next call starts a new episode: the history is refilled with its first frame, the clock restarts."""
        self._fresh = True
        if self.clock is not None:
            self.clock.resample(np.array([0]))

    def state(self, sample: RobotSignals, command: np.ndarray, last_action: np.ndarray) -> RobotState:
        """A batch-of-one RobotState from a robot sample, the command and the last (processed) action."""
        phase = self.clock.command[0].copy() if self.clock is not None else None  # the clock ticks in place
        frequency = self.clock.frequencies[0] if self.clock is not None else None
        s = RobotState.from_signals(sample.base_quat, sample.base_ang_vel, sample.joint_pos, sample.joint_vel,
                                    self.default, last_action, command, sample.base_lin_vel, phase, frequency)
        if self.clock is not None:
            s.gait_settling = self.clock.settling
        if self.extero is not None:
            if "base_pos" not in sample.extra:
                raise StridelabError("this policy reads a height scan, which needs the base position above the ground; "
                                     "the robot backend reports none (extra['base_pos']): run it in the deploy "
                                     "simulation, or export a proprioceptive policy.")
            s.base_pos = np.asarray(sample.extra["base_pos"], dtype=np.float64).reshape(1, 3)
            if self.foot_rings:
                if "foot_pos" not in sample.extra:
                    raise StridelabError("this policy's height scan has rings around the feet, which need the feet's "
                                         "positions; the robot backend reports none (extra['foot_pos']): run it in "
                                         "the deploy simulation.")
                s.foot_pos = np.asarray(sample.extra["foot_pos"], dtype=np.float64).reshape(1, -1, 3)
        return s

    def set_gait_frequency(self, frequency: float | None) -> None:
        """Step at ``frequency`` [Hz] (clipped to the trained range), or ``None`` for the trained nominal one."""
        if self.clock is not None:
            self.clock.set_frequency(self.clock.frequency if frequency is None else frequency)

    def __call__(self, sample: RobotSignals, command: np.ndarray, last_action: np.ndarray) -> np.ndarray:
        """The policy input. Shape: (1, size), float32."""
        if self.clock is not None:  # this step's command counts towards the stop's settling, as in the env
            self.clock.watch(np.asarray(command, dtype=np.float64).reshape(1, -1), self.control_dt)
        s = self.last_state = self.state(sample, command, last_action)
        reset_ids = np.array([0]) if self._fresh else np.zeros(0, dtype=np.int64)
        obs = self.group.compute(s, reset_ids, noise=False)
        if self.extero is not None:
            obs = np.concatenate([obs, self.extero.compute(s, reset_ids, noise=False)], axis=1)
        if self._fresh and self.group.sizes != self.expected_sizes:
            raise StridelabError(f"the rebuilt observation terms have sizes {self.group.sizes} but policy.json says "
                                 f"{self.expected_sizes}; the robot's joint count or the stridelab version differs.")
        self._fresh = False
        if self.clock is not None:  # the next control step's phase (at the command's speed, as in training)
            self.clock.advance(self.control_dt, np.asarray(command, dtype=np.float64).reshape(1, -1))
        return obs.astype(np.float32)
