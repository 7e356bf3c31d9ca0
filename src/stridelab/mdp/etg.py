"""ETG's MDP terms: the action term "trajectory generator + bounded residual" and the observation of the
generator's target. The generator itself is :mod:`stridelab.mdp.etg_generator`; docs/etg.md explains the method.

Action (both classes):

    target = TG(phase, command) + act_bound * clip(action, -1, 1)        [rad]

``TG`` is the joint-space output of the trajectory generator at each foot's gait-clock phase (the phases
the policy just observed: ``RobotState.gait_phase``), or the default pose while the velocity command is
below ``min_command`` (stand still; the gait clock's observation and reward do the same).

- :class:`etg_residual` (training) computes ``TG`` from the RBF weights and the leg inverse kinematics,
  with one generator per env (ES evaluates a population in one batch of envs, :meth:`set_weights`).
- :class:`etg_table_residual` (deployment) reads ``TG`` from a lookup table: ``etg_table.npy`` beside
  ``policy.json``, float64, shape (rows, num_joints), row ``k`` = the joint targets [rad] at foot phase
  ``k / rows``, linearly interpolated and periodic; joint ``j`` is read at the phase of foot
  ``joint_foot[j]`` (``-1``: not a leg joint, the default angle). The training term's ``describe()``
  is the table term's description, and ``export_files`` writes the table (ETG-RL also precomputes its
  generator into a ``.npy`` list for real-time control).

Both read the state the policy observed through a *state source* (a callable returning the latest
:class:`~stridelab.mdp.state.RobotState`): the env's ``env.state`` in training; the deploy loop binds
its observation builder's last state (:meth:`bind_state`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from stridelab.errors import ConfigError
from stridelab.files import write_atomic
from stridelab.mdp import symmetry as sym
from stridelab.mdp.etg_generator import GeneratorSettings, check_act_bound, foot_offsets
from stridelab.mdp.leg_kinematics import LegKinematics
from stridelab.mdp.state import RobotState, commanded

TABLE_FILE = "etg_table.npy"
FORMULA = ("target = TG(foot phases) + act_bound * clip(action, -1, 1); TG = joint targets from the lookup table "
           "at each joint's foot phase (linear, periodic), or default_joint_pos while |command| < min_command")


class _GeneratorResidual:
    """What both action terms share: the residual, the state source, the standing pose, the mirror map."""

    def __init__(self, default_joint_pos: list[float], act_bound: float, min_command: float) -> None:
        self.default = np.asarray(default_joint_pos, dtype=np.float64)
        self.size = len(self.default)
        self.act_bound = check_act_bound(act_bound)
        self.min_command = float(min_command)
        self._state: Callable[[], RobotState | None] = lambda: None

    def bind_state(self, source: Callable[[], RobotState | None]) -> None:
        """Read the phases and commands from ``source()``: the state whose observation the policy acts on."""
        self._state = source

    def process(self, actions: np.ndarray) -> np.ndarray:
        """The residual in units of ``act_bound``: ``clip(action, -1, 1)``. Shape: (n, j)."""
        return np.clip(actions, -1.0, 1.0)

    def targets(self, processed: np.ndarray) -> np.ndarray:
        """PD joint targets [rad]: TG + act_bound x residual. Shape: (n, j).

        A call whose row count differs from the bound state's (the env setting the targets of the envs it
        resets, before their first step) gets the standing pose as TG; the next step overwrites it."""
        s = self._state()
        if s is None or s.gait_phase is None or len(s.gait_phase) != len(processed):
            base = self.default
        else:
            base = self.generator_targets(s)
        return base + self.act_bound * processed

    def generator_targets(self, s: RobotState) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def generator_offsets(self, s: RobotState) -> np.ndarray:
        """The generator's joint targets minus the default pose [rad]. Shape: (n, j)."""
        return self.generator_targets(s) - self.default

    def _phases(self, s: RobotState) -> tuple[np.ndarray, np.ndarray]:
        if s.gait_phase is None:
            raise ConfigError("the ETG action needs a gait clock for its phase; add a 'gait_clock' command to the task "
                              "(stridelab etg adds one to tasks without it).")
        return s.gait_phase, commanded(s, self.min_command)

    def mirror(self, spec: Any) -> tuple[np.ndarray, np.ndarray]:
        """The residual mirrors like joint angles (the generator is left/right symmetric)."""
        return sym.joints(spec, self.size)


class etg_residual(_GeneratorResidual):  # noqa: N801 - a term, named like the other terms
    """Trajectory generator (RBF weights + leg IK, one generator per env) plus a bounded residual; see the
    module docstring.

    Attributes:
        kin: the legs (:class:`~stridelab.mdp.leg_kinematics.LegKinematics`).
        params: the configured generator weights [m]. Shape: (2 num_rbf,).
        weights: the weights each env runs (the configured ones unless :meth:`set_weights` changed them).
            Shape: (n, num_rbf, 2).
    """

    def __init__(self, kinematics: Any, default_joint_pos: list[float], weights: tuple[float, ...], num_rbf: int,
                 width: float | None, act_bound: float, min_command: float = 0.1, num_envs: int = 1,
                 table_size: int = 1024, step_y: float = 0.0) -> None:
        super().__init__(default_joint_pos, act_bound, min_command)
        self.kin = kinematics
        self.settings = GeneratorSettings(num_rbf=int(num_rbf), width=width, step_y=float(step_y))  # checks them
        self.step_y = self.settings.step_y
        self.width = self.settings.rbf_width
        if not 16 <= int(table_size) <= 1_000_000:
            raise ConfigError(f"ETG table_size = {table_size} is out of range; use 16 to 1000000 rows.")
        self.table_size = int(table_size)
        self.params = self._checked(np.asarray(weights, dtype=np.float64))
        self.weights = np.repeat(self.params.reshape(1, -1, 2), num_envs, axis=0)
        self.joint_foot = np.full(self.size, -1, dtype=np.int64)
        for leg, idx in enumerate(self.kin.joint_index):
            self.joint_foot[idx] = leg

    @classmethod
    def from_env(cls, env: Any, weights: tuple[float, ...] | None = None, num_rbf: int = 12, width: float | None = None,
                 act_bound: float = 0.5, min_command: float = 0.1, table_size: int = 1024,
                 step_y: float = 0.0) -> etg_residual:
        """``weights`` [m] (``2 num_rbf`` numbers; ``None``: the prior trajectory's fit); ``act_bound`` [rad];
        ``step_y``: every foot moved this far towards the midline [m] while the generator runs."""
        if weights is None:
            weights = tuple(GeneratorSettings(num_rbf=int(num_rbf), width=width).prior_weights())
        term = cls(LegKinematics.from_robot(env.robot), list(env.robot.spec.default_pose), weights, num_rbf, width,
                   act_bound, min_command, env.num_envs, table_size, step_y)
        term.bind_state(lambda: getattr(env, "state", None))
        return term

    def _checked(self, w: np.ndarray) -> np.ndarray:
        n = self.settings.num_params
        if w.shape[-1] != n or not np.all(np.isfinite(w)):
            raise ConfigError(f"the ETG generator has {w.shape[-1]} weights but num_rbf = {self.settings.num_rbf} needs "
                              f"{n} finite numbers; give a matching generator file or --etg-path none.")
        return w

    def set_weights(self, weights: np.ndarray) -> None:
        """Run ``weights`` [m]: one vector for every env (Shape: (2 num_rbf,)) or one per env (Shape: (n, 2 num_rbf))."""
        w = self._checked(np.asarray(weights, dtype=np.float64))
        self.weights[:] = w.reshape(-1, self.settings.num_rbf, 2) if w.ndim == 2 else w.reshape(1, -1, 2)

    def foot_targets(self, phase: np.ndarray, active: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Foot centres in the base frame [m]: default + (dx, -step_y towards the midline, dz). Shapes: (n, f), (n,),
        (n, H, 2) or (H, 2) -> (n, f, 3)."""
        off = foot_offsets(phase, weights, self.width) * active[:, None, None]
        p = np.broadcast_to(self.kin.default_foot, off.shape[:-1] + (3,)).copy()
        p[..., 0] += off[..., 0]
        p[..., 1] -= np.sign(self.kin.default_foot[:, 1]) * self.step_y * active[:, None]
        p[..., 2] += off[..., 1]
        return p

    def _joint_targets(self, phase: np.ndarray, active: np.ndarray, weights: np.ndarray) -> np.ndarray:
        q = self.kin.ik(self.foot_targets(phase, active, weights))
        out = np.broadcast_to(self.default, (len(phase), self.size)).copy()
        out[:, self.kin.joint_index.reshape(-1)] = q.reshape(len(phase), -1)
        return out

    def generator_targets(self, s: RobotState) -> np.ndarray:
        """Joint targets of each env's generator at its feet's phases [rad]. Shape: (n, j)."""
        phase, active = self._phases(s)
        weights = self.weights if len(phase) == len(self.weights) else self.params.reshape(-1, 2)
        return self._joint_targets(phase, active.astype(np.float64), weights)

    def table(self, rows: int | None = None) -> np.ndarray:
        """The configured generator over a phase grid: row ``k`` = joint targets at foot phase ``k / rows`` [rad]
        (each joint read at its own foot's phase). Shape: (rows, j)."""
        rows = self.table_size if rows is None else int(rows)
        phase = np.repeat((np.arange(rows) / rows)[:, None], self.kin.num_legs, axis=1)
        return self._joint_targets(phase, np.ones(rows), self.params.reshape(-1, 2))

    def describe(self) -> dict:
        """The deploy description: the lookup-table term (see the module docstring), plus the generator for the record."""
        return {"func": f"{etg_table_residual.__module__}:{etg_table_residual.__qualname__}",
                "params": {"default_joint_pos": self.default.tolist(), "table": TABLE_FILE,
                           "joint_foot": self.joint_foot.tolist(), "act_bound": self.act_bound,
                           "min_command": self.min_command},
                "formula": FORMULA,
                "description": (f"One value per joint, in the order of joint_names, each clipped to [-1, 1]; the PD "
                                f"target of joint j is TG_j + {self.act_bound:g} * clip(action_j, -1, 1) [rad], where "
                                f"TG_j is row-interpolated from {TABLE_FILE} (float64, (rows, joints); row k holds the "
                                f"targets at foot phase k / rows, linear between rows and periodic) at the gait-clock "
                                f"phase of joint j's foot joint_foot[j] (-1: default_joint_pos[j]), and TG is "
                                f"default_joint_pos while the planar command speed is below {self.min_command:g} m/s "
                                f"and |yaw rate| below {self.min_command:g} rad/s."),
                "generator": {"weights": self.params.tolist(), "num_rbf": self.settings.num_rbf, "width": self.width,
                              "step_y": self.step_y,
                              "table_rows": self.table_size,
                              "table_layout": "float64 (rows, num_joints); row k: joint targets [rad] at foot phase "
                                              "k / rows; joint j at the phase of foot joint_foot[j]"}}

    def export_files(self, out_dir: Path | str, rows: int | None = None) -> list[Path]:
        """Write the lookup table the description names (atomically) into ``out_dir``."""
        return [save_table(Path(out_dir) / TABLE_FILE, self.table(rows))]


class etg_table_residual(_GeneratorResidual):  # noqa: N801 - a term, named like the other terms
    """The deployed ETG action: the generator as a lookup table plus the bounded residual (module docstring).

    Args:
        table: the table (rows, j) [rad], or the path of its ``.npy`` file.
        joint_foot: the foot each joint belongs to (-1: none). Shape: (j,).
    """

    def __init__(self, default_joint_pos: list[float], table: Any, joint_foot: list[int], act_bound: float,
                 min_command: float = 0.1) -> None:
        super().__init__(default_joint_pos, act_bound, min_command)
        self.table = load_table(table, self.size) if isinstance(table, (str, Path)) else np.asarray(table, np.float64)
        self.joint_foot = np.asarray(joint_foot, dtype=np.int64)
        if self.table.ndim != 2 or self.table.shape[1] != self.size or len(self.joint_foot) != self.size:
            raise ConfigError(f"the ETG table has shape {self.table.shape} and joint_foot {len(self.joint_foot)} entries "
                              f"for {self.size} joints; re-export the policy with `stridelab etg export`.")

    @classmethod
    def from_description(cls, desc: dict, base_dir: Path | str | None = None) -> etg_table_residual:
        """Rebuild from ``policy.json``'s ``action`` section; a relative table path is relative to ``base_dir``."""
        params = dict(desc["params"])
        table = Path(params["table"])
        if not table.is_absolute() and base_dir is not None:
            table = Path(base_dir) / table
        params["table"] = table
        return cls(**params)

    def generator_targets(self, s: RobotState) -> np.ndarray:
        """Table lookup at each joint's foot phase (linear, periodic) [rad]. Shape: (n, j)."""
        phase, active = self._phases(s)
        rows = len(self.table)
        leg = np.maximum(self.joint_foot, 0)
        x = np.mod(phase[:, leg], 1.0) * rows
        i0 = np.floor(x).astype(np.int64) % rows
        frac = x - np.floor(x)
        cols = np.arange(self.size)
        q = self.table[i0, cols] * (1.0 - frac) + self.table[(i0 + 1) % rows, cols] * frac
        q = np.where(self.joint_foot >= 0, q, self.default)
        return np.where(active[:, None], q, self.default)


class etg_target:  # noqa: N801 - a term, named like the other terms
    """The trajectory generator's joint targets minus the default pose [rad], in the policy's joint order.

    It reads the env's ETG action term; the deploy loop binds the rebuilt table term (:meth:`bind_action`).
    """

    def __init__(self, env: Any) -> None:
        self.action = getattr(env, "action_term", None) if env is not None else None
        if env is not None and not hasattr(self.action, "generator_offsets"):
            raise ConfigError("observation term etg_target needs an ETG action term (stridelab.mdp.etg:etg_residual); "
                              "use `stridelab etg TASK`, which sets both.")

    def bind_action(self, action: Any) -> None:
        self.action = action

    def description(self) -> str:
        """The generator's joint targets as the policy observes them."""
        return ("One value per joint, in the order of policy.json's joint_names: the trajectory generator's joint "
                "target minus the joint's default_joint_pos [rad] at this step's foot phases (policy.json's action: "
                "the ETG lookup table read at the phase of each joint's foot, linear and periodic); all zero while "
                "the robot is told to stand (command below the action's min_command).")

    @staticmethod
    def mirror(spec: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Joint offsets mirror like joint angles."""
        return sym.joints(spec, size)

    def __call__(self, s: RobotState) -> np.ndarray:
        if self.action is None:
            raise ConfigError("observation term etg_target is not bound to an ETG action term; build it from an env or "
                              "call bind_action (the deploy loop does).")
        return self.action.generator_offsets(s)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""


def save_table(path: Path, table: np.ndarray) -> Path:
    """Write a lookup table as ``.npy`` atomically."""
    return write_atomic(path, lambda f: np.save(f, np.asarray(table, dtype=np.float64)))


def load_table(path: Path | str, num_joints: int) -> np.ndarray:
    """Read an ETG lookup table (``.npy``, (rows, num_joints) finite float); one-sentence ConfigError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ETG lookup table {str(path)!r} does not exist; export it beside policy.json with "
                          f"`stridelab etg export RUN`.")
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"ETG lookup table {str(path)!r} is corrupt ({str(exc)[:100]}); re-export it with "
                          f"`stridelab etg export RUN`.") from None
    if table.ndim != 2 or table.shape[1] != num_joints or len(table) < 2 or not np.all(np.isfinite(table)):
        raise ConfigError(f"ETG lookup table {str(path)!r} has shape {table.shape}, not (rows, {num_joints}) of finite "
                          f"numbers; re-export it with `stridelab etg export RUN`.")
    return table.astype(np.float64)


def table_error(term: etg_residual, table_term: etg_table_residual, samples: int = 4096, seed: int = 0) -> float:
    """Max |table - generator| joint target [rad] over random foot phases (the configured generator, moving): how
    well an exported lookup table reproduces the generator it was written from."""
    rng = np.random.default_rng(seed)
    j = term.size
    phase = rng.random((samples, term.kin.num_legs))
    s = RobotState(base_quat=np.tile([1.0, 0, 0, 0], (samples, 1)), base_ang_vel=np.zeros((samples, 3)),
                   projected_gravity=np.tile([0.0, 0, -1], (samples, 1)), joint_pos=np.zeros((samples, j)),
                   joint_vel=np.zeros((samples, j)), default_joint_pos=term.default, actions=np.zeros((samples, j)),
                   commands=np.tile([0.5, 0.0, 0.0], (samples, 1)), gait_phase=phase)
    return float(np.abs(term.generator_targets(s) - table_term.generator_targets(s)).max())
