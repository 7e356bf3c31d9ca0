"""The trajectory generator: foot phase -> foot offset, a normalized periodic RBF map with evolvable weights.

ETG-RL (Shao et al. 2022, "Reinforcement Learning with Evolutionary Trajectory Generator: A General
Approach for Quadrupedal Locomotion", IEEE RA-L; code: PaddlePaddle/PaddleRobotics, QuadrupedalRobots/ETGRL)
feeds an oscillator's state to a small RBF network whose output is a foot position (x forward, z up;
y fixed), shared by the legs with per-leg phase offsets, and evolves the network with ES. Here:

- the phase is the task's gait clock (:class:`stridelab.mdp.commands.gait_clock`): one phase per foot
  in [0, 1), the feet offset by the gait (:data:`GAITS`); stance while the foot phase is below ``duty``;
- ``H`` radial basis functions on the circle, centred at ``c_h = h / H``, each
  ``k_h(phi) = exp(kappa (cos 2 pi (phi - c_h) - 1))`` with ``kappa = 1 / (2 pi width)^2`` (a von Mises
  bump of standard deviation ``width`` cycles), normalized to sum to 1;
- the foot offset (dx forward, dz up) [m] from the default foot position is ``sum_h k_h(phi) W_h``:
  ``W`` (H, 2) are the evolvable parameters, flattened as (dx_0, dz_0, dx_1, dz_1, ...). Normalized,
  ``W_h`` is close to the offset at phase ``c_h``, so an ES step size is in metres.

The starting generator (``--etg-path none``) is the least-squares fit of :func:`prior_trajectory`, a
step of ``step_length`` with ``foot_height`` of clearance, pressing ``penetration`` into the ground in
stance, as ETG-RL starts from hand-placed points (its figures in ``train.py``: step length 0.05 m,
penetration 0.01 m, foot height 0.08 m as ``Opt_with_points``'s default and 0.1 m as the script's
argument, period 0.5 s = our 2 Hz clock).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from stridelab.errors import ConfigError
from stridelab.files import write_atomic

log = logging.getLogger(__name__)

FORMAT = "stridelab-etg-generator/1"
#: per-foot clock offsets for the feet in the order FL, FR, RL, RR (both built-in quadruped specs)
GAITS: dict[str, tuple[float, float, float, float]] = {
    "trot": (0.0, 0.5, 0.5, 0.0),   # diagonal pairs together
    "pace": (0.0, 0.5, 0.0, 0.5),   # same-side pairs together
    "bound": (0.0, 0.0, 0.5, 0.5),  # front pair, then rear pair
}


def rbf_features(phase: np.ndarray, num_rbf: int, width: float) -> np.ndarray:
    """Normalized periodic RBF activations of ``phase`` [cycles]. Shape: (...) -> (..., num_rbf); rows sum to 1."""
    centres = np.arange(num_rbf) / num_rbf
    kappa = 1.0 / (2.0 * np.pi * width) ** 2
    act = np.exp(kappa * (np.cos(2.0 * np.pi * (np.asarray(phase)[..., None] - centres)) - 1.0))
    return act / act.sum(axis=-1, keepdims=True)


def foot_offsets(phase: np.ndarray, weights: np.ndarray, width: float) -> np.ndarray:
    """Foot offsets (dx, dz) [m] at each foot's phase.

    Args:
        phase: foot phases [cycles]. Shape: (n, f).
        weights: one generator for all envs (H, 2), or one per env (n, H, 2).
    Returns:
        Shape: (n, f, 2).
    """
    w = np.asarray(weights, dtype=np.float64)
    k = rbf_features(phase, w.shape[-2], width)
    if w.ndim == 2:
        return k @ w
    return np.einsum("nfh,nhc->nfc", k, w)


def prior_trajectory(phase: np.ndarray, step_length: float, foot_height: float, duty: float = 0.5,
                     penetration: float = 0.01) -> np.ndarray:
    """A hand-made stepping cycle: (dx, dz) [m] at ``phase`` [cycles]. Shape: (...) -> (..., 2).

    Stance (phase < duty): the foot slides back from +L/2 to -L/2, ``penetration`` below the default
    height. Swing: it comes forward along a half cosine while rising by ``foot_height`` on a half sine.
    """
    phase = np.mod(np.asarray(phase, dtype=np.float64), 1.0)
    stance = phase < duty
    s_st = phase / duty
    s_sw = (phase - duty) / (1.0 - duty)
    dx = np.where(stance, step_length * (0.5 - s_st), step_length * (-0.5 + 0.5 * (1.0 - np.cos(np.pi * s_sw))))
    dz = np.where(stance, -penetration, -penetration + (foot_height + penetration) * np.sin(np.pi * s_sw))
    return np.stack([dx, dz], axis=-1)


def fit_weights(num_rbf: int, width: float, target: np.ndarray, phase: np.ndarray, ridge: float = 1e-6) -> np.ndarray:
    """Least-squares weights (ridge-regularized) whose map passes closest to ``target`` (..., 2) at ``phase``.
    Returns the flat vector. Shape: (2 num_rbf,)."""
    k = rbf_features(phase.reshape(-1), num_rbf, width)
    a = k.T @ k + ridge * np.eye(num_rbf)
    w = np.linalg.solve(a, k.T @ target.reshape(-1, 2))
    return w.reshape(-1)


def check_act_bound(act_bound: float) -> float:
    """The residual's bound [rad] (ETG's ``act_bound``), checked: in (0, pi]."""
    if not (isinstance(act_bound, (int, float)) and np.isfinite(act_bound) and 0.0 < act_bound <= np.pi):
        raise ConfigError(f"--act-bound {act_bound} is out of range; give the residual's bound in (0, 3.14] rad, "
                          f"e.g. 0.5.")
    return float(act_bound)


@dataclass(frozen=True)
class GeneratorSettings:
    """Shape of the generator and of its starting trajectory.

    Attributes:
        num_rbf: RBF centres per cycle (the weights are ``2 num_rbf`` numbers).
        width: standard deviation of each RBF [cycles]; ``None``: half a centre spacing, ``0.5 / num_rbf``
            (then each weight stays within a few mm of the offset at its centre; the prior fits to 3 mm).
        step_length, foot_height, penetration: the prior trajectory [m] (:func:`prior_trajectory`).
        duty: stance fraction of a cycle (the gait clock's).
        step_y: every foot's target moved this far towards the body's midline [m] (negative: outwards), not
            evolved: ETG-RL's lateral foot placement for the balance beam, a narrow stance whose feet fit on it.
    """

    num_rbf: int = 12
    width: float | None = None
    step_length: float = 0.05
    foot_height: float = 0.08
    penetration: float = 0.01
    duty: float = 0.5
    step_y: float = 0.0

    def __post_init__(self) -> None:
        if not 3 <= self.num_rbf <= 64:
            raise ConfigError(f"num_rbf = {self.num_rbf} is out of range; use 3 to 64 RBF centres per cycle.")
        if self.width is not None and not 0.0 < self.width <= 0.5:
            raise ConfigError(f"RBF width = {self.width} is out of range; give (0, 0.5] cycles, or leave it unset.")
        if not (abs(self.step_length) <= 0.3 and 0.0 <= self.foot_height <= 0.2 and 0.0 <= self.penetration <= 0.05):
            raise ConfigError(f"prior trajectory step_length {self.step_length} m, foot_height {self.foot_height} m, "
                              f"penetration {self.penetration} m out of range; use |step| <= 0.3, height in [0, 0.2], "
                              f"penetration in [0, 0.05].")
        if not abs(self.step_y) <= 0.2:
            raise ConfigError(f"step_y = {self.step_y} m is out of range; give the feet's shift towards the midline in "
                              f"[-0.2, 0.2] m (e.g. 0.1 for a narrow stance on a beam).")

    @property
    def rbf_width(self) -> float:
        return float(self.width) if self.width is not None else 0.5 / self.num_rbf

    @property
    def num_params(self) -> int:
        return 2 * self.num_rbf

    def prior_weights(self) -> np.ndarray:
        """Weights fitted to the prior trajectory. Shape: (num_params,)."""
        phase = (np.arange(512) + 0.5) / 512
        target = prior_trajectory(phase, self.step_length, self.foot_height, self.duty, self.penetration)
        return fit_weights(self.num_rbf, self.rbf_width, target, phase)


@dataclass(frozen=True)
class GeneratorFile:
    """A generator as saved by ``stridelab etg pretrain`` / ``stridelab etg TASK`` (JSON, ``generator.json``).

    Attributes:
        weights: the flat weights [m]. Shape: (2 num_rbf,).
        settings: the generator's shape and prior.
        gait: the gait name; frequency: the clock's frequency [Hz].
        robot, task: what it was evolved on; info: fitness history and the like, for the record.
    """

    weights: tuple[float, ...]
    settings: GeneratorSettings
    gait: str = "trot"
    frequency: float = 2.0
    robot: str = ""
    task: str = ""
    info: dict = field(default_factory=dict)


def save_generator(path: Path | str, gen: GeneratorFile) -> Path:
    """Write ``gen`` as JSON atomically (temporary file, fsync, rename)."""
    data = {"format": FORMAT, "weights": [float(w) for w in gen.weights], "settings": asdict(gen.settings),
            "gait": gen.gait, "frequency": float(gen.frequency), "robot": gen.robot, "task": gen.task,
            "info": gen.info, "layout": "weights[2 h] = dx, weights[2 h + 1] = dz [m] of RBF centre h at phase h / "
                                        "num_rbf; see stridelab.mdp.etg_generator"}
    return write_atomic(path, lambda f: f.write(json.dumps(data, indent=2)), binary=False)


def load_generator(path: Path | str) -> GeneratorFile:
    """Read a generator file (or a run directory holding ``generator.json``); one-sentence ConfigError otherwise."""
    path = Path(path)
    if path.is_dir():
        path = path / "generator.json"
    hint = "give a generator.json written by `stridelab etg pretrain` or `stridelab etg TASK`, or --etg-path none"
    if not path.is_file():
        raise ConfigError(f"generator file {str(path)!r} does not exist; {hint}.")
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format') if isinstance(data, dict) else type(data).__name__!r}, "
                             f"not {FORMAT!r}")
        settings = GeneratorSettings(**data["settings"])
        weights = tuple(float(w) for w in data["weights"])
        if len(weights) != settings.num_params or not np.all(np.isfinite(weights)):
            raise ValueError(f"{len(weights)} weights for {settings.num_rbf} RBF centres (need {settings.num_params} "
                             f"finite numbers)")
        gait = str(data.get("gait", "trot"))
        if gait not in GAITS:
            raise ValueError(f"unknown gait {gait!r}")
        return GeneratorFile(weights, settings, gait, float(data.get("frequency", 2.0)), str(data.get("robot", "")),
                             str(data.get("task", "")), dict(data.get("info", {})))
    except ConfigError as err:
        raise ConfigError(f"generator file {str(path)!r} is invalid ({err}); {hint}.") from None
    except (ValueError, KeyError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"generator file {str(path)!r} is corrupt ({reason}); {hint}.") from None
