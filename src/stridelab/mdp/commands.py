"""Command terms: classes built with ``(env, **params)`` that hold ``command`` (n, k) and resample it."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stridelab.errors import ConfigError
from stridelab.mdp.state import told_to_move
from stridelab.sim.math import wrap_angle, yaw_of

Range = tuple[float, float]


class velocity_command:  # noqa: N801 - a term, named like the function terms
    """Per-env (vx [m/s], vy [m/s], yaw rate [rad/s]) commands in the base's heading frame.

    Uniform samples in the ranges, resampled every ``resample_s``; ``standing_fraction`` of the
    samples command standing still; planar commands below ``min_lin_vel`` [m/s] become zero.

    Attributes:
        command: Shape: (num_envs, 3).
        fixed: if set, every env gets this command instead of random samples (evaluation, play).
    """

    role = "velocity"  # the command RobotState.commands carries (see CommandManager.velocity)

    def __init__(self, env: Any, resample_s: float = 10.0, lin_vel_x: Range = (-1.0, 1.0),
                 lin_vel_y: Range = (-0.5, 0.5), ang_vel_yaw: Range = (-1.0, 1.0), standing_fraction: float = 0.05,
                 min_lin_vel: float = 0.1) -> None:
        if resample_s <= 0:
            raise ConfigError(f"velocity command resample_s = {resample_s} must be > 0 seconds.")
        for name, r in (("lin_vel_x", lin_vel_x), ("lin_vel_y", lin_vel_y), ("ang_vel_yaw", ang_vel_yaw)):
            if not isinstance(r, (tuple, list)) or len(r) != 2 or r[0] > r[1]:
                raise ConfigError(f"velocity command {name} = {r!r} is not a valid range; give (low, high) with "
                                  f"low <= high.")
        if not 0.0 <= standing_fraction <= 1.0:
            raise ConfigError(f"velocity command standing_fraction = {standing_fraction} must be within [0, 1].")
        self.rng = env.rng
        self.resample_s = resample_s
        self.low = np.array([lin_vel_x[0], lin_vel_y[0], ang_vel_yaw[0]], dtype=np.float64)
        self.high = np.array([lin_vel_x[1], lin_vel_y[1], ang_vel_yaw[1]], dtype=np.float64)
        self.standing_fraction = standing_fraction
        self.min_lin_vel = min_lin_vel
        self.command = np.zeros((env.num_envs, 3))
        self.time_left = np.zeros(env.num_envs)
        self.fixed: np.ndarray | None = None

    def resample(self, env_ids: np.ndarray) -> None:
        """Draw new commands for ``env_ids`` and restart their timers."""
        if len(env_ids) == 0:
            return
        self.time_left[env_ids] = self.resample_s
        if self.fixed is not None:
            self.command[env_ids] = np.broadcast_to(self.fixed, self.command.shape)[env_ids]
            return
        cmd = self.rng.uniform(self.low, self.high, size=(len(env_ids), 3))
        cmd[np.linalg.norm(cmd[:, :2], axis=1) < self.min_lin_vel, :2] = 0.0
        cmd[self.rng.random(len(env_ids)) < self.standing_fraction] = 0.0
        self.command[env_ids] = cmd

    def step(self, dt: float) -> None:
        """Advance the timers by ``dt`` [s] and resample expired commands."""
        self.time_left -= dt
        self.resample(np.flatnonzero(self.time_left <= 0.0))

    def set_fixed(self, command: np.ndarray | None) -> None:
        """Hold ``command`` (Shape: (n, 3) or (3,)) in every env from now on, or ``None`` to sample again."""
        self.fixed = None if command is None else np.asarray(command, dtype=np.float64)
        self.resample(np.arange(len(self.command)))

    def ranges(self) -> dict[str, list[float]]:
        """The sampled ranges by component (for ``policy.json`` and the evaluation grid)."""
        return {name: [float(self.low[i]), float(self.high[i])]
                for i, name in enumerate(("lin_vel_x", "lin_vel_y", "ang_vel_yaw"))}

    def state_dict(self) -> dict:
        return {"command": torch.from_numpy(self.command.copy()), "time_left": torch.from_numpy(self.time_left.copy())}

    def load_state_dict(self, state: dict) -> None:
        self.command[:] = state["command"].numpy()
        self.time_left[:] = state["time_left"].numpy()


class heading_command(velocity_command):  # noqa: N801 - a term, named like the function terms
    """Velocity commands whose yaw rate steers towards a random target heading (legged_gym's and Isaac Lab's
    ``heading_command``): robots walk straight lines across the terrain instead of circles, so that the
    terrain curriculum's distance measures walking, not turning.

    At each resample, ``heading_fraction`` of the envs (Isaac Lab's ``rel_heading_envs``) draw a world
    heading [rad] uniformly in ``heading``; every control step their yaw rate is
    ``clip(heading_gain * wrap(target - yaw), ang_vel_yaw)`` (legged_gym: gain 0.5, clip to +-1 rad/s). The
    other envs keep a random yaw rate; envs told to stand stay at zero. A fixed command (evaluation, play)
    is never steered.
    """

    def __init__(self, env: Any, resample_s: float = 10.0, lin_vel_x: Range = (-1.0, 1.0),
                 lin_vel_y: Range = (-0.5, 0.5), ang_vel_yaw: Range = (-1.0, 1.0), standing_fraction: float = 0.05,
                 min_lin_vel: float = 0.1, heading: Range = (-np.pi, np.pi), heading_gain: float = 0.5,
                 heading_fraction: float = 1.0) -> None:
        super().__init__(env, resample_s, lin_vel_x, lin_vel_y, ang_vel_yaw, standing_fraction, min_lin_vel)
        if not isinstance(heading, (tuple, list)) or len(heading) != 2 or heading[0] > heading[1]:
            raise ConfigError(f"heading_command heading = {heading!r} is not a valid range; give (low, high) in rad.")
        if not heading_gain > 0 or not 0.0 <= heading_fraction <= 1.0:
            raise ConfigError(f"heading_command heading_gain = {heading_gain} must be > 0 (rad/s per rad) and "
                              f"heading_fraction = {heading_fraction} within [0, 1].")
        self.env = env
        self.heading_range = (float(heading[0]), float(heading[1]))
        self.heading_gain, self.heading_fraction = float(heading_gain), float(heading_fraction)
        self.target = np.zeros(env.num_envs)  # world heading [rad]
        self.steered = np.zeros(env.num_envs, dtype=bool)

    def resample(self, env_ids: np.ndarray) -> None:
        super().resample(env_ids)
        if len(env_ids) == 0 or self.fixed is not None:
            self.steered[env_ids] = False
            return
        k = len(env_ids)
        self.target[env_ids] = self.rng.uniform(*self.heading_range, size=k)
        standing = ~np.any(self.command[env_ids] != 0.0, axis=1)
        self.steered[env_ids] = (self.rng.random(k) < self.heading_fraction) & ~standing
        self._steer(env_ids)

    def _steer(self, env_ids: np.ndarray) -> None:
        ids = env_ids[self.steered[env_ids]]
        if len(ids) == 0:
            return
        b = self.env.robot.base_qpos_adr
        yaw = yaw_of(self.env.sim.qpos[ids, b + 3:b + 7])
        self.command[ids, 2] = np.clip(self.heading_gain * wrap_angle(self.target[ids] - yaw), self.low[2], self.high[2])

    def step(self, dt: float) -> None:
        """Advance the timers, resample expired commands and steer the heading envs from their current yaw."""
        super().step(dt)
        self._steer(np.arange(len(self.command)))

    def state_dict(self) -> dict:
        return {**super().state_dict(), "target": torch.from_numpy(self.target.copy()),
                "steered": torch.from_numpy(self.steered.copy())}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.target[:] = state["target"].numpy()
        self.steered[:] = state["steered"].numpy()


class course_command(velocity_command):  # noqa: N801 - a term, named like the function terms
    """Forward commands on an obstacle course, steered back onto the lane's centre line.

    Without a fixed command (training, the course evaluation), vx and vy are drawn as by
    :class:`velocity_command` (ETG-RL walks its courses forward: ``lin_vel_x`` > 0, ``lin_vel_y`` 0 by
    default) and the yaw rate is a steering law recomputed every control step from the base's pose:

        target heading  psi* = -atan(lane_gain * (y - y_lane))                      [rad]
        yaw rate        w    = clip(heading_gain * wrap(psi* - psi), ang_vel_yaw)   [rad/s]

    that is legged_gym's heading command (``w = clip(0.5 * wrap(psi* - psi), -1, 1)``) with the target
    +x, turned toward the centre line when the robot drifts (``y_lane``: the lane of the env's tile, see
    :mod:`stridelab.mdp.terrain`). A standing command does not steer. A fixed command (the tracking grid,
    play) is held as given, like :class:`velocity_command`'s.

    Attributes:
        command: (vx [m/s], vy [m/s], yaw rate [rad/s]). Shape: (num_envs, 3).
    """

    steers = True  # the evaluation keeps ang_vel_yaw: it bounds the steering, not a random draw

    def __init__(self, env: Any, resample_s: float = 10.0, lin_vel_x: Range = (0.3, 1.0),
                 lin_vel_y: Range = (0.0, 0.0), ang_vel_yaw: Range = (-1.0, 1.0), standing_fraction: float = 0.05,
                 min_lin_vel: float = 0.1, heading_gain: float = 1.0, lane_gain: float = 1.0) -> None:
        super().__init__(env, resample_s, lin_vel_x, lin_vel_y, ang_vel_yaw, standing_fraction, min_lin_vel)
        if not (heading_gain >= 0 and lane_gain >= 0):
            raise ConfigError(f"course_command heading_gain = {heading_gain} and lane_gain = {lane_gain} must be "
                              f">= 0 (rad/s per rad, rad per m).")
        self.env = env
        self.heading_gain, self.lane_gain = float(heading_gain), float(lane_gain)

    def steering(self, yaw: np.ndarray, y: np.ndarray, lane_y: np.ndarray) -> np.ndarray:
        """The steering law: yaw rate [rad/s] from heading ``yaw`` [rad], lateral position ``y`` and the lane's
        centre ``lane_y`` [m]. Shapes: (k,)."""
        target = -np.arctan(self.lane_gain * (y - lane_y))
        return np.clip(self.heading_gain * wrap_angle(target - yaw), self.low[2], self.high[2])

    def _steer(self, env_ids: np.ndarray) -> None:
        if self.fixed is not None or len(env_ids) == 0:
            return
        from stridelab.mdp.terrain import tiles_of

        env = self.env
        b = env.robot.base_qpos_adr
        qpos = env.sim.qpos[env_ids]
        yaw = yaw_of(qpos[:, b + 3:b + 7])
        lane_y = tiles_of(env, "course_command").origins(env_ids)[:, 1]
        moving = np.any(self.command[env_ids, :2] != 0.0, axis=1)
        self.command[env_ids, 2] = np.where(moving, self.steering(yaw, qpos[:, b + 1], lane_y), 0.0)

    def resample(self, env_ids: np.ndarray) -> None:
        super().resample(env_ids)
        self._steer(env_ids)

    def step(self, dt: float) -> None:
        """Advance the timers, resample expired commands and steer every env from its current pose."""
        super().step(dt)
        self._steer(np.arange(len(self.command)))


def alternating_offsets(spec: Any) -> tuple[float, ...] | None:
    """Clock offsets for the alternating gait of a robot with a feet mirror map (``None`` without one): the
    feet of each left/right pair are half a cycle apart, and successive pairs (in the order of the robot's
    feet, front to back) start half a cycle apart. Quadruped (FL, FR, RL, RR): (0, 0.5, 0.5, 0), a trot;
    biped (left, right): (0, 0.5). Without a mirror map, two or four feet are taken in the conventional
    order (left, right / FL, FR, RL, RR)."""
    perm = getattr(spec, "feet_mirror_perm", None)
    if perm is None:
        perm = {2: (1, 0), 4: (1, 0, 3, 2)}.get(len(getattr(spec, "feet", ())))
    if perm is None:
        return None
    offsets: list[float | None] = [None] * len(perm)
    pair = 0
    for foot, mirror in enumerate(perm):
        if offsets[foot] is None:
            offsets[foot] = 0.5 * (pair % 2)
            if mirror != foot:
                offsets[mirror] = 0.5 * ((pair + 1) % 2)
            pair += 1
    return tuple(offsets)


class gait_clock:  # noqa: N801 - a term, named like the function terms
    """A periodic gait clock: one phase per foot in [0, 1), advancing at ``frequency`` [Hz].

    Foot ``f`` is at phase ``(phase + offsets[f]) mod 1``; a foot is meant to be in stance for the first
    ``duty`` of its cycle (the reward :func:`stridelab.mdp.rewards.gait_contact_schedule`). Trot for a
    quadruped with feet (FL, FR, RL, RR): offsets (0, 0.5, 0.5, 0); alternating biped: (0, 0.5). Without
    ``offsets`` they come from the robot's feet mirror map (:func:`alternating_offsets`).
    The idea is walk-these-ways' (Margolis & Agrawal 2022) gait command with fixed parameters. The env
    puts ``command`` into ``RobotState.gait_phase``; ``policy.json`` carries :meth:`describe`, from which
    the deploy runtime runs the same clock.

    With ``frequency_range`` the stepping frequency is a command too (apex's ``phase_add``): each env draws
    one in the range at every restart, the observation term ``gait_frequency`` shows it to the policy, and
    :meth:`set_frequency` fixes it (play, eval, the deploy runtime).

    With ``max_step_length`` [m] the frequency rises with the commanded planar speed ``v`` so that no
    step is longer than that: each step the clock runs at ``min(max(f, v / (2 L)), f_high)``, where ``f``
    is the env's drawn (or fixed) frequency and ``f_high`` the top of the range (people raise their
    cadence with speed likewise). Without it a drawn 1.25 Hz at 1 m/s asks for 0.4 m steps.
    ``max_step_per_leg`` gives ``max_step_length`` as a share of the robot's leg length instead
    (:func:`stridelab.robots.geometry.leg_length`, read from the model), so one setting fits any robot;
    a ``max_step_length`` given too (e.g. on the command line) wins.

    With ``settle_cycles`` the clock keeps stepping after a stop: an env told to stand (planar speed and
    yaw rate below ``min_command``) right after moving counts as moving (:attr:`settling`, read by
    :func:`stridelab.mdp.state.commanded`: the clock observation, the gait rewards, ``stand_still``) until
    that many cycles of its frequency have passed, so a walking biped stops within a step instead of
    planting both feet at once at speed (docs/benchmarks.md section 14: 15 of 16 fell forward).

    Attributes:
        command: per-foot phase. Shape: (num_envs, num_feet).
        phase: the clock's own phase. Shape: (num_envs,).
        frequencies: each env's stepping frequency [Hz], after the speed coupling. Shape: (num_envs,).
        base_frequencies: each env's drawn (or fixed) frequency [Hz], before it. Shape: (num_envs,).
        idle_s: time told to stand since the last moving command [s] (inf from a restart until the first
            moving command). Shape: (num_envs,).
    """

    role = "gait"

    def __init__(self, env: Any, frequency: float = 2.0, offsets: tuple[float, ...] | None = None,
                 duty: float = 0.5, random_start: bool = True, frequency_range: Range | None = None,
                 max_step_length: float | None = None, max_step_per_leg: float | None = None,
                 settle_cycles: float = 0.0, min_command: float = 0.1) -> None:
        if max_step_per_leg is not None:
            if not 0.0 < max_step_per_leg <= 2.0:
                raise ConfigError(f"gait_clock max_step_per_leg = {max_step_per_leg} must be within (0, 2] leg "
                                  f"lengths.")
            if env is not None and max_step_length is None:  # a length in metres, if given, wins
                from stridelab.robots.geometry import leg_length

                max_step_length = max_step_per_leg * leg_length(env.robot)
        if offsets is None:
            offsets = alternating_offsets(env.robot.spec) if env is not None else None
        if offsets is None:
            raise ConfigError("gait_clock needs offsets, one phase offset in [0, 1) per foot (e.g. trot: "
                              "[0, 0.5, 0.5, 0]), or a robot with a feet mirror map to derive them from.")
        num_feet = env.robot.num_feet if env is not None else len(offsets)
        if len(offsets) != num_feet:
            raise ConfigError(f"gait_clock has {len(offsets)} offsets but the robot has {num_feet} feet; give one "
                              f"offset per foot, in the order of the robot's feet.")
        if not 0.0 < frequency <= 10.0:
            raise ConfigError(f"gait_clock frequency = {frequency} Hz must be within (0, 10].")
        if frequency_range is not None and (not isinstance(frequency_range, (tuple, list)) or len(frequency_range) != 2
                                            or not 0.0 < frequency_range[0] <= frequency_range[1] <= 10.0):
            raise ConfigError(f"gait_clock frequency_range = {frequency_range!r} is not a valid range; give (low, "
                              f"high) in Hz with 0 < low <= high <= 10, or leave it out for a fixed frequency.")
        if max_step_length is not None and not 0.0 < max_step_length <= 5.0:
            raise ConfigError(f"gait_clock max_step_length = {max_step_length} m must be within (0, 5], or left out "
                              f"for a stepping frequency that does not depend on the commanded speed.")
        if not 0.0 < duty < 1.0:
            raise ConfigError(f"gait_clock duty = {duty} must be within (0, 1): the stance fraction of a cycle.")
        if not 0.0 <= settle_cycles <= 10.0:
            raise ConfigError(f"gait_clock settle_cycles = {settle_cycles} must be within [0, 10]: the cycles the "
                              f"clock steps on after a stop command (0: stand at once).")
        if not 0.0 < min_command <= 5.0:
            raise ConfigError(f"gait_clock min_command = {min_command} must be within (0, 5]: the command speed "
                              f"[m/s] and yaw rate [rad/s] below which the robot is told to stand.")
        self.settle_cycles, self.min_command = float(settle_cycles), float(min_command)
        self.frequency, self.duty, self.random_start = float(frequency), float(duty), bool(random_start)
        self.offsets = np.asarray(offsets, dtype=np.float64)
        n = env.num_envs if env is not None else 1
        self.rng = env.rng if env is not None else None
        self.phase = np.zeros(n)
        self.frequency_range = None if frequency_range is None else (float(frequency_range[0]),
                                                                     float(frequency_range[1]))
        self.max_step_length = None if max_step_length is None else float(max_step_length)
        self.base_frequencies = np.full(n, self.frequency)  # per env [Hz]; sampled at each restart with a range
        self.frequencies = self.base_frequencies.copy()  # what the clock runs at (the speed coupling applied)
        self.fixed_frequency: float | None = None
        self.command = np.zeros((n, num_feet))
        self.idle_s = np.full(n, np.inf)
        self._counted = (self.idle_s.copy(), 0.0)  # idle_s before the last watch of every env, and its dt
        self._update()

    def _update(self) -> None:
        self.command[:] = np.mod(self.phase[:, None] + self.offsets, 1.0)

    def resample(self, env_ids: np.ndarray) -> None:
        """Restart the clock of ``env_ids`` (at a random phase in training)."""
        if len(env_ids) == 0:
            return
        self.phase[env_ids] = self.rng.random(len(env_ids)) if self.random_start and self.rng is not None else 0.0
        if self.fixed_frequency is not None:
            self.base_frequencies[env_ids] = self.fixed_frequency
        elif self.frequency_range is not None and self.rng is not None:
            self.base_frequencies[env_ids] = self.rng.uniform(*self.frequency_range, size=len(env_ids))
        self.frequencies[env_ids] = self.base_frequencies[env_ids]  # the speed coupling applies from the next step
        self.idle_s[env_ids] = np.inf  # a restart told to stand stands at once
        self._counted[0][env_ids] = np.inf
        self._update()

    def set_frequency(self, frequency: float | None) -> None:
        """Step at ``frequency`` [Hz] in every env from now on (play, eval, a robot's operator), or ``None``
        to sample again at each restart. Apex's ``phase_add`` as a command."""
        if frequency is not None:
            low, high = self.frequency_range or (self.frequency, self.frequency)
            self.fixed_frequency = float(np.clip(frequency, low, high))
            self.base_frequencies[:] = self.fixed_frequency
            self.frequencies[:] = self.fixed_frequency
        else:
            self.fixed_frequency = None

    @property
    def settling(self) -> np.ndarray:
        """Envs told to stand whose clock still steps: within ``settle_cycles`` cycles (of the drawn frequency)
        after the last moving command. Shape: (num_envs,), bool."""
        return (self.idle_s > 0.0) & (self.idle_s * self.base_frequencies < self.settle_cycles)

    def step(self, dt: float, velocity: np.ndarray | None = None) -> None:
        """Advance by ``dt`` [s] (:meth:`advance`) and count this step's command (:meth:`watch`): the env's
        command manager, whose state is read after the step with the same command."""
        self.advance(dt, velocity)
        if velocity is not None:
            self.watch(velocity, dt)

    def watch(self, velocity: np.ndarray, dt: float, env_ids: np.ndarray | None = None) -> None:
        """Count one control step of ``dt`` [s] at the velocity command ``velocity`` (k, 3) [m/s, m/s, rad/s] of
        ``env_ids`` (default: every env) towards :attr:`settling`. The deploy runtime calls it before each
        observation, the env within :meth:`step` and at a restart (with ``dt`` 0), so both count the current
        command."""
        ids = slice(None) if env_ids is None else env_ids
        moving = told_to_move(np.asarray(velocity, dtype=np.float64).reshape(-1, 3), self.min_command)
        if env_ids is None:
            self._counted = (self.idle_s.copy(), dt)  # what :meth:`recount` undoes
        self.idle_s[ids] = np.where(moving, 0.0, self.idle_s[ids] + dt)

    def recount(self, velocity: np.ndarray) -> None:
        """Count ``velocity`` (n, 3) in place of the command the last :meth:`watch` of every env counted (a
        command replaced within a control step: the env's ``set_commands``)."""
        idle, dt = self._counted
        self.idle_s[:] = idle
        self.watch(velocity, dt)

    def advance(self, dt: float, velocity: np.ndarray | None = None) -> None:
        """Advance the phase by ``dt`` [s]; ``velocity`` is the velocity command (n, 3) [m/s, m/s, rad/s], which
        sets the frequency with ``max_step_length``."""
        if self.max_step_length is not None and velocity is not None:
            speed = np.linalg.norm(np.asarray(velocity, dtype=np.float64)[:, :2], axis=1)
            high = self.frequency_range[1] if self.frequency_range is not None else self.frequency
            needed = speed / (2.0 * self.max_step_length)
            self.frequencies[:] = np.minimum(np.maximum(self.base_frequencies, needed), high)
        self.phase = np.mod(self.phase + dt * self.frequencies, 1.0)
        self._update()

    def phase_rule(self) -> str:
        """How each foot's phase runs, in whole sentences with this clock's values (for ``policy.json``)."""
        offsets = ", ".join(f"{v:g}" for v in self.offsets)
        start = ("Foot f's phase in [0, 1) starts at offsets[f] = ({offsets}) (feet in the order of robot.feet) when "
                 "the episode starts (in training at a random phase added to every foot; a deployed clock starts at 0) "
                 "and advances once per control step, after each observation.").format(offsets=offsets)
        if self.frequency_range is None and self.max_step_length is None:
            return (f"{start} After k control steps it is (k * control_dt * {self.frequency:g} + offsets[f]) mod 1: "
                    f"the clock runs at a fixed {self.frequency:g} Hz.")
        if self.frequency_range is None:
            rate = f"f0 = {self.frequency:g} Hz"
            high = f"{self.frequency:g}"
        else:
            lo, hi = self.frequency_range
            rate = (f"f0 = the commanded stepping frequency, within [{lo:g}, {hi:g}] Hz (nominal {self.frequency:g} "
                    f"Hz; drawn per episode in training)")
            high = f"{hi:g}"
        coupling = ("" if self.max_step_length is None else
                    f" raised with the commanded planar speed v = sqrt(vx^2 + vy^2) [m/s] to min(max(f0, v / (2 * "
                    f"{self.max_step_length:g})), {high}) Hz so that no step is longer than "
                    f"{self.max_step_length:g} m,")
        return (f"{start} Each control step adds control_dt * f to it (mod 1), where f is {rate},{coupling} "
                f"the same for every foot.")

    def settle_rule(self) -> str:
        """When a robot told to stand still steps (for ``policy.json``), or "" without settling cycles."""
        if self.settle_cycles <= 0.0:
            return ""
        m, c = self.min_command, self.settle_cycles
        f0 = "f0" if self.frequency_range is not None else f"{self.frequency:g} Hz"
        return (f"After moving, a stop steps on: the idle time t [s] is 0 at every control step whose command moves "
                f"(planar speed or |wz| at least {m:g}) and grows by control_dt at each control step told to stand, "
                f"counting the current one (it starts infinite at the episode's start); while 0 < t * {f0} < "
                f"{c:g} (settle_cycles) the robot counts as moving, so the clock is observed as while moving.")

    def describe(self, min_command: float | None = None) -> dict:
        """The clock's parameters for ``policy.json`` (a robot runs the same clock from them).

        ``min_command``: the standing threshold [m/s, rad/s] of the policy's ``gait_clock`` observation, written
        into the ``phase`` sentence and as ``min_command``, if the policy observes the clock."""
        phase = (f"{self.phase_rule()} A foot is meant to be in stance while its phase is below the duty "
                 f"{self.duty:g} and in swing after it.")
        if min_command is not None:
            phase += (f" The policy observes the clock as gait_clock, all zero while the robot is told to stand: "
                      f"while the planar command speed sqrt(vx^2 + vy^2) is below {min_command:g} m/s and the "
                      f"yaw-rate command |wz| is below {min_command:g} rad/s (the clock keeps running).")
        if self.settle_cycles > 0.0:
            phase += f" {self.settle_rule()}"
        return {"func": "gait_clock", "frequency": self.frequency, "offsets": self.offsets.tolist(),
                "duty": self.duty,
                "frequency_range": None if self.frequency_range is None else list(self.frequency_range),
                "max_step_length": self.max_step_length,
                "settle_cycles": self.settle_cycles,
                **({} if min_command is None else {"min_command": float(min_command)}),
                "phase": phase}

    @classmethod
    def from_description(cls, desc: dict) -> gait_clock:
        """One clock (a batch of one, starting at phase 0) from :meth:`describe` output."""
        return cls(None, frequency=desc["frequency"], offsets=tuple(desc["offsets"]), duty=desc["duty"],
                   random_start=False, frequency_range=desc.get("frequency_range"),
                   max_step_length=desc.get("max_step_length"), settle_cycles=desc.get("settle_cycles", 0.0),
                   min_command=desc.get("min_command", 0.1))

    def state_dict(self) -> dict:
        return {"phase": torch.from_numpy(self.phase.copy()), "frequencies": torch.from_numpy(self.frequencies.copy()),
                "base_frequencies": torch.from_numpy(self.base_frequencies.copy()),
                "idle_s": torch.from_numpy(self.idle_s.copy())}

    def load_state_dict(self, state: dict) -> None:
        self.phase[:] = state["phase"].numpy()
        if "frequencies" in state:
            self.frequencies[:] = state["frequencies"].numpy()
        self.base_frequencies[:] = state["base_frequencies"].numpy() if "base_frequencies" in state \
            else self.frequencies
        if "idle_s" in state:
            self.idle_s[:] = state["idle_s"].numpy()
        self._update()
