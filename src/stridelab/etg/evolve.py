"""ES phases: generations of an evolution strategy over the generator, then a selection against the incumbent.

The *incumbent* is the generator the policy trains with. An ES phase starts a fresh strategy around it
(ETG-RL resets its solver to its best parameters after every ES phase: the residual policy changed in
between) and runs its generations; each evaluates the candidates and, for reference, the incumbent in
one batch (the population evaluator :class:`~stridelab.distributed.population.PopulationEvaluator` with ETG's
problem :class:`~stridelab.etg.population.ETGProblem`: same commands and tiles for every member).

At the end of the phase the incumbent, the strategy's mean and the phase's best candidate meet in one
more batch, a third of its envs each, and the best of the three becomes the incumbent. ETG-RL takes the
best candidate whenever its episode return beats the incumbent's; with a few envs per candidate that
return is noisy, and the maximum over a population is biased upwards (measured here: with 2 envs of
1.5 s per candidate, the "best" candidate was often worse than the incumbent on a re-evaluation), so
the choice is made on the larger, unbiased comparison.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from stridelab.config import EnvConfig
from stridelab.distributed.options import RayOptions
from stridelab.distributed.population import PopulationEvaluator
from stridelab.etg.config import ETGConfig
from stridelab.etg.es import make_es
from stridelab.etg.population import ETGProblem

log = logging.getLogger(__name__)


@dataclass
class Generation:
    """One ES generation. Fitness is the mean episode return (the task's reward sum)."""

    generation: int
    phase: int
    best: float
    mean: float
    incumbent: float
    step_size: float
    env_steps: int
    seconds: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Selection:
    """The end of an ES phase: the incumbent, the strategy's mean and the phase's best candidate, in one batch.

    Attributes:
        fitness: ``{"incumbent": f, "mean": f, "best": f}``, each over a third of the batch's envs.
        chosen: which one the policy trains with next (``"incumbent"`` keeps the generator).
    """

    phase: int
    after_generation: int
    fitness: dict
    chosen: str
    env_steps: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Evolution:
    """The incumbent generator and the ES history of a run.

    Attributes:
        incumbent: the generator weights the policy trains with [m]. Shape: (D,).
        initial: the weights the run started from. Shape: (D,).
        history: every generation so far.
        selections: the end of every ES phase.
    """

    incumbent: np.ndarray
    initial: np.ndarray
    history: list[Generation] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)

    @property
    def env_steps(self) -> int:
        return int(sum(g.env_steps for g in self.history) + sum(s.env_steps for s in self.selections))


class GeneratorES:
    """Runs ES phases for one ETG task (the evaluator's env is built once: ``popsize + 1`` members).

    Args:
        env_cfg: the ETG task (:func:`stridelab.etg.config.etg_env_cfg`).
        cfg: the ETG settings (algorithm, population, sigma, episode length, ...).
        weights: the starting generator. Shape: (D,).
        seed: seed of the evaluator and of the strategies.
        num_threads: physics threads of the evaluator (``None``: the task's).
        ray: evaluate the populations on Ray workers; ``None`` or not distributed: in-process. Call :meth:`close`
            to stop the workers.
    """

    def __init__(self, env_cfg: EnvConfig, cfg: ETGConfig, weights: np.ndarray, seed: int = 0,
                 num_threads: int | None = None, ray: RayOptions | None = None) -> None:
        self.cfg = cfg
        self.seed = seed
        self.env_cfg = env_cfg
        self.evaluator = PopulationEvaluator(ETGProblem(cfg.episode_s), env_cfg, cfg.popsize + 1, cfg.envs_per_member,
                                             seed, ray=ray, num_threads=num_threads)
        w = np.asarray(weights, dtype=np.float64)
        self.state = Evolution(incumbent=w.copy(), initial=w.copy())
        self._phases = 0
        self._term: Any = None

    def phase(self, policy: Callable | None, generations: int, should_stop: Callable[[], bool] = lambda: False,
              on_generation: Callable[[Generation], None] | None = None) -> list[Generation]:
        """Run up to ``generations`` generations with the residual ``policy`` (``None``: zero residual, the
        generator alone; ``should_stop()`` is asked before each), then the selection. Returns the generations."""
        cfg, state = self.cfg, self.state
        phase = self._phases
        self._phases += 1
        es = make_es(cfg.alg, state.incumbent, cfg.sigma, cfg.popsize, self.seed + 1000 * phase)
        done: list[Generation] = []
        best_x, best_f = None, -np.inf
        for _ in range(generations):
            if should_stop():
                break
            t0 = time.monotonic()
            measured: dict = {}

            def fitness(candidates: np.ndarray) -> np.ndarray:
                batch = np.vstack([candidates, state.incumbent[None]])
                measured["result"] = self.evaluator(batch, policy)
                return measured["result"].fitness[:-1]

            candidates, values = es.generation(fitness)
            result = measured["result"]
            i = int(np.argmax(values))
            if values[i] > best_f:
                best_x, best_f = np.asarray(candidates[i], dtype=np.float64).copy(), float(values[i])
            record = Generation(generation=len(state.history), phase=phase, best=float(values[i]),
                                mean=float(np.mean(values)), incumbent=float(result.fitness[-1]),
                                step_size=float(es.step_size), env_steps=int(result.env_steps),
                                seconds=time.monotonic() - t0)
            state.history.append(record)
            done.append(record)
            log.info("ES generation %d (%s): best %.3f, mean %.3f, incumbent %.3f, %.1f s", record.generation, cfg.alg,
                     record.best, record.mean, record.incumbent, record.seconds)
            if on_generation is not None:
                on_generation(record)
        if done:
            self._select(policy, phase, es.mean, best_x)
        return done

    def _select(self, policy: Callable | None, phase: int, mean: np.ndarray, best: np.ndarray) -> Selection:
        """The incumbent, the mean and the best candidate in one batch; the fittest becomes the incumbent."""
        options = {"incumbent": self.state.incumbent, "mean": np.asarray(mean, dtype=np.float64), "best": best}
        names = list(options)
        rows = self.evaluator.members
        batch = np.stack([options[names[i % 3]] for i in range(rows)])
        result = self.evaluator(batch, policy)
        fitness = {name: float(result.values[k::3].mean()) for k, name in enumerate(names)}
        chosen = max(names, key=lambda name: fitness[name])
        self.state.incumbent = options[chosen].copy()
        sel = Selection(phase=phase, after_generation=len(self.state.history) - 1, fitness=fitness, chosen=chosen,
                        env_steps=int(result.env_steps))
        self.state.selections.append(sel)
        log.info("ES phase %d selection: incumbent %.3f, mean %.3f, best candidate %.3f -> %s", phase,
                 fitness["incumbent"], fitness["mean"], fitness["best"], chosen)
        return sel

    def compare(self, policy: Callable | None, first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
        """Fitness of two generators in one batch (rows alternate between them, same commands and tiles):
        the before/after figure of a run, comparable where fitness from different generations is not."""
        rows = self.evaluator.members
        batch = np.stack([first if i % 2 == 0 else second for i in range(rows)])
        returns = self.evaluator(batch, policy).values
        if np.array_equal(first, second):  # one generator: one figure (the halves differ only by noise)
            return float(returns.mean()), float(returns.mean())
        return float(returns[0::2].mean()), float(returns[1::2].mean())

    def generator_term(self) -> Any:
        """The task's generator action term in a one-env copy of the task, built on first use (its kinematics and
        RBF width for the plots; the evaluator's envs may live on Ray workers)."""
        if self._term is None:
            from stridelab.envs import make_env

            self._term = make_env(replace(self.env_cfg, num_envs=1, num_threads=1)).action_term
        return self._term

    def close(self) -> None:
        """Release the evaluator (stops its Ray workers, if any)."""
        self.evaluator.close()
