"""ETG-RL: an evolutionary trajectory generator with a PPO residual (docs/etg.md).

- :mod:`~stridelab.etg.config`: the ETG settings and the task config with the generator;
- :mod:`~stridelab.etg.es`: evolution strategies (cma, EvoTorch) behind one interface;
- :mod:`~stridelab.etg.population`: ETG's population problem (generators' episode returns) for the one
  population evaluator, :class:`stridelab.distributed.population.PopulationEvaluator`;
- :mod:`~stridelab.etg.evolve`: ES phases with an incumbent and the phase-end selection;
- :mod:`~stridelab.etg.dual`: dual training (ES and PPO phases) and pretraining;
- :mod:`~stridelab.etg.plots`: figures.

The command ``stridelab etg`` is :mod:`stridelab.app.etg`.

The MDP terms (the action term and the target observation) are in :mod:`stridelab.mdp.etg`, with what they
run: the generator (:mod:`stridelab.mdp.etg_generator`: the phase -> foot offset map and the generator file)
and the leg kinematics (:mod:`stridelab.mdp.leg_kinematics`). Nothing is imported here, so that ``import stridelab.etg`` stays light.
"""
