"""policy.json describes every observation term in whole sentences with its configured values, and carries the
latency range the policy was trained with."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest

import stridelab
from stridelab.deploy.backend import SimBackendConfig, trained_latency_s
from stridelab.deploy.export import latency_metadata
from stridelab.errors import ConfigError
from stridelab.mdp.describe import described, first_paragraph, term_description
from stridelab.tasks import make_env_cfg


def _described_groups(task: str, **overrides) -> tuple[object, dict]:
    env = stridelab.make(task, num_envs=1, num_threads=1, seed=0, **overrides)
    env.get_observations()
    return env, {name: group.describe() for name, group in env.observations.groups.items()}


def _balanced(text: str) -> bool:
    """Brackets close (an interval such as [0, 1) closes a "[" with a ")")."""
    return sum(map(text.count, "([{")) == sum(map(text.count, ")]}")) and text.count("`") % 2 == 0


@pytest.mark.parametrize("task", ["quadruped-flat", "biped-flat", "quadruped-rough", "quadruped-cave"])
def test_every_term_has_a_whole_description(task):
    env, groups = _described_groups(task)
    json.dumps(groups)  # plain data
    for group, desc in groups.items():
        for term in desc["terms"]:
            text = term["description"]
            where = f"{task} {group}.{term['name']}: {text!r}"
            assert len(text) >= 60 and text.endswith(".") and _balanced(text), where
            assert text[0].isupper() or text[0].isdigit(), where
            assert not re.search(r"\b(while|the|a|of|and|or|below|is)\.$", text), where  # no sentence cut short
            assert "units" not in term
            # every parameter is written out, defaults included
            assert all(k in term["params"] for k in term.get("params", {}))
    names = {t["name"] for d in groups.values() for t in d["terms"]}
    assert {"base_ang_vel", "projected_gravity", "velocity_commands", "joint_pos", "joint_vel", "last_action",
            "gait_clock", "base_lin_vel", "foot_contact", "randomized"} <= names
    assert ("height_scan" in names) == (task in ("quadruped-rough", "quadruped-cave"))
    assert ("ceiling_scan" in names) == (task == "quadruped-cave")
    assert ("gait_frequency" in names) == (task == "biped-flat")


def test_gait_clock_description_carries_the_configured_threshold():
    threshold = {"policy": {"terms": {"gait_clock": {"params": {"min_command": 0.25}}}}}
    env, groups = _described_groups("quadruped-flat", observations=threshold)
    (clock,) = [t for t in groups["policy"]["terms"] if t["name"] == "gait_clock"]
    assert clock["params"] == {"min_command": 0.25}
    text = clock["description"]
    assert "below 0.25 m/s" in text and "below 0.25 rad/s" in text
    assert "sin(2 pi phase_f) for every foot, then cos(2 pi phase_f)" in text
    assert "(FL_foot, FR_foot, RL_foot, RR_foot)" in text and "(0, 0.5, 0.5, 0)" in text and "2 Hz" in text
    gait = env.commands.gait.describe(0.25)
    assert gait["min_command"] == 0.25 and "below 0.25 m/s" in gait["phase"] and "duty 0.5" in gait["phase"]
    # the rule stated is the rule computed: below the threshold on both, all zero
    env.set_commands(np.array([0.2, 0.1, 0.2]))
    obs = env.get_observations()["policy"][0].numpy()
    assert np.all(obs[-8:] == 0.0)
    env.set_commands(np.array([0.2, 0.0, 0.3]))
    assert np.any(env.get_observations()["policy"][0].numpy()[-8:] != 0.0)


def test_a_term_without_a_description_gives_its_whole_first_paragraph():
    def my_term(s, gain: float = 2.0):
        """A made-up term whose first paragraph runs over
        two lines and ends here.

        Second paragraph."""

    whole = "A made-up term whose first paragraph runs over two lines and ends here."
    assert term_description(my_term, None, {"gain": 2.0}, None) == whole
    assert term_description(described("Gain {gain:g} [1].")(my_term), None, {"gain": 3.0}, None) == "Gain 3 [1]."
    assert first_paragraph(None) == ""


def test_latency_range_matches_the_task_event():
    rough = stridelab.make("quadruped-rough", num_envs=1, num_threads=1)
    lat = latency_metadata(rough)
    assert make_env_cfg("quadruped-rough").events["latency"].params["delay_s"] == (0.0, 0.04)
    assert lat["range_s"] == pytest.approx([0.0, 0.04]) and lat["substeps"] == [0, 8]
    assert lat["middle_s"] == pytest.approx(0.02) and lat["source"] == "events.latency"
    assert trained_latency_s({"latency": lat}) == pytest.approx(0.02)
    assert SimBackendConfig().for_policy({"latency": lat}).latency_s == pytest.approx(0.02)
    assert SimBackendConfig(latency_s=0.005).for_policy({"latency": lat}).latency_s == 0.005  # --latency wins
    # a range that is not a multiple of the substep: the whole substeps within it
    odd = stridelab.make("quadruped-flat", num_envs=1, num_threads=1,
                         events={"latency": {"params": {"delay_s": (0.003, 0.012)}}})
    assert latency_metadata(odd)["substeps"] == [1, 2]
    assert latency_metadata(odd)["range_s"] == pytest.approx([0.005, 0.01])
    flat = latency_metadata(stridelab.make("quadruped-flat", num_envs=1, num_threads=1))
    assert flat["range_s"] == [0.0, 0.0] and flat["source"] == "events.latency"  # present, neutral
    cfg = make_env_cfg("quadruped-flat", num_envs=1, num_threads=1)
    none = latency_metadata(stridelab.make_env(replace(cfg, events={k: v for k, v in cfg.events.items()
                                                                    if k != "latency"})))
    assert none["range_s"] == [0.0, 0.0] and none["source"] is None
    with pytest.raises(ConfigError, match="--latency"):
        trained_latency_s({})
