"""A student beside its teacher: success per terrain type and level under several conditions of the height scan.

A distilled student (``stridelab distill``) reads the scan through the exteroception noise model; its teacher was
trained on a clean scan. Both are evaluated in the student's task, where the group ``extero`` is the noisy scan
both of them read (the teacher's own checkpoint names that group too), under :data:`SCAN_CONDITIONS`:

- ``clean``: no noise (the teacher's training condition);
- ``training noise``: the noise model at level 1 (the student's training condition);
- ``twice the noise``: level 2;
- ``scan removed``: level 1, and every trial's scan removed :data:`REMOVED_AT_S` seconds in (the blind mode).

The terrain trials are :func:`stridelab.eval.terrain.evaluate_terrain`'s (same seed for every condition and both
policies); ``survival`` is the share of trials that did not fall.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from stridelab.config import EnvConfig, override
from stridelab.errors import ConfigError

#: the time into a trial at which ``scan removed`` takes the scan away [s]
REMOVED_AT_S = 3.0
#: condition -> the height scan's parameters in the student's ``extero`` group
SCAN_CONDITIONS: dict[str, dict] = {
    "clean": {"noise_level": 0.0},
    "training noise": {"noise_level": 1.0},
    "twice the noise": {"noise_level": 2.0},
    "scan removed": {"noise_level": 1.0, "blind_prob": 1.0, "blind_after_s": (REMOVED_AT_S, REMOVED_AT_S)},
}


def scan_condition_cfg(env_cfg: EnvConfig, condition: str) -> EnvConfig:
    """``env_cfg`` (a student's) with its ``extero`` height scan under ``condition`` (:data:`SCAN_CONDITIONS`)."""
    if condition not in SCAN_CONDITIONS:
        raise ConfigError(f"unknown scan condition {condition!r}; use one of {', '.join(SCAN_CONDITIONS)}.")
    group = env_cfg.observations.get("extero")
    names = [n for n, t in (group.terms.items() if group else ()) if t.func.rpartition(":")[2] == "height_scan"]
    if len(names) != 1:
        raise ConfigError(f"task {env_cfg.task!r} has no height scan in an 'extero' group to put under conditions; "
                          f"evaluate a student of `stridelab distill`.")
    return override(env_cfg, observations={"extero": {"terms": {names[0]: {"params": SCAN_CONDITIONS[condition]}}}})


def side_by_side(policies: dict[str, Callable], env_cfg: EnvConfig, conditions: tuple[str, ...] = tuple(SCAN_CONDITIONS),
                 trials: int = 8, speed: float = 0.5, fraction: float = 0.5, duration_s: float = 10.0,
                 seed: int = 0, terrain: object = None) -> dict:
    """Success per terrain type and level of each policy (name -> callable) under each scan condition.

    Args:
        terrain: a TerrainConfig in place of the task's (e.g. one row of fixed figures).
    Returns:
        ``{"conditions": {condition: {policy: terrain table + survival_by_type}}, "removed_at_s", settings}``.
    """
    from stridelab.eval.terrain import evaluate_terrain

    base = env_cfg if terrain is None else replace(env_cfg, terrain=terrain)
    out: dict = {"conditions": {}, "removed_at_s": REMOVED_AT_S, "trials_per_cell": trials, "seed": seed}
    for condition in conditions:
        cfg = scan_condition_cfg(base, condition)
        rows = {}
        for name, policy in policies.items():
            table = evaluate_terrain(policy, cfg, trials=trials, speed=speed, fraction=fraction,
                                     duration_s=duration_s, seed=seed)
            table["survival_by_type"] = survival_by_type(table)
            rows[name] = table
        out["conditions"][condition] = rows
    return out


def survival_by_type(table: dict) -> dict[str, float]:
    """The share of trials that did not fall, per terrain type (over its levels)."""
    trials: dict[str, float] = {}
    falls: dict[str, float] = {}
    for cell in table["cells"]:
        trials[cell["type"]] = trials.get(cell["type"], 0) + cell["trials"]
        falls[cell["type"]] = falls.get(cell["type"], 0) + cell["fall_rate"] * cell["trials"]
    return {t: 1.0 - falls[t] / trials[t] for t in trials if trials[t]}


def side_by_side_lines(result: dict) -> list[str]:
    """One line per condition and policy: success (and survival) per terrain type."""
    lines = [f"student and teacher under scan conditions ({result['trials_per_cell']} trials per type and level; "
             f"'scan removed' takes the scan away {result['removed_at_s']:g} s in):"]
    for condition, rows in result["conditions"].items():
        for name, table in rows.items():
            types = ", ".join(f"{t} {100 * s:.0f}% (survived {100 * table['survival_by_type'][t]:.0f}%)"
                              for t, s in table["success_rate_by_type"].items())
            lines.append(f"  {condition:<16} {name:<8} {100 * table['overall_success_rate']:.0f}% overall: {types}")
    return lines
