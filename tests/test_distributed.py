"""Ray scale-out: rollout workers, the Ray-fanned env, worker failures, the population evaluator, placement errors.

One local Ray instance (2 CPUs) serves the whole module; every training run is tiny (32-64 envs,
16-64 steps, 2-5 iterations, 32x32 networks).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tensordict import TensorDict

from stridelab.app.cli import main
from stridelab.distributed.options import RayOptions, split_envs, worker_seeds
from stridelab.distributed.population import PopulationBatch, PopulationEvaluator, call_seed
from stridelab.distributed.vec_env import RayVecEnv, merge_logs
from stridelab.distributed.worker import policy_weights
from stridelab.envs.snapshot import load_env_state
from stridelab.errors import ConfigError
from stridelab.learn.checkpoint import load_checkpoint
from stridelab.learn.config import PPOConfig, TrainConfig
from stridelab.learn.models import build_model
from stridelab.learn.trainer import Trainer
from stridelab.envs import make_env
from stridelab.tasks import make_env_cfg

REPO = Path(__file__).resolve().parents[1]
SEED = 3


def env_cfg(num_envs: int = 32, seed: int = SEED):
    return make_env_cfg("quadruped-flat", num_envs=num_envs, num_threads=1, seed=seed)


def train_cfg(iterations: int, steps: int = 16, symmetry: str = "off", rnn_type: str = "none") -> TrainConfig:
    return TrainConfig(num_steps_per_env=steps, max_iterations=iterations, save_interval=1, stop_when_walks=False,
                       max_minutes=0, actor_hidden_dims=(32, 32), critic_hidden_dims=(32, 32), symmetry=symmetry,
                       rnn_type=rnn_type, rnn_hidden_dim=32, torch_threads=1,
                       algorithm=PPOConfig(num_learning_epochs=2, num_mini_batches=2))


def scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)] if tag in acc.Tags()["scalars"] else []


def actor_spec_and_model(cfg) -> tuple[dict, torch.nn.Module]:
    """A small actor like training's (normalizer with non-trivial statistics), and its description."""
    env = make_env(replace(cfg, num_envs=8))
    obs = env.get_observations()
    policy_cfg = train_cfg(1).rsl_rl_dict()["actor"]
    spec = {"policy_model": "actor", "policy_cfg": policy_cfg, "num_actions": env.num_actions,
            "policy_obs_groups": {"policy": int(obs["policy"].shape[1])}}
    torch.manual_seed(0)
    model = build_model(spec, _fresh_state(spec))
    model.train()
    model.update_normalization(TensorDict({"policy": obs["policy"] * 3 + 1}, batch_size=[8]))
    return spec, model.eval()


def _fresh_state(spec: dict) -> dict:
    from stridelab.learn.models import model_class

    cfg = dict(spec["policy_cfg"])
    cls = model_class(cfg.pop("class_name"))
    obs = TensorDict({g: torch.zeros(1, s) for g, s in spec["policy_obs_groups"].items()}, batch_size=[1])
    return cls(obs, {"actor": list(spec["policy_obs_groups"])}, "actor", spec["num_actions"], **cfg).state_dict()


# ---- without Ray ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, named", [
    (["--workers", "-1"], "--workers -1 is out of range"),
    (["--workers", "2", "--cpus-per-worker", "0"], "--cpus-per-worker 0 is out of range"),
    (["--cpus-per-worker", "2"], "add --workers N"),
    (["--async-rollouts"], "--async-rollouts needs Ray rollout workers"),
    (["--ray-address", "127.0.0.1:1"], "--ray-address 127.0.0.1:1 is unreachable"),
    (["--ray-address", "nonsense"], "is not an address"),
    (["--workers", "4", "--num-envs", "2"], "fewer than the 4 rollout workers"),
    (["--device", "tpu"], "--device 'tpu' is unknown"),
])
def test_bad_placement_is_one_sentence_and_exit_2(argv, named, capsys, tmp_path):
    assert main(["train", *argv, "--log-dir", str(tmp_path / "runs"), "--no-eval", "--max-iterations", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and named in err[0], err
    assert err[0].count(". ") == 0 and err[0].endswith(".")  # one sentence
    assert not list((tmp_path / "runs").rglob("*.pt"))


def test_in_process_training_never_imports_ray(tmp_path):
    code = (
        "import sys\n"
        "from stridelab.app.cli import main\n"
        "assert main(['train', '--num-envs', '8', '--env.num-threads', '1', '--train.num-steps-per-env', '4',\n"
        "             '--train.actor-hidden-dims', '8', '--train.critic-hidden-dims', '8', '--max-iterations', '1',\n"
        "             '--no-eval', '--log-dir', sys.argv[1]]) == 0\n"
        "plain = ('stridelab.distributed', 'stridelab.distributed.options')  # the options: plain data, no Ray\n"
        "bad = sorted(m for m in sys.modules if m == 'ray' or m.startswith(('ray.', 'stridelab.distributed.'))\n"
        "             and m not in plain)\n"
        "print('RAY', bad)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "RAY []" in out.stdout, out.stdout
    assert list(tmp_path.rglob("model_000001.pt"))  # it did train


def test_envs_split_evenly_and_seeds_form_a_deterministic_stream():
    assert split_envs(10, 3) == [4, 3, 3] and split_envs(2048, 2) == [1024, 1024]
    with pytest.raises(ConfigError, match="at least one environment per worker"):
        split_envs(1, 2)
    seeds = {worker_seeds(SEED, k, r) for k in range(3) for r in range(3)}
    assert len(seeds) == 9  # every worker and restart has its own stream
    assert worker_seeds(SEED, 1, 2) == worker_seeds(SEED, 1, 2) and worker_seeds(SEED, 0, 0) != worker_seeds(4, 0, 0)
    assert all(0 <= s < 2**31 for pair in seeds for s in pair)
    assert call_seed(SEED, 0) != call_seed(SEED, 1) and call_seed(SEED, 0) not in {s for s, _ in seeds}
    with pytest.raises(ConfigError, match="needs Ray rollout workers|need Ray rollout workers"):
        RayOptions(async_rollouts=True)


def test_merged_logs_equal_one_env_of_all_envs():
    # worker 0: 4 envs, 1 ended; worker 1: 2 envs, 2 ended
    logs = [{"Metrics/lin_vel_error": 0.5, "Episode_Reward/track": 1.0, "Episode_Termination/base_contact": 1.0},
            {"Metrics/lin_vel_error": 0.2, "Episode_Reward/track": 4.0, "Episode_Termination/base_contact": 2.0}]
    dones = [np.array([True, False, False, False]), np.array([True, True])]
    merged = merge_logs(logs, dones, [4, 2])
    assert merged["Metrics/lin_vel_error"] == pytest.approx((0.5 * 4 + 0.2 * 2) / 6)  # mean over 6 envs
    assert merged["Episode_Reward/track"] == pytest.approx((1.0 * 1 + 4.0 * 2) / 3)  # mean over the 3 that ended
    assert merged["Episode_Termination/base_contact"] == 3.0  # counts add up
    # a key only one worker reports (only it had resets) is that worker's value
    assert merge_logs([{}, {"Episode_Reward/x": 2.0}], dones, [4, 2]) == {"Episode_Reward/x": 2.0}


@dataclass(frozen=True)
class BaseMassProblem:
    """A population problem shaped like dynamics identification: a member is one base mass [kg], written into its
    envs by name (``env.sim.physics.set``); the call's context is a reference base height per control step [m]
    (Shape: (T,)); an env's value is minus the mean squared error of its base height while it holds the default
    pose open-loop (zero actions)."""

    def prepare_cfg(self, env_cfg):
        # the task's reset randomization of the base mass would overwrite the members' masses
        return replace(env_cfg, events={name: e for name, e in env_cfg.events.items() if name != "base_mass"})

    def prepare_env(self, env, envs_per_member: int) -> None:
        pass

    def write_members(self, env, params: np.ndarray, envs_per_member: int) -> None:
        env.sim.physics.set("base_mass", np.arange(env.num_envs), np.repeat(params, envs_per_member, axis=0))

    def rollout(self, env, envs_per_member: int, reference: np.ndarray) -> np.ndarray:
        env.reset_all()
        zeros = torch.zeros(env.num_envs, env.num_actions)
        error = np.zeros(env.num_envs)
        for z in reference:
            env.step(zeros)
            error += (env.sim.qpos[:, 2] - z) ** 2
        return -error / len(reference)


MASSES = np.array([[4.7], [20.0], [4.7]])  # members 0 and 2 are the same robot, member 1 a heavy one
REFERENCE = np.full(10, 0.27)


def test_a_population_problem_sets_physics_per_member_and_each_call_has_its_own_conditions():
    ev = PopulationEvaluator(BaseMassProblem(), env_cfg(), members=3, envs_per_member=2, seed=SEED)
    first = ev(MASSES, REFERENCE)
    assert first.values.shape == (3, 2) and first.env_steps == 6 * 10 and first.call == 0 and not ev.distributed
    assert np.array_equal(ev.batch.env.sim.physics.get("base_mass")[:, 0], np.repeat(MASSES[:, 0], 2))
    assert first.fitness[1] < min(first.fitness[0], first.fitness[2])  # the heavy base sinks further below 0.27 m
    assert first.values[0, 0] != first.values[2, 0]  # every env draws its own reset noise and friction
    assert np.allclose(first.fitness, first.values.mean(axis=1))
    second = ev(MASSES, REFERENCE)
    assert second.call == 1 and not np.array_equal(second.values, first.values)  # a new call draws anew
    # a call's conditions depend on the seed and the call number only: a fresh batch, calls in another order
    fresh = PopulationBatch(BaseMassProblem(), env_cfg(), 3, 2, SEED)
    assert np.array_equal(fresh.evaluate(MASSES, REFERENCE, call=1).values, second.values)
    assert np.array_equal(fresh.evaluate(MASSES, REFERENCE, call=0).values, first.values)
    with pytest.raises(ConfigError, match="built for 3 members"):
        ev(MASSES[:2], REFERENCE)
    with pytest.raises(ConfigError, match="at least 1 member"):
        PopulationEvaluator(BaseMassProblem(), env_cfg(), members=0)


# ---- on a local Ray instance -----------------------------------------------------------------------------

@pytest.fixture(scope="class")
def pool(ray_instance):
    """Two workers of 8 envs each, and each worker's observations right after it was built (for one class of
    tests: the workers hold both CPUs of the Ray instance, so they go before the training tests start theirs)."""
    from stridelab.distributed.pool import WorkerPool

    workers = WorkerPool(env_cfg(16), RayOptions(workers=2))
    yield workers, workers.call("observations")
    for actor in workers.actors:
        ray_instance.kill(actor)


class TestOnTwoWorkers:
    """A pool of two workers: a worker equals an in-process env, snapshots, behaviour data."""

    def test_a_worker_is_an_in_process_env_with_its_seed(self, pool):
        """Same config, same seed, same weights: a worker's rollout equals an in-process env's, bit for bit."""
        from stridelab.distributed.vec_env import RayVecEnv

        workers, first_obs = pool
        cfg = env_cfg(16)
        refs = [make_env(replace(cfg, num_envs=n, seed=worker_seeds(SEED, k, 0)[0]))
                for k, n in enumerate(workers.sizes)]
        for k, ref in enumerate(refs):  # a fresh worker starts where an env built with its seed starts
            for group, value in ref.get_observations().items():
                assert np.array_equal(first_obs[k][group], value.numpy())
        for ref, state in zip(refs, workers.call("state_dict")):  # continue from wherever the workers are now
            load_env_state(ref, state["env"])
        spec, model = actor_spec_and_model(cfg)
        weights = policy_weights(spec, model, version=0)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as the workers (1 CPU each)
        try:
            batch = workers.call("collect", lambda k: (weights, 12, False, False))
            for k, ref in enumerate(refs):
                obs = ref.get_observations()
                for t in range(12):
                    assert np.array_equal(batch[k]["obs"]["policy"][t], obs["policy"].numpy())
                    with torch.inference_mode():
                        actions = model(obs)
                    obs, rew, done, extras = ref.step(actions)
                    assert np.array_equal(batch[k]["actions"][t], actions.numpy())
                    assert np.array_equal(batch[k]["rewards"][t], rew.numpy())
                    assert np.array_equal(batch[k]["dones"][t], done.numpy())
                assert np.array_equal(batch[k]["obs"]["privileged"][12], obs["privileged"].numpy())
            # the per-step VecEnv contract continues the same envs
            vec = RayVecEnv(cfg, RayOptions(workers=2), pool=workers)
            with torch.inference_mode():
                actions = model(vec.get_observations())
                obs, rew, done, extras = vec.step(actions)
                expected = [ref.step(model(ref.get_observations())) for ref in refs]
        finally:
            torch.set_num_threads(threads)
        assert torch.equal(obs["policy"], torch.cat([e[0]["policy"] for e in expected]))
        assert torch.equal(rew, torch.cat([e[1] for e in expected]))
        assert vec.num_envs == 16 and set(extras) >= {"time_outs", "log"} and rew.abs().sum() > 0


    def test_async_workers_send_the_behaviour_policys_log_probs(self, pool):
        workers, _ = pool
        spec, model = actor_spec_and_model(env_cfg(16))
        batch = workers.call("collect", lambda k: (policy_weights(spec, model, 4), 6, True, True))[1]
        assert batch["version"] == 4 and batch["log_prob"].shape == (6, 8)
        obs = TensorDict({"policy": torch.tensor(batch["obs"]["policy"][:6]).reshape(48, -1)}, batch_size=[48])
        with torch.inference_mode():
            model(obs, stochastic_output=True)
            log_prob = model.get_output_log_prob(torch.tensor(batch["actions"]).reshape(48, -1))
            mean = model.output_distribution_params[0]
        assert torch.allclose(log_prob, torch.tensor(batch["log_prob"]).reshape(48), atol=1e-4)
        assert torch.allclose(mean, torch.tensor(batch["dist_params"][0]).reshape(48, -1), atol=1e-5)


    def test_a_worker_snapshot_continues_exactly_in_a_new_worker(self, pool):
        """What resuming a Ray run relies on: env state and sampling stream restored into a fresh worker."""
        from stridelab.distributed.worker import RolloutWorker

        workers, _ = pool
        cfg = env_cfg(16)
        spec, model = actor_spec_and_model(cfg)
        weights = policy_weights(spec, model, 0)
        state = workers.call("state_dict")[1]
        remote = workers.call("collect", lambda k: (weights, 8, True, False))[1]
        threads = torch.get_num_threads()
        with torch.random.fork_rng(devices=[]):  # the in-process worker seeds this process's torch RNG
            try:
                fresh = RolloutWorker(replace(cfg, num_envs=workers.sizes[1]), worker=1, restart=5)  # other seeds
                fresh.load_state_dict(state)  # no actor built yet: the first collect builds it
                again = fresh.collect(weights, 8)
            finally:
                torch.set_num_threads(threads)
        for key in ("actions", "rewards", "dones", "episode_length"):
            assert np.array_equal(again[key], remote[key]), key
        assert np.array_equal(again["obs"]["privileged"], remote["obs"]["privileged"])
        assert remote["actions"].std() > 0.3  # sampled (init std 0.5), not the mean


def test_a_cluster_too_small_for_the_workers_is_one_sentence(ray_instance):
    from stridelab.distributed.cluster import connect

    with pytest.raises(ConfigError, match=r"3 worker CPUs .* do not fit the Ray cluster's 2 CPUs"):
        connect(RayOptions(workers=3), 3)


def test_a_population_problem_on_two_workers_equals_in_process_batches(ray_instance):
    """Any picklable problem runs on the workers: 3 members on 2 workers (2 each, the last padded), each worker's
    values equal to an in-process batch of its slice in the same call."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    ev = PopulationEvaluator(BaseMassProblem(), env_cfg(), 3, 2, SEED, ray=RayOptions(workers=2))
    try:
        result = ev(MASSES, REFERENCE)
    finally:
        ev.close()
    assert ev.distributed and ev.members_per_worker == 2 and result.env_steps == 2 * 2 * 2 * 10  # padding counts
    padded = np.concatenate([MASSES, MASSES[-1:]])
    local = [PopulationBatch(BaseMassProblem(), env_cfg(), 2, 2, SEED).evaluate(padded[k * 2:k * 2 + 2], REFERENCE, 0)
             for k in range(2)]
    np.testing.assert_allclose(result.values, np.concatenate([r.values for r in local])[:3], rtol=1e-6)
    np.testing.assert_allclose(result.values[0], result.values[2], rtol=1e-6)  # same mass, other worker


def _per_env_stats(trainer: Trainer) -> list[dict[str, torch.Tensor]]:
    """After each iteration: every env's mean reward per step and mean |action| (the policy's sampled output)."""
    stats, hook = [], trainer.runner.on_iteration

    def record(completed: int) -> None:
        storage = trainer.runner.alg.storage  # still holds the last rollout after the update
        if completed > len(stats):
            stats.append({"reward": storage.rewards[..., 0].mean(0).clone(),
                          "action": storage.actions.abs().mean((0, 2)).clone()})
        hook(completed)

    trainer.runner.on_iteration = record
    return stats


@pytest.mark.parametrize("rnn_type, symmetry", [("none", "augment"), ("lstm", "loss")])
def test_training_on_two_workers_matches_in_process_statistics(rnn_type, symmetry, ray_instance, tmp_path):
    """rsl-rl's own loop on the workers' env (its step fans out to them): the same seed gives the same initial
    policy, and per iteration the same reward and action statistics as in-process, for an MLP and for an LSTM
    (whose hidden state the learner keeps, as in-process)."""
    cfg, tcfg = env_cfg(128), train_cfg(3, symmetry="auto", rnn_type=rnn_type)
    local = Trainer(cfg, tcfg, tmp_path / "local", seed=SEED)
    remote = Trainer(cfg, tcfg, tmp_path / "ray", seed=SEED, env=RayVecEnv(cfg, RayOptions(workers=2)))
    try:
        assert remote.symmetry == local.symmetry == symmetry  # the probe env gives the mirror maps
        for key, value in local.runner.alg.actor.state_dict().items():  # same seed, same initial policy
            assert torch.equal(value, remote.runner.alg.actor.state_dict()[key])
        curves = [_per_env_stats(local), _per_env_stats(remote)]
        results = [local.train(show_progress=False), remote.train(show_progress=False)]
        assert [r.iterations for r in results] == [3, 3]
        assert results[0].env_steps == results[1].env_steps == 3 * 16 * 128
        for it, (a, b) in enumerate(zip(*curves)):
            for key in ("reward", "action"):
                # envs are independent samples of the same process: the means differ by sampling noise only,
                # within 4 standard errors (a false alarm about once in 16000 comparisons)
                se = (a[key].var() / 128 + b[key].var() / 128).sqrt()
                gap = (a[key].mean() - b[key].mean()).abs()
                assert gap <= 4 * se, (it, key, float(gap), float(se))
                assert 4 * se < 0.25 * a[key].mean().abs()  # and it would notice a curve 25 % off
            assert not torch.equal(a["reward"], b["reward"])  # different env seeds: different samples
        ckpt = load_checkpoint(results[1].checkpoint)  # weights_only=True
        assert ckpt["iteration"] == 3 and ckpt["env_state"]["layout"] == "ray"
        assert len(ckpt["env_state"]["workers"]) == 2
        assert [v for _, v in scalars(tmp_path / "ray", "Ray/worker_restarts")] == [0.0, 0.0, 0.0]
        assert len(scalars(tmp_path / "ray", "Metrics/lin_vel_error")) == 3
    finally:
        remote.close()


@pytest.mark.slow
def test_a_synchronous_ray_run_resumes_exactly(ray_instance, tmp_path):
    cfg, tcfg = env_cfg(32), train_cfg(3)
    straight = Trainer(cfg, tcfg, tmp_path, seed=SEED, env=RayVecEnv(cfg, RayOptions(workers=2)))
    try:
        straight.train(show_progress=False)
        final = {k: v.clone() for k, v in straight.runner.alg.actor.state_dict().items()}
    finally:
        straight.close()
    resumed = Trainer(cfg, tcfg, tmp_path, seed=SEED, env=RayVecEnv(cfg, RayOptions(workers=2)))
    try:
        resumed.load(tmp_path / "checkpoints" / "model_000002.pt")
        assert resumed.train(fresh=False, show_progress=False).iterations == 3
        for key, value in resumed.runner.alg.actor.state_dict().items():
            assert torch.equal(value, final[key]), key
    finally:
        resumed.close()


def test_a_killed_worker_is_restarted_and_no_iteration_is_lost(ray_instance, tmp_path, caplog):
    cfg = env_cfg(32)
    trainer = Trainer(cfg, train_cfg(3, steps=48), tmp_path, seed=SEED, env=RayVecEnv(cfg, RayOptions(workers=2)))
    try:
        pool = trainer.env.pool
        victim = pool.pids()[0]
        real_gather, killed = pool.gather, []

        def gather_after_a_kill(tasks, *args, **kwargs):
            # iteration 2: a control step has been submitted; the learner is about to wait for it
            if trainer.iteration == 1 and not killed and tasks and tasks[0]["method"] == "step":
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            return real_gather(tasks, *args, **kwargs)

        pool.gather = gather_after_a_kill
        with caplog.at_level(logging.WARNING, logger="stridelab.distributed.pool"):
            result = trainer.train(show_progress=False)
        assert killed and result.iterations == 3 and result.stopped_because == "max_iterations"
        assert pool.restarts == [1, 0] and pool.total_restarts == 1
        assert victim not in pool.pids()
        assert any("died" in r.getMessage() and "re-creating" in r.getMessage() for r in caplog.records)
        for it in range(1, 4):  # every iteration completed and was saved with all its data
            data = load_checkpoint(tmp_path / "checkpoints" / f"model_{it:06d}.pt")
            assert data["iteration"] == it and data["env_steps"] == it * 48 * 32
        # the counter shows the restart from the step it happened at (rsl-rl logs its mean over the iteration)
        restarts = [v for _, v in scalars(tmp_path, "Ray/worker_restarts")]
        assert restarts[0] == 0.0 and 0.0 < restarts[1] <= 1.0 and restarts[2] == 1.0
    finally:
        trainer.close()


@pytest.mark.parametrize("rnn_type", ["none", "lstm"])
def test_async_rollouts_bound_and_log_the_policy_lag(rnn_type, ray_instance, tmp_path):
    cfg = env_cfg(16)
    trainer = Trainer(cfg, train_cfg(3, steps=8, rnn_type=rnn_type), tmp_path, seed=SEED,
                      env=RayVecEnv(cfg, RayOptions(workers=2, async_rollouts=True)))
    try:
        result = trainer.train(show_progress=False)
        assert result.iterations == 3 and trainer.env.last_lag == 1.0
        # the first batch uses the initial weights; later ones were collected during the previous update
        assert [v for _, v in scalars(tmp_path, "Ray/policy_lag")] == [0.0, 1.0, 1.0]
        assert all(np.isfinite(v) for _, v in scalars(tmp_path, "Loss/surrogate"))
    finally:
        trainer.close()
