"""LocomotionEnv: resets, time limits, determinism, standing, a random-action soak, unstable simulations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

NOISELESS = {"policy": {"noise": 0.0}}


def flip(env, i: int) -> None:
    """Turn env ``i``'s base upside down (180 deg about x) in the live simulation state."""
    b = env.robot.base_qpos_adr
    env.sim.qpos[i, b + 3:b + 7] = [0.0, 1.0, 0.0, 0.0]


def test_time_limit_truncates_at_max_episode_length(make_env):
    env = make_env(episode_length_s=0.1)  # 5 control steps of 0.02 s
    assert env.dt == pytest.approx(0.02)
    assert env.max_episode_length == 5
    zero = torch.zeros(4, 12)
    for k in range(1, 5):
        _, _, dones, extras = env.step(zero)
        assert not dones.any() and not extras["time_outs"].any()
        assert env.episode_length_buf.tolist() == [k] * 4
    _, _, dones, extras = env.step(zero)
    assert extras["time_outs"].dtype == torch.bool
    assert dones.all() and extras["time_outs"].all()
    assert env.episode_length_buf.tolist() == [0] * 4
    assert extras["log"]["Episode_Termination/time_out"] == 4.0
    # the next episode runs its full length again
    for _ in range(4):
        _, _, dones, _ = env.step(zero)
        assert not dones.any()
    assert env.episode_length_buf.tolist() == [4] * 4


def test_termination_resets_only_that_env_and_is_not_a_time_out(make_env):
    env = make_env(episode_length_s=0.1)
    zero = torch.zeros(4, 12)
    for _ in range(2):
        env.step(zero)
    flip(env, 1)
    _, rew, dones, extras = env.step(zero)
    assert dones.tolist() == [False, True, False, False]
    assert not extras["time_outs"].any()
    assert env.episode_length_buf.tolist() == [3, 0, 3, 3]
    assert extras["log"]["Episode_Termination/bad_orientation"] == 1.0
    assert torch.isfinite(rew).all()
    # the reset env is upright again (projected gravity z = -1 in its new first observation)
    assert env.state.projected_gravity[1, 2] == pytest.approx(-1.0)
    # a termination on the last step of the episode is a termination, not a time out
    env.step(zero)
    flip(env, 2)
    _, _, dones, extras = env.step(zero)  # envs 0, 2, 3 reach 5 steps now
    assert dones.tolist() == [True, False, True, True]
    assert extras["time_outs"].tolist() == [True, False, False, True]
    assert env.episode_length_buf.tolist() == [0, 2, 0, 0]


def _rollout(env, steps: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    out = [env.get_observations().clone()]
    rews, dones = [], []
    for _ in range(steps):
        a = torch.from_numpy(rng.normal(0.0, 1.0, size=(env.num_envs, env.num_actions)).astype(np.float32))
        obs, r, d, _ = env.step(a)
        out.append(obs.clone())
        rews.append(r.clone())
        dones.append(d.clone())
    return out, torch.stack(rews), torch.stack(dones)


def test_same_seed_is_bit_identical_across_thread_counts(make_env):
    obs1, rew1, done1 = _rollout(make_env(num_envs=8, num_threads=1, seed=3), 20)
    obs2, rew2, done2 = _rollout(make_env(num_envs=8, num_threads=2, seed=3), 20)
    for a, b in zip(obs1, obs2):
        assert torch.equal(a["policy"], b["policy"])
        assert torch.equal(a["privileged"], b["privileged"])
    assert torch.equal(rew1, rew2) and torch.equal(done1, done2)
    obs3, _, _ = _rollout(make_env(num_envs=8, num_threads=1, seed=4), 20)
    assert not torch.equal(obs1[0]["policy"], obs3[0]["policy"])
    assert not torch.equal(obs1[-1]["policy"], obs3[-1]["policy"])


def test_zero_actions_stand_for_20_seconds(make_env):
    env = make_env(num_envs=16, episode_length_s=30.0)
    zero = torch.zeros(16, 12)
    lowest = np.inf
    for _ in range(1000):  # 20 s at 50 Hz
        _, rew, dones, _ = env.step(zero)
        assert not dones.any()
        lowest = min(lowest, float(env.state.base_pos[:, 2].min()))
    assert env.episode_length_buf.tolist() == [1000] * 16  # never reset
    assert lowest > 0.2
    assert np.all(env.state.projected_gravity[:, 2] < -0.95)  # still level
    assert torch.isfinite(rew).all()


def test_random_action_soak(make_env):
    n, steps = 256, 200  # 51,200 env steps
    env = make_env(num_envs=n, num_threads=2, seed=11)
    gen = torch.Generator().manual_seed(0)
    n_done = 0
    for _ in range(steps):
        actions = torch.randn(n, 12, generator=gen) * 3.0  # large enough that robots fall
        obs, rew, dones, extras = env.step(actions)
        assert rew.shape == (n,) and torch.isfinite(rew).all()
        n_done += int(dones.sum())
    assert torch.isfinite(obs["policy"]).all() and torch.isfinite(obs["privileged"]).all()
    assert n_done > 100  # the soak really exercises terminations and resets
    assert type(extras["unstable_total"]) is int and extras["unstable_total"] >= 0
    assert np.isfinite(env.sim.qpos).all() and np.isfinite(env.sim.qvel).all()


@pytest.mark.parametrize("bad", [np.nan, 1e12])
def test_unstable_simulation_is_reset_and_others_untouched(make_env, bad):
    env = make_env(num_envs=6, observations=NOISELESS)
    ref = make_env(num_envs=6, observations=NOISELESS)  # same seed, never perturbed
    a = torch.from_numpy(np.random.default_rng(0).normal(0.0, 0.3, size=(6, 12)).astype(np.float32))
    for _ in range(3):
        env.step(a)
        ref.step(a)
    env.sim.qvel[3, env.robot.base_dof_adr] = bad
    obs, rew, dones, extras = env.step(a)
    ref_obs, ref_rew, ref_dones, _ = ref.step(a)
    assert dones.tolist() == [False, False, False, True, False, False]
    assert not extras["time_outs"].any()
    assert extras["unstable"] == 1 and extras["unstable_total"] == 1
    assert extras["log"]["Episode_Termination/unstable"] == 1.0
    assert rew[3] == 0.0  # no reward from a meaningless state
    assert env.episode_length_buf.tolist() == [4, 4, 4, 0, 4, 4]
    assert np.isfinite(env.sim.qpos).all() and np.isfinite(env.sim.qvel).all()
    assert torch.isfinite(obs["policy"]).all()
    others = [0, 1, 2, 4, 5]
    assert torch.equal(obs["policy"][others], ref_obs["policy"][others])
    assert torch.equal(rew[others], ref_rew[others])
    assert not ref_dones.any()
    # the count accumulates and a reset env keeps running
    _, _, dones, extras = env.step(a)
    assert extras["unstable"] == 0 and extras["unstable_total"] == 1
    assert env.episode_length_buf.tolist() == [5, 5, 5, 1, 5, 5]


def test_only_positive_rewards_clips_each_step_at_zero(make_env):
    clipped, raw = make_env(num_envs=4), make_env(num_envs=4, only_positive_rewards=False)
    assert clipped.cfg.only_positive_rewards
    a = torch.full((4, 12), 2.0)  # a violent action: penalties outweigh tracking
    _, r_clipped, d_clipped, _ = clipped.step(a)
    _, r_raw, d_raw, _ = raw.step(a)
    assert not d_clipped.any() and not d_raw.any()  # no termination penalty (it is added after the clip)
    assert (r_raw < 0).any()
    assert torch.equal(r_clipped, r_raw.clamp(min=0.0))


def _episode_check(env, pre_steps: int):
    """Run ``pre_steps`` steps, ``reset_all``, then one full episode of zero actions.

    Returns (mean over envs of the summed step rewards, sum of the logged Episode_Reward terms x episode length).
    """
    for _ in range(pre_steps):
        env.step(torch.full((env.num_envs, 12), 0.5))
    if pre_steps:
        env.reset_all()
    total = torch.zeros(env.num_envs, dtype=torch.float64)
    for _ in range(env.max_episode_length):
        _, rew, dones, extras = env.step(torch.zeros(env.num_envs, 12))
        total += rew.double()
    assert dones.all() and extras["time_outs"].all()
    logged = sum(v for k, v in extras["log"].items() if k.startswith("Episode_Reward/")) * env.cfg.episode_length_s
    return float(total.mean()), logged


# the logged terms add up to the returned reward with and without legged_gym's clip at zero (the clip is
# logged as its own term, only_positive_clip)
@pytest.mark.parametrize("only_positive", [False, True])
def test_logged_episode_rewards_match_the_returned_rewards(make_env, only_positive):
    env = make_env(num_envs=2, episode_length_s=0.1, only_positive_rewards=only_positive)
    returned, logged = _episode_check(env, pre_steps=0)
    assert logged == pytest.approx(returned, rel=1e-5)
    assert ("Episode_Reward/only_positive_clip" in env.extras["log"]) == only_positive


@pytest.mark.parametrize("only_positive", [False, True])
def test_reset_all_starts_fresh_episode_sums(make_env, only_positive):
    env = make_env(num_envs=2, episode_length_s=0.1, only_positive_rewards=only_positive)
    returned, logged = _episode_check(env, pre_steps=3)
    assert logged == pytest.approx(returned, rel=1e-5)


def test_max_episode_length_of_a_whole_number_of_steps(make_env):
    assert make_env(num_envs=1, episode_length_s=0.14).max_episode_length == 7


def test_snapshot_resumes_bit_identically(make_env, tmp_path):
    """envs/snapshot.py: simulation rows, per-env model fields, buffers, every manager's state and the RNG."""
    from stridelab.envs.snapshot import env_state_dict, load_env_state

    every = dict(num_envs=6, episode_length_s=0.2, observations={"policy": {"history": 2}},
                 commands={"velocity": {"params": {"resample_s": 0.1}}},
                 events={"push": {"params": {"velocity": 0.5}, "interval_s": (0.06, 0.1)},
                         "actuator_gains": {"params": {"kp_factor": (0.8, 1.2), "kd_factor": (0.8, 1.2)}},
                         "base_mass": {"params": {"com_offset": (-0.01, 0.01)}}})
    env = make_env(**every)
    gen = torch.Generator().manual_seed(0)
    actions = [torch.randn(6, 12, generator=gen) for _ in range(20)]
    for a in actions[:7]:
        env.step(a)
    torch.save(env_state_dict(env), tmp_path / "env.pt")
    first = [env.step(a) for a in actions[7:]]
    other = make_env(**{**every, "seed": 99})  # a different start, overwritten by the snapshot
    load_env_state(other, torch.load(tmp_path / "env.pt", weights_only=True))
    second = [other.step(a) for a in actions[7:]]
    assert any(d.any() for _, _, d, _ in first)  # resets (and so reset draws) happen after the snapshot
    for (o1, r1, d1, e1), (o2, r2, d2, e2) in zip(first, second):
        for group in ("policy", "privileged"):
            assert torch.equal(o1[group], o2[group])
        assert torch.equal(r1, r2) and torch.equal(d1, d2)
        assert e1["log"] == e2["log"]
    np.testing.assert_array_equal(env.sim.qpos, other.sim.qpos)
    for name in ("geom_friction", "body_mass", "body_ipos", "actuator_gainprm", "actuator_biasprm"):
        np.testing.assert_array_equal(env.sim.batch.expanded(name), other.sim.batch.expanded(name))
