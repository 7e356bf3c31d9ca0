"""Scale-out on Ray: rollout workers, a Ray-fanned env for the one learner, the one population evaluator.

The modules, from the plain data to the learner:

- :mod:`~stridelab.distributed.options`: :class:`RayOptions` (``--workers``, ``--ray-address``,
  ``--cpus-per-worker``, ``--async-rollouts``) and the per-worker seed stream; imports no Ray.
- :mod:`~stridelab.distributed.worker`: :class:`RolloutWorker`, the code of one Ray actor: a
  ``mujoco.batch`` env built from (config, seed), a CPU copy of the actor, whole rollouts; imports no Ray.
- :mod:`~stridelab.distributed.cluster`: joining or starting Ray, with one-sentence errors.
- :mod:`~stridelab.distributed.pool`: :class:`WorkerPool`, the actors and their restarts.
- :mod:`~stridelab.distributed.vec_env`: :class:`RayVecEnv`, rsl-rl-lib's ``VecEnv`` contract over the pool, so
  that rsl-rl-lib's own loop trains on the workers (step by step, or replaying asynchronous rollouts).
- :mod:`~stridelab.distributed.population`: :class:`PopulationEvaluator`, the fitness of a population of
  parameter vectors (ES) for a picklable :class:`PopulationProblem`, in-process or on the workers.

Nothing here but ``options`` (and ``population``, for ES in-process) is imported unless a run asks for workers
(``--workers N`` or ``--ray-address``); Ray itself is imported only by ``cluster``, ``pool`` and ``vec_env``.
See ``docs/distributed.md``.
"""
