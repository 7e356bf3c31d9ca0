"""Evolution strategies from maintained libraries, behind one interface (maximizing fitness).

=============  ===========================================================================================
``--alg``      implementation
=============  ===========================================================================================
``cma``        CMA-ES, ``cma.CMAEvolutionStrategy`` (Hansen's ``cma`` package)
``openai-es``  OpenAI-ES (Salimans et al. 2017): EvoTorch ``PGPE`` with a fixed step size (``stdev_learning_rate``
               0), antithetic sampling, centered ranks and Adam, which is OpenAI-ES's update
``pgpe``       PGPE (Sehnke et al. 2010; ETG-RL's ``PEPG``): EvoTorch ``PGPE`` with ClipUp, adapting the step sizes
``snes``       separable NES (Schaul et al. 2011): EvoTorch ``SNES``
``cem``        cross-entropy method: EvoTorch ``CEM`` (elite selection, the nearest to ETG-RL's default SimpleGA)
=============  ===========================================================================================

One generation is :meth:`EvolutionStrategy.generation` ``(fitness) -> (candidates, fitness values)``: the
strategy samples ``popsize`` candidates (P, D), calls ``fitness(candidates) -> (P,)`` once for the whole
batch (a batch of envs evaluates them together) and updates itself. EvoTorch's searchers evaluate a
``Problem`` inside their ``step()``; the problem here hands the batch to that callable. Every strategy is
seeded, so the same seed gives the same candidates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from stridelab.errors import ConfigError

log = logging.getLogger(__name__)


Fitness = Callable[[np.ndarray], np.ndarray]


class EvolutionStrategy(Protocol):
    """``generation(fitness)`` samples, evaluates and updates once; ``mean`` (D,) and ``step_size`` describe it."""

    popsize: int

    def generation(self, fitness: Fitness) -> tuple[np.ndarray, np.ndarray]:
        """One generation: the candidates (P, D) and their fitness (P,), higher is better."""

    @property
    def mean(self) -> np.ndarray: ...

    @property
    def step_size(self) -> float: ...


class _CMA:
    def __init__(self, x0: np.ndarray, sigma: float, popsize: int, seed: int) -> None:
        import cma

        self.es = cma.CMAEvolutionStrategy(np.asarray(x0, dtype=np.float64), sigma,
                                           {"popsize": popsize, "seed": seed + 1, "verbose": -9})
        self.popsize = popsize

    def generation(self, fitness: Fitness) -> tuple[np.ndarray, np.ndarray]:
        candidates = np.asarray(self.es.ask(), dtype=np.float64)
        values = np.asarray(fitness(candidates), dtype=np.float64)
        self.es.tell(list(candidates), list(-values))  # cma minimizes
        return candidates, values

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self.es.mean, dtype=np.float64)

    @property
    def step_size(self) -> float:
        return float(self.es.sigma)


class _EvoTorchES:
    """An EvoTorch searcher whose problem evaluates each population with the fitness of the current generation."""

    def __init__(self, alg: str, x0: np.ndarray, sigma: float, popsize: int, seed: int) -> None:
        try:
            import torch
            from evotorch import Problem
            from evotorch.algorithms import CEM, PGPE, SNES
        except ImportError as exc:
            raise ConfigError(f"--alg {alg} needs EvoTorch ({exc}); install it with pip install 'evotorch>=0.5,<1', "
                              f"or use --alg cma.") from None
        logging.getLogger("evotorch").setLevel(logging.WARNING)
        x0 = np.asarray(x0, dtype=np.float64)
        outer = self

        class _BatchProblem(Problem):
            def __init__(self) -> None:
                super().__init__("max", solution_length=len(x0), initial_bounds=(-1.0, 1.0), dtype=torch.float64,
                                 seed=seed)

            def _evaluate_batch(self, batch: Any) -> None:
                values = batch.values.detach().cpu().numpy().copy()
                fitness = np.asarray(outer._fitness(values), dtype=np.float64)
                outer._last = (values, fitness)
                batch.set_evals(torch.as_tensor(fitness, dtype=torch.float64))

        self.problem = _BatchProblem()
        center = torch.as_tensor(x0)
        if alg == "openai-es":
            self.searcher = PGPE(self.problem, popsize=popsize, center_learning_rate=0.5 * sigma, stdev_learning_rate=0.0,
                                 stdev_init=sigma, optimizer="adam", ranking_method="centered", center_init=center,
                                 symmetric=True)
        elif alg == "pgpe":
            self.searcher = PGPE(self.problem, popsize=popsize, center_learning_rate=0.5 * sigma, stdev_learning_rate=0.1,
                                 stdev_init=sigma, optimizer="clipup", optimizer_config={"max_speed": 2.0 * sigma},
                                 ranking_method="centered", center_init=center)
        elif alg == "snes":
            self.searcher = SNES(self.problem, stdev_init=sigma, popsize=popsize, center_init=center)
        elif alg == "cem":
            self.searcher = CEM(self.problem, popsize=popsize, parenthood_ratio=0.25, stdev_init=sigma, center_init=center,
                                stdev_max_change=0.2)
        else:
            raise ConfigError(f"--alg {alg!r} is unknown; use cma, openai-es, pgpe, snes or cem.")
        self.popsize = popsize
        self._fitness: Fitness = lambda values: np.zeros(len(values))
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def generation(self, fitness: Fitness) -> tuple[np.ndarray, np.ndarray]:
        self._fitness, self._last = fitness, None
        self.searcher.step()
        if self._last is None:  # pragma: no cover - EvoTorch stepped without evaluating
            raise RuntimeError("the EvoTorch searcher did not evaluate a population")
        return self._last

    @property
    def mean(self) -> np.ndarray:
        center = self.searcher.status.get("center")
        return np.asarray(center.cpu() if hasattr(center, "cpu") else center, dtype=np.float64)

    @property
    def step_size(self) -> float:
        stdev = self.searcher.status.get("stdev")
        return float(np.mean(np.asarray(stdev.cpu()))) if stdev is not None else float("nan")


def make_es(alg: str, x0: np.ndarray, sigma: float, popsize: int, seed: int = 0) -> EvolutionStrategy:
    """An evolution strategy around ``x0`` (Shape: (D,)) with initial step ``sigma`` and ``popsize`` candidates."""
    if alg == "cma":
        return _CMA(x0, sigma, popsize, seed)
    return _EvoTorchES(alg, x0, sigma, popsize, seed)
