"""ETG settings and the task config with the generator: any quadruped task becomes an ETG task.

:func:`etg_env_cfg` takes a task's :class:`~stridelab.config.EnvConfig` and

- replaces its action term with :class:`stridelab.mdp.etg.etg_residual` (generator weights in the term's
  params, so checkpoints, ``stridelab eval``, ``play`` and ``export`` rebuild the same generator);
- sets the gait clock (the generator's phase) to the gait's offsets and frequency, adding the clock if
  the task has none;
- adds to the policy observation the clock's sin/cos (if absent) and the generator's target
  (``etg_target``: joint targets minus the default pose), as ETG-RL observes its generator's action.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from stridelab.config import EnvConfig, ObsTermCfg, TermCfg
from stridelab.errors import ConfigError
from stridelab.mdp.etg_generator import GAITS, GeneratorSettings, check_act_bound

ACTION_TERM = "stridelab.mdp.etg:etg_residual"
TARGET_TERM = "stridelab.mdp.etg:etg_target"
#: ``--alg`` values; ETG-RL offers CMA-ES, OpenAI-ES, PEPG and a simple GA (its default) from estool
ALGORITHMS = ("cma", "openai-es", "pgpe", "snes", "cem")


@dataclass(frozen=True)
class ETGConfig:
    """How ETG trains: the generator, the evolution strategy, the alternation with PPO.

    Attributes:
        alg: evolution strategy (:data:`ALGORITHMS`): ``cma`` (CMA-ES, the ``cma`` package); ``openai-es``,
            ``pgpe``, ``snes``, ``cem`` (EvoTorch).
        popsize: candidates per generation.
        sigma: initial ES step size [m of foot offset].
        envs_per_member: envs each candidate is evaluated in (their mean return is its fitness).
        episode_s: length of an ES evaluation episode [s] (an episode also ends at a fall).
        es_generations: ES generations per ES phase (ETG-RL: 10).
        rl_iterations: PPO iterations per RL phase.
        act_bound: bound of the residual [rad]: target = TG + act_bound * clip(action, -1, 1).
        gait: ``trot``, ``pace`` or ``bound`` (clock offsets of FL, FR, RL, RR).
        frequency: gait clock frequency [Hz] (ETG-RL: period 0.5 s).
        generator: the generator's shape and prior trajectory.
        min_command: below this command [m/s, rad/s] the generator holds the standing pose.
        table_size: rows of the exported lookup table.
    """

    alg: str = "cma"
    popsize: int = 16
    sigma: float = 0.01  # half ETG-RL's 0.02 m: here every RBF weight moves on its own (ETG-RL: 6 control points)
    envs_per_member: int = 4
    episode_s: float = 5.0
    es_generations: int = 5
    rl_iterations: int = 50
    act_bound: float = 0.5
    gait: str = "trot"
    frequency: float = 2.0
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    min_command: float = 0.1
    table_size: int = 1024

    def __post_init__(self) -> None:
        from stridelab.errors import did_you_mean

        if self.alg not in ALGORITHMS:
            raise ConfigError(f"--alg {self.alg!r} is unknown{did_you_mean(self.alg, ALGORITHMS)}; use one of "
                              f"{', '.join(ALGORITHMS)}.")
        if self.gait not in GAITS:
            raise ConfigError(f"--gait {self.gait!r} is unknown{did_you_mean(self.gait, GAITS)}; use one of "
                              f"{', '.join(GAITS)}.")
        check_act_bound(self.act_bound)
        checks = [(self.popsize >= 4, f"--popsize {self.popsize} is out of range; use 4 or more candidates."),
                  (self.popsize % 2 == 0 or self.alg not in ("openai-es", "pgpe"),
                   f"--popsize {self.popsize} is odd; --alg {self.alg} samples antithetic pairs, give an even size."),
                  (0 < self.sigma <= 0.2, f"--sigma {self.sigma} is out of range; give an ES step in (0, 0.2] m."),
                  (self.envs_per_member >= 1, f"--envs-per-member {self.envs_per_member} is out of range; use 1 or more."),
                  (0 < self.episode_s <= 60, f"--es-episode-s {self.episode_s} is out of range; give (0, 60] s."),
                  (self.es_generations >= 0, f"--es-generations {self.es_generations} is out of range; use 0 or more."),
                  (self.rl_iterations >= 1, f"--rl-iterations {self.rl_iterations} is out of range; use 1 or more."),
                  (0 < self.frequency <= 10, f"--frequency {self.frequency} is out of range; give (0, 10] Hz."),
                  (self.min_command >= 0, f"min_command {self.min_command} is out of range; give 0 or more."),
                  (16 <= self.table_size <= 1_000_000, f"--table-size {self.table_size} is out of range; use 16 to "
                                                       f"1000000 rows.")]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


def etg_env_cfg(base: EnvConfig, cfg: ETGConfig, weights: tuple[float, ...] | None = None) -> EnvConfig:
    """``base`` with the ETG action (``weights``: ``None`` for the prior's fit), the gait clock and observations."""
    from stridelab.robots.registry import get_robot
    spec = get_robot(base.robot)
    if len(spec.feet) != 4:
        raise ConfigError(f"robot {spec.name!r} has {len(spec.feet)} feet; ETG's gaits and leg kinematics need a "
                          f"quadruped with four feet (FL, FR, RL, RR).")
    gen = cfg.generator
    if weights is None:
        weights = tuple(float(w) for w in gen.prior_weights())
    action = TermCfg(ACTION_TERM, {"weights": tuple(float(w) for w in weights), "num_rbf": gen.num_rbf,
                                   "width": gen.width, "act_bound": cfg.act_bound, "min_command": cfg.min_command,
                                   "table_size": cfg.table_size, "step_y": gen.step_y})
    clock = {"frequency": cfg.frequency, "offsets": GAITS[cfg.gait], "duty": gen.duty}
    commands = dict(base.commands)
    name = next((k for k, t in commands.items() if t.func.rpartition(":")[2] == "gait_clock"), None)
    if name is None:
        commands["gait"] = TermCfg("gait_clock", clock)
    else:
        commands[name] = replace(commands[name], params={**commands[name].params, **clock})
    policy = base.observations.get("policy")
    if policy is None:
        raise ConfigError(f"task {base.task!r} has no 'policy' observation group; ETG adds its terms to it.")
    terms = dict(policy.terms)
    if not any(t.func.rpartition(":")[2] == "gait_clock" for t in terms.values()):
        terms["gait_clock"] = ObsTermCfg("gait_clock")
    terms["etg_target"] = ObsTermCfg(TARGET_TERM)
    observations = {**base.observations, "policy": replace(policy, terms=terms)}
    return replace(base, action=action, commands=commands, observations=observations)


def with_weights(env_cfg: EnvConfig, weights) -> EnvConfig:
    """``env_cfg`` whose ETG action runs ``weights`` [m]."""
    params = {**env_cfg.action.params, "weights": tuple(float(w) for w in weights)}
    return replace(env_cfg, action=replace(env_cfg.action, params=params))
