"""ETG's dual training (ES phases and PPO phases, alternating) and ES-only pretraining of the generator.

Dual training (``stridelab etg TASK``): the task becomes an ETG task (:func:`~stridelab.etg.config.etg_env_cfg`),
then, until the budget is spent or the policy walks:

1. ES phase: ``es_generations`` generations over the generator with the current residual policy
   (deterministic), the incumbent evaluated in every batch (:mod:`stridelab.etg.evolve`);
2. the incumbent becomes the training env's generator and the run's config (so the next checkpoint
   holds it);
3. RL phase: ``rl_iterations`` PPO iterations of the stridelab :class:`~stridelab.learn.trainer.Trainer`
   (rsl-rl-lib's loop, checkpoints, walk checks) against that generator.

The ES rollouts are not given to PPO. ETG-RL stores them in SAC's replay buffer (off-policy learning
can reuse them); PPO is on-policy: its update needs the stochastic policy's log-probabilities and
advantages from the MDP it is trained in, and ES rollouts are deterministic and ran other generators
(other MDPs from the residual's point of view). Their env steps count in the run's budget
(``env_steps``, ``train_seconds``) and are reported apart (docs/etg.md).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from stridelab.config import EnvConfig, override
from stridelab.distributed.options import RayOptions
from stridelab.etg.config import ETGConfig, etg_env_cfg, with_weights
from stridelab.etg.evolve import GeneratorES
from stridelab.files import write_atomic
from stridelab.mdp.etg_generator import GeneratorFile, GeneratorSettings, load_generator, save_generator

log = logging.getLogger(__name__)


@dataclass
class ETGResult:
    """What an ETG run produced.

    Attributes:
        run_dir: the run directory (checkpoints/, generator.json, etg_log.json, plots/).
        stopped_because: ``max_iterations``, ``max_minutes``, ``walks``, ``interrupted`` or ``generations``.
        iterations: PPO iterations; generations: ES generations.
        env_steps: all env transitions (PPO + ES); es_env_steps: the ES share.
        seconds: wall-clock time of training [s] (ES, PPO and walk checks).
        checkpoint: the last checkpoint (``None`` for pretraining); generator: generator.json.
        walk_checks: the walk checks run.
    """

    run_dir: Path
    stopped_because: str
    iterations: int
    generations: int
    env_steps: int
    es_env_steps: int
    seconds: float
    checkpoint: Path | None
    generator: Path
    walk_checks: list


def starting_generator(cfg: ETGConfig, etg_path: str | None) -> tuple[ETGConfig, np.ndarray, str]:
    """The generator to start from: the file's (its shape replaces ``cfg.generator``) or the prior's fit."""
    if etg_path is None or str(etg_path).lower() == "none":
        return cfg, cfg.generator.prior_weights(), "prior"
    gen = load_generator(etg_path)
    if gen.settings != cfg.generator:
        log.info("using the generator shape of %s (%d RBF centres)", etg_path, gen.settings.num_rbf)
    return replace(cfg, generator=gen.settings), np.asarray(gen.weights), str(etg_path)


class _RunFiles:
    """generator.json, etg_log.json, the ES TensorBoard scalars and the plots of one run directory."""

    def __init__(self, run_dir: Path, cfg: ETGConfig, env_cfg: EnvConfig, source: str) -> None:
        self.run_dir = Path(run_dir)
        self.cfg, self.env_cfg, self.source = cfg, env_cfg, source
        self.writer: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.run_dir / "etg"), flush_secs=10)
        except ImportError:  # pragma: no cover - tensorboard is a dependency
            self.writer = None

    def generation(self, record) -> None:
        if self.writer is not None:
            for key in ("best", "mean", "incumbent", "step_size"):
                self.writer.add_scalar(f"ES/{key}", getattr(record, key), record.generation)

    def save(self, es: GeneratorES, extra: dict) -> Path:
        state = es.state
        history = [g.as_dict() for g in state.history]
        selections = [s.as_dict() for s in state.selections]
        info = {"started_from": self.source, "generations": len(history), "es_env_steps": state.env_steps,
                "alg": self.cfg.alg, **extra}
        gen = GeneratorFile(tuple(float(w) for w in state.incumbent), self.cfg.generator, self.cfg.gait,
                            self.cfg.frequency, self.env_cfg.robot, self.env_cfg.task, info)
        path = save_generator(self.run_dir / "generator.json", gen)
        log_data = {"etg": _plain(asdict(self.cfg)), "initial_weights": state.initial.tolist(),
                    "weights": state.incumbent.tolist(), "history": history, "selections": selections, **info}
        write_atomic(self.run_dir / "etg_log.json", lambda f: f.write(json.dumps(log_data, indent=2)), binary=False)
        return path

    def plots(self, es: GeneratorES) -> None:
        from stridelab.etg.plots import plot_fitness, plot_foot_trajectories

        term = es.generator_term()
        task = self.env_cfg.task
        plot_fitness([g.as_dict() for g in es.state.history], self.run_dir / "plots" / "etg_fitness.png",
                     [s.as_dict() for s in es.state.selections],
                     title=f"{task}: ETG fitness per generation ({self.cfg.alg})")
        plot_foot_trajectories(es.state.initial, es.state.incumbent, term.width, term.kin,
                               self.run_dir / "plots" / "etg_feet.png", duty=self.cfg.generator.duty,
                               title=f"{task}: generator before and after evolution")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def pretrain_generator(task: str, cfg: ETGConfig, run_dir: Path, generations: int, seed: int = 0,
                       etg_path: str | None = None, max_minutes: float = 0.0,
                       env_overrides: dict | None = None, ray: RayOptions | None = None) -> ETGResult:
    """Evolve the generator alone (zero residual) for ``generations`` generations (one ES phase); ``ray``:
    evaluate the populations on Ray workers."""
    from stridelab.tasks import make_env_cfg

    cfg, weights, source = starting_generator(cfg, etg_path)
    env_cfg = etg_env_cfg(make_env_cfg(task, seed=seed, **(env_overrides or {})), cfg, tuple(weights))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    files = _RunFiles(run_dir, cfg, env_cfg, source)
    es = GeneratorES(env_cfg, cfg, weights, seed, ray=ray)
    t0 = time.monotonic()
    stopped = "generations"

    def over_budget() -> bool:
        return bool(max_minutes) and time.monotonic() - t0 >= 60.0 * max_minutes

    try:
        try:
            es.phase(None, generations, should_stop=over_budget, on_generation=files.generation)
            if over_budget() and len(es.state.history) < generations:
                stopped = "max_minutes"
        except KeyboardInterrupt:
            stopped = "interrupted"
        seconds = time.monotonic() - t0
        before, after = es.compare(None, es.state.initial, es.state.incumbent)
        path = files.save(es, {"seconds": round(seconds, 1), "pretrain": True, "stopped_because": stopped,
                               "fitness_before": before, "fitness_after": after, **_restarts(es)})
        files.plots(es)
    finally:
        files.close()
        es.close()
    n = len(es.state.history)
    return ETGResult(run_dir, stopped, 0, n, es.state.env_steps, es.state.env_steps, seconds, None, path, [])


def train_etg(task: str, cfg: ETGConfig, run_dir: Path, seed: int = 0, etg_path: str | None = None,
              env_overrides: dict | None = None, train_overrides: dict | None = None, walk_check: bool = True,
              show_progress: bool = False, ray: RayOptions | None = None) -> ETGResult:
    """Dual training of ``task`` (module docstring); budgets and stopping rules come from the task's TrainConfig
    with ``train_overrides`` (``max_iterations`` counts PPO iterations, ``max_minutes`` all training time);
    ``ray``: evaluate the ES populations on Ray workers (PPO stays in-process)."""
    from stridelab.config import save_yaml
    from stridelab.eval.report import grid_verdict
    from stridelab.learn.trainer import Trainer
    from stridelab.tasks import get_task, make_env_cfg

    cfg, weights, source = starting_generator(cfg, etg_path)
    env_cfg = etg_env_cfg(make_env_cfg(task, seed=seed, **(env_overrides or {})), cfg, tuple(weights))
    train_cfg = override(get_task(task).train_cfg(), **(train_overrides or {}))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    current = {"env_cfg": env_cfg}

    def check(policy):  # the grid evaluation `stridelab eval` runs (one "walks" verdict)
        return grid_verdict(policy, current["env_cfg"])

    trainer = Trainer(env_cfg, override(train_cfg, max_iterations=0), run_dir, seed=seed,
                      walk_check=check if walk_check else None)
    save_yaml({"task": task, "seed": seed, "etg": cfg, "env": env_cfg, "train": train_cfg}, run_dir / "config.yaml")
    files = _RunFiles(run_dir, cfg, env_cfg, source)
    es = GeneratorES(env_cfg, cfg, weights, seed, ray=ray)
    try:
        budget_s = 60.0 * train_cfg.max_minutes if train_cfg.max_minutes else float("inf")
        stopped, first, checks = "max_iterations", True, []
        try:
            while True:
                # ---- ES phase: the generator against the current residual policy -------------------------
                if cfg.es_generations:
                    t0 = time.monotonic()
                    policy = _current_policy(trainer)
                    base, steps_before = trainer.train_seconds, es.state.env_steps
                    es.phase(policy, cfg.es_generations, on_generation=files.generation,
                             should_stop=lambda: base + time.monotonic() - t0 >= budget_s)
                    trainer.env_steps += es.state.env_steps - steps_before  # generations and the selection
                    trainer.train_seconds += time.monotonic() - t0
                    current["env_cfg"] = trainer.env_cfg = with_weights(trainer.env_cfg, es.state.incumbent)
                    trainer.env.action_term.set_weights(es.state.incumbent)
                    files.save(es, {"iterations": trainer.iteration, "env_steps": trainer.env_steps})
                if trainer.train_seconds >= budget_s:
                    stopped = "max_minutes"
                    break
                # ---- RL phase: PPO on the incumbent generator ----------------------------------------
                end = min(train_cfg.max_iterations, trainer.iteration + cfg.rl_iterations)
                trainer.train_cfg = override(train_cfg, max_iterations=end)
                result = trainer.train(fresh=first, show_progress=show_progress)
                first = False
                checks += result.walk_checks
                if result.stopped_because != "max_iterations" or trainer.iteration >= train_cfg.max_iterations:
                    stopped = result.stopped_because
                    break
        except KeyboardInterrupt:
            stopped = "interrupted"
        trainer.train_cfg = train_cfg
        checkpoint = trainer.save()  # holds the final generator (the last phase may have been ES)
        seconds = trainer.train_seconds
        # the generator before and after evolution, both under the final residual policy, in one batch
        policy = _current_policy(trainer)
        before, after = es.compare(policy, es.state.initial, es.state.incumbent)
        path = files.save(es, {"iterations": trainer.iteration, "env_steps": trainer.env_steps,
                               "seconds": round(seconds, 1), "stopped_because": stopped, "fitness_before": before,
                               "fitness_after": after, **_restarts(es)})
        files.plots(es)
    finally:
        files.close()
        es.close()
    return ETGResult(run_dir, stopped, trainer.iteration, len(es.state.history), trainer.env_steps, es.state.env_steps,
                     seconds, checkpoint, path, checks)


def _current_policy(trainer: Any) -> Any:
    """A copy of the trainer's current policy, as ``load_policy`` rebuilds it (the learner's models stay untouched)."""
    from stridelab.learn.models import InferencePolicy, build_model

    return InferencePolicy(build_model(trainer._policy_spec, trainer.runner.alg.get_policy().state_dict()))


def _restarts(es: GeneratorES) -> dict:
    """``{"worker_restarts": n}`` when the populations ran on Ray workers (nothing in-process)."""
    return {"worker_restarts": es.evaluator.worker_restarts} if es.evaluator.distributed else {}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


__all__ = ["ETGResult", "GeneratorSettings", "pretrain_generator", "starting_generator", "train_etg"]
