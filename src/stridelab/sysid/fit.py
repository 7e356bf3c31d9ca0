"""The two optimizers of dynamics identification, both on the batched replay (:mod:`stridelab.sysid.replay`).

- :func:`fit_least_squares`: bounded nonlinear least squares on the replay's residuals with MuJoCo's
  ``mujoco.minimize.least_squares`` (Levenberg-Marquardt with box bounds), with a central-difference Jacobian
  whose ``2 D`` points the replay simulates in one batch. Its step is 30 % of each parameter's scale, not
  MuJoCo's default of 1.5e-8: what is left of the cost's ruggedness at small scales (stick-slip of joint
  friction, a contact that begins a substep earlier) makes a tiny step's Jacobian read steps instead of the
  slope (docs/sysid.md has the measured landscape). The latency, a whole number of
  substeps, is found by evaluating every candidate delay in one batch at the current values, alternating with
  the least-squares fit of the others until the delay stays. Uncertainty: the standard deviations of the
  Gauss-Newton covariance ``s^2 (J^T J)^-1`` at the solution, ``s^2`` the residual variance.
- :func:`fit_es`: CMA-ES (the ``cma`` package, as ETG uses) over every parameter, the latency rounded, with the
  candidates of a generation evaluated by the population evaluator (:mod:`stridelab.distributed.population`,
  in-process or on Ray workers: ``ray``) on the same replay.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from stridelab.sysid.params import PARAMS, bounds_of

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What an identification found.

    Attributes:
        names: the fitted parameters, in order.
        values: their values. Shape: (D,).
        std: their standard deviations where the method gives one (least squares; NaN otherwise). Shape: (D,).
        cost_before, cost_after: half the sum of squared scaled residuals at the start and at the solution.
        trace: per iteration (least squares) or generation (ES): ``{"cost", "values", "seconds"}``.
        seconds: wall-clock time [s].
        evaluations: candidate evaluations (each one replay of every window).
        method: ``least_squares`` or ``es``.
    """

    names: tuple[str, ...]
    values: np.ndarray
    std: np.ndarray
    cost_before: float
    cost_after: float
    trace: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    evaluations: int = 0
    method: str = ""

    def as_dict(self) -> dict:
        return {n: {"value": float(v), "std": None if not np.isfinite(s) else float(s), "unit": PARAMS[n].unit}
                for n, v, s in zip(self.names, self.values, self.std)}


def _split(names: tuple[str, ...]) -> tuple[list[int], list[int]]:
    cont = [i for i, n in enumerate(names) if not PARAMS[n].integer]
    ints = [i for i, n in enumerate(names) if PARAMS[n].integer]
    return cont, ints


def _residuals(replay, rows: np.ndarray) -> np.ndarray:
    """The residuals of every row of ``rows`` (Shape: (k, D)), in batches of the replay's capacity. Shape: (k, M)."""
    return np.concatenate([replay.residual(rows[i:i + replay.capacity]) for i in range(0, len(rows), replay.capacity)])


def _central_jacobian(replay, x: np.ndarray, cont: list[int], step: float) -> np.ndarray:
    """d residual / d x[cont] by central differences of ``step`` x each parameter's scale (inside the bounds),
    the ``2 n`` points in one batch. Shape: (M, n)."""
    low, high = bounds_of(replay.names)
    h = step * np.array([PARAMS[replay.names[i]].scale for i in cont])
    up, down = np.minimum(x[cont] + h, high[cont]), np.maximum(x[cont] - h, low[cont])
    rows = np.repeat(x[None], 2 * len(cont), axis=0)
    for k, i in enumerate(cont):
        rows[k, i], rows[len(cont) + k, i] = up[k], down[k]
    values = _residuals(replay, rows)
    return ((values[:len(cont)] - values[len(cont):]) / (up - down)[:, None]).T


def fit_least_squares(replay, x0: np.ndarray, max_iter: int = 30, rounds: int = 3, step: float = 0.3) -> FitResult:
    """Least squares from ``x0`` (Shape: (D,)); see the module docstring. ``step``: the Jacobian's
    central-difference step, as a share of each parameter's scale (module docstring: why not MuJoCo's own finite
    differences); the replay's capacity should hold ``2 D`` (the Jacobian) and the latency candidates."""
    from mujoco import minimize

    t0 = time.monotonic()
    names = replay.names
    cont, ints = _split(names)
    low, high = bounds_of(names)
    x = np.clip(np.asarray(x0, dtype=np.float64), low, high)
    evaluations = 0
    trace: list[dict] = []

    def with_values(z: np.ndarray) -> np.ndarray:  # z: (n, k) -> candidates (k, D), the others at x
        rows = np.repeat(x[None], z.shape[1], axis=0)
        rows[:, cont] = z.T
        return rows

    def residual(z: np.ndarray) -> np.ndarray:  # (n, k) -> (M, k)
        nonlocal evaluations
        evaluations += z.shape[1]
        return _residuals(replay, with_values(z)).T

    def jacobian(z: np.ndarray, r: np.ndarray) -> np.ndarray:
        nonlocal evaluations
        evaluations += 2 * len(cont)
        return _central_jacobian(replay, with_values(z.reshape(-1, 1))[0], cont, step)

    def record(iterations) -> None:
        last = iterations[-1]
        trace.append({"cost": float(last.objective), "values": with_values(last.candidate.reshape(-1, 1))[0].tolist(),
                      "seconds": round(time.monotonic() - t0, 2)})

    cost_before = float(replay.cost(x[None])[0])
    for _ in range(rounds):
        previous = x.copy()
        for i in ints:  # every delay at once, the other values fixed
            rows = np.repeat(x[None], int(high[i] - low[i]) + 1, axis=0)
            rows[:, i] = np.arange(int(low[i]), int(high[i]) + 1)
            evaluations += len(rows)
            x[i] = rows[int(np.argmin(0.5 * (_residuals(replay, rows) ** 2).sum(axis=1))), i]
        if cont:
            z, _ = minimize.least_squares(x[cont], residual, bounds=[low[cont], high[cont]], max_iter=max_iter,
                                          verbose=0, x_scale=np.array([PARAMS[names[i]].scale for i in cont]),
                                          iter_callback=record, jacobian=jacobian)
            x[cont] = z.ravel()
        if np.array_equal(previous[ints], x[ints]) and np.allclose(previous[cont], x[cont], rtol=1e-6, atol=1e-9):
            break
    final = replay.residual(x[None])[0]
    std = np.full(len(names), np.nan)
    if cont:
        std[cont] = _std(_central_jacobian(replay, x, cont, step), final)
        evaluations += 2 * len(cont) + 1
    return FitResult(names, x, std, cost_before, float(0.5 * final @ final), trace, time.monotonic() - t0,
                     evaluations + 1, "least_squares")


def _std(jac: np.ndarray, r0: np.ndarray) -> np.ndarray:
    """Standard deviations from the Gauss-Newton covariance ``s^2 (J^T J)^-1`` (``jac`` Shape: (M, n)), ``s^2``
    the residual variance."""
    dof = max(len(r0) - jac.shape[1], 1)
    s2 = float(r0 @ r0) / dof
    try:
        cov = s2 * np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        return np.full(jac.shape[1], np.inf)
    return np.sqrt(np.clip(np.diag(cov), 0.0, None))


@dataclass
class ReplayEnv:
    """What the population evaluator needs of an env, for sysid: the robot (on the log's stand, if any) and a
    batched simulator of ``num_envs`` envs at the log's control rate with converged solves."""

    robot: object
    sim: object
    num_envs: int
    rng: np.random.Generator
    common_step_counter: int = 0


class SysidProblem:
    """Dynamics identification as a population problem (:class:`stridelab.distributed.population.PopulationProblem`):
    member ``i`` is a candidate parameter vector, its K envs are the log's K windows, its value per env minus
    half the window's sum of squared scaled residuals. Picklable (Ray workers get a copy with the log)."""

    def __init__(self, log, spec, names: tuple[str, ...], starts: np.ndarray, length: int, skip: int = 2) -> None:
        self.log, self.spec, self.names = log, spec, tuple(names)
        self.starts, self.length, self.skip = np.asarray(starts), length, skip
        self.replay = None
        self.params: np.ndarray | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "replay": None, "params": None}

    def prepare_cfg(self, env_cfg):
        return env_cfg

    def make_env(self, cfg) -> ReplayEnv:
        """The robot (on the log's stand) and a simulator of ``cfg.num_envs`` envs; ``cfg.num_threads`` threads."""
        from stridelab.robots import load_robot
        from stridelab.sim.simulator import BatchSimulator

        robot = load_robot(self.spec, stand_height=self.log.stand_height)
        decimation = int(round(self.log.dt / float(robot.model.opt.timestep)))
        sim = BatchSimulator(robot, cfg.num_envs, cfg.num_threads, decimation)
        return ReplayEnv(robot, sim, cfg.num_envs, np.random.default_rng(cfg.seed))

    def prepare_env(self, env, envs_per_member: int) -> None:
        from stridelab.sysid.replay import Replay

        if envs_per_member != len(self.starts):
            raise ValueError(f"sysid evaluates one env per window: envs_per_member {envs_per_member} != "
                             f"{len(self.starts)} windows")
        self.replay = Replay(env.robot, self.log, self.names, self.starts, self.length,
                             capacity=env.num_envs // envs_per_member, skip=self.skip, sim=env.sim)

    def write_members(self, env, params: np.ndarray, envs_per_member: int) -> None:
        self.params = np.asarray(params, dtype=np.float64)  # written per env by the replay itself

    def rollout(self, env, envs_per_member: int, context) -> np.ndarray:
        before = self.replay.steps
        r = self.replay.residual(self.params, per_window=True)
        env.common_step_counter += (self.replay.steps - before) // env.num_envs
        return -0.5 * (r ** 2).sum(axis=2).reshape(-1)


def fit_es(log, spec, names: tuple[str, ...], starts: np.ndarray, length: int, x0: np.ndarray,
           generations: int = 60, popsize: int = 16, sigma: float = 0.2, seed: int = 0, skip: int = 2, ray=None,
           num_threads: int | None = None) -> FitResult:
    """CMA-ES over every parameter (module docstring), in the box normalized to [0, 1], from ``x0``."""
    import cma

    from stridelab.config import EnvConfig
    from stridelab.distributed.population import PopulationEvaluator

    t0 = time.monotonic()
    low, high = bounds_of(names)
    span = high - low
    env_cfg = EnvConfig(task="sysid", robot=spec.name)  # only its num_envs, seed and num_threads are read
    problem = SysidProblem(log, spec, names, starts, length, skip)
    members = popsize + 1  # the population and the incumbent (the mean), scored in the same call
    evaluator = PopulationEvaluator(problem, env_cfg, members, len(starts), seed, ray=ray, num_threads=num_threads)
    try:
        es = cma.CMAEvolutionStrategy(((np.clip(x0, low, high) - low) / span).tolist(), sigma,
                                      {"bounds": [0.0, 1.0], "popsize": popsize, "seed": seed + 1, "verbose": -9})
        trace: list[dict] = []
        best_x = np.clip(np.asarray(x0, dtype=np.float64), low, high)
        best_cost = cost_before = float(-evaluator(np.repeat(best_x[None], members, 0)).fitness[0] * len(starts))
        for _ in range(generations):
            asked = np.asarray(es.ask())
            rows = np.concatenate([low + span * asked, (low + span * np.clip(es.mean, 0, 1))[None]])
            fitness = evaluator(rows).fitness * len(starts)  # minus the cost, summed over windows
            es.tell(asked.tolist(), (-fitness[:popsize]).tolist())
            i = int(np.argmax(fitness))
            if -fitness[i] < best_cost:
                best_cost, best_x = float(-fitness[i]), rows[i].copy()
            trace.append({"cost": best_cost, "values": best_x.tolist(), "seconds": round(time.monotonic() - t0, 2)})
            if es.stop().get("tolfun") or es.stop().get("tolx"):
                break
    finally:
        evaluator.close()
    cont, ints = _split(names)
    best_x[ints] = np.rint(best_x[ints])
    return FitResult(tuple(names), best_x, np.full(len(names), np.nan), cost_before, best_cost, trace,
                     time.monotonic() - t0, (len(trace) + 1) * members, "es")
