"""ETG's ES populations on Ray workers: the fitnesses in-process evaluators give, unchanged by a killed worker,
and `stridelab etg pretrain --workers 2` end to end.

One local Ray instance (2 CPUs) for the module; populations of 5 members x 2 envs, 0.4 s episodes.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from tensordict import TensorDict

from stridelab.app.cli import main
from stridelab.distributed.options import RayOptions
from stridelab.distributed.population import PopulationBatch, PopulationEvaluator
from stridelab.etg.config import ETGConfig, etg_env_cfg
from stridelab.etg.population import ETGProblem
from stridelab.learn.config import TrainConfig
from stridelab.learn.models import InferencePolicy, build_model, model_class
from stridelab.envs import make_env
from stridelab.tasks import make_env_cfg

SEED, MEMBERS, K, EPISODE_S = 5, 5, 2, 0.4


def etg_task():
    cfg = ETGConfig()
    return cfg, etg_env_cfg(make_env_cfg("quadruped-flat", num_threads=1, seed=SEED), cfg)


def population(cfg: ETGConfig, rng: np.random.Generator) -> np.ndarray:
    """5 generators around the prior's fit; rows 0 and 3 equal (slot 0 of worker 0 and of worker 1)."""
    w = cfg.generator.prior_weights()
    rows = w + rng.normal(0.0, 0.02, size=(MEMBERS, w.size))
    rows[3] = rows[0]
    return rows


def residual_policy(env_cfg) -> InferencePolicy:
    """A small random residual actor for the ETG task (non-zero output, so that it matters)."""
    obs = make_env(replace(env_cfg, num_envs=2)).get_observations()
    cfg = dict(TrainConfig(actor_hidden_dims=(16,), critic_hidden_dims=(16,)).rsl_rl_dict()["actor"])
    spec = {"policy_model": "actor", "policy_cfg": dict(cfg), "num_actions": 12,
            "policy_obs_groups": {"policy": int(obs["policy"].shape[1])}}
    cls = model_class(cfg.pop("class_name"))
    torch.manual_seed(1)
    zeros = TensorDict({"policy": torch.zeros(1, spec["policy_obs_groups"]["policy"])}, batch_size=[1])
    state = cls(zeros, {"actor": ["policy"]}, "actor", 12, **cfg).state_dict()
    return InferencePolicy(build_model(spec, state))


def in_process(env_cfg, params: np.ndarray, policy, call: int, workers: int = 2) -> np.ndarray:
    """Each worker's slice evaluated by an in-process batch built as the worker builds its own. (P, K)."""
    m = -(-len(params) // workers)
    padded = np.concatenate([params, np.repeat(params[-1:], workers * m - len(params), axis=0)])
    returns = []
    for k in range(workers):
        batch = PopulationBatch(ETGProblem(EPISODE_S), env_cfg, m, K, SEED, num_threads=1)
        returns.append(batch.evaluate(padded[k * m:(k + 1) * m], policy, call).values)
    return np.concatenate(returns)[:len(params)]


@pytest.fixture(scope="class")
def evaluator(ray_instance):
    """Two workers of 3 members x 2 envs (the 5 members padded to 6); they hold both CPUs for one class."""
    _, env_cfg = etg_task()
    ev = PopulationEvaluator(ETGProblem(EPISODE_S), env_cfg, MEMBERS, K, SEED, ray=RayOptions(workers=2))
    yield ev
    ev.close()


class TestPopulationOnWorkers:
    def test_fitnesses_equal_in_process_evaluators_and_members_share_conditions(self, evaluator):
        cfg, env_cfg = etg_task()
        params = population(cfg, np.random.default_rng(0))
        assert evaluator.distributed and (evaluator.pool.num_workers, evaluator.members_per_worker) == (2, 3)
        result = evaluator(params)  # call 0: the generators alone
        assert result.call == 0
        # equal up to float summation order across processes (measured: 2e-8 relative at most)
        np.testing.assert_allclose(result.values, in_process(env_cfg, params, None, 0), rtol=1e-6)
        np.testing.assert_allclose(result.values[0], result.values[3], rtol=1e-6)  # same generator, other worker
        assert np.abs(result.values[0] - result.values[1]).max() > 1e-3  # other generator, same conditions
        assert result.fitness.shape == (MEMBERS,) and np.allclose(result.fitness, result.values.mean(axis=1))
        assert result.env_steps == 2 * 3 * K * 20  # padding included: it costs the same; 0.4 s = 20 steps

        policy = residual_policy(env_cfg)
        with_policy = evaluator(params, policy)  # call 1, through the object store
        np.testing.assert_allclose(with_policy.values, in_process(env_cfg, params, policy, 1), rtol=1e-6)
        assert not np.allclose(with_policy.values, result.values)  # the residual changed the returns

    def test_a_killed_worker_is_recreated_and_the_call_gives_the_same_fitnesses(self, evaluator):
        cfg, env_cfg = etg_task()
        params = population(cfg, np.random.default_rng(1))
        pid = evaluator.pool.pids()[1]
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        call = evaluator.calls
        result = evaluator(params)
        assert evaluator.worker_restarts == 1 and evaluator.pool.pids()[1] != pid
        np.testing.assert_allclose(result.values, in_process(env_cfg, params, None, call), rtol=1e-6)


def test_pretrain_on_two_workers_writes_the_generator_and_its_log(ray_instance, tmp_path):
    argv = ["etg", "pretrain", "quadruped-flat", "--workers", "2", "--generations", "2", "--popsize", "4",
            "--envs-per-member", "1", "--episode-s", "0.4", "--sigma", "0.03", "--log-dir", str(tmp_path)]
    assert main(argv) == 0
    (run,) = (tmp_path / "etg-pretrain" / "quadruped-flat").iterdir()
    info = json.loads((run / "etg_log.json").read_text())
    assert info["generations"] == 2 and info["worker_restarts"] == 0
    # 2 generations of 5 rows (4 candidates + the incumbent; 3 per worker) and the selection, 20 steps each
    assert info["es_env_steps"] == 3 * (2 * 3 * 1 * 20)
    assert np.isfinite(info["fitness_before"]) and np.isfinite(info["fitness_after"])
    assert (run / "plots" / "etg_feet.png").stat().st_size > 10_000
    deadline = time.monotonic() + 15.0  # the workers are gone: their CPUs come back
    while ray_instance.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray_instance.available_resources().get("CPU", 0) == 2
