"""Observation layout and meaning: sizes, slices right after reset, commands, last action, history."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stridelab.mdp.observations import policy_layout, privileged_layout

NOISELESS = {"noise": 0.0}
# policy frame of a 12-joint robot: ang vel 3, gravity 3, commands 3, joint pos 12, joint vel 12, last action 12
SLICES = {"base_ang_vel": slice(0, 3), "projected_gravity": slice(3, 6), "velocity_commands": slice(6, 9),
          "joint_pos": slice(9, 21), "joint_vel": slice(21, 33), "last_action": slice(33, 45)}


def test_layout_sizes_and_order(make_env):
    env = make_env()
    obs = env.get_observations()
    assert obs["policy"].shape == (4, 45) and obs["policy"].dtype == torch.float32
    assert obs["privileged"].shape == (4, 57) and obs["privileged"].dtype == torch.float32
    terms = policy_layout(env.cfg.observations, 12)
    offsets = np.cumsum([0] + [t.size for t in terms])
    assert {t.name: slice(int(a), int(b)) for t, a, b in zip(terms, offsets[:-1], offsets[1:])} == SLICES
    # 3 lin vel + 4 contacts + 4 frictions + 1 mass + 3 com + 3 x 12 gains + 6 push
    assert sum(t.size for t in privileged_layout(12, 4)) == 57


def test_observations_right_after_reset(make_env):
    env = make_env(observations=NOISELESS)
    pol = env.get_observations()["policy"].numpy().astype(np.float64)
    # level base (reset yaws it only): gravity straight down in the base frame
    np.testing.assert_allclose(pol[:, SLICES["projected_gravity"]], np.tile([0.0, 0.0, -1.0], (4, 1)), atol=1e-6)
    # at rest: no angular or joint velocity, no last action
    np.testing.assert_array_equal(pol[:, SLICES["base_ang_vel"]], 0.0)
    np.testing.assert_array_equal(pol[:, SLICES["joint_vel"]], 0.0)
    np.testing.assert_array_equal(pol[:, SLICES["last_action"]], 0.0)
    # joint angles are offsets from the default pose, within the reset noise
    offsets = env.sim.qpos[:, env.robot.qpos_adr] - env.default_pose
    np.testing.assert_allclose(pol[:, SLICES["joint_pos"]], offsets, atol=1e-6)
    assert np.abs(offsets).max() <= env.cfg.init_joint_noise + 1e-12
    assert np.abs(offsets).max() > 0.0  # the noise is applied
    # commands scaled per component by (lin_vel_scale, lin_vel_scale, ang_vel_scale) = (2, 2, 0.25)
    np.testing.assert_allclose(pol[:, SLICES["velocity_commands"]], env.command.commands * [2.0, 2.0, 0.25],
                               rtol=1e-6)


def test_command_and_last_action_slices_after_a_step(make_env):
    env = make_env(observations=NOISELESS)
    actions = torch.from_numpy(np.random.default_rng(1).normal(0.0, 0.3, size=(4, 12)).astype(np.float32))
    obs, _, dones, _ = env.step(actions)
    assert not dones.any()
    pol = obs["policy"]
    torch.testing.assert_close(pol[:, SLICES["last_action"]], actions, rtol=0, atol=0)
    expected = torch.from_numpy((env.command.commands * [2.0, 2.0, 0.25]).astype(np.float32))
    torch.testing.assert_close(pol[:, SLICES["velocity_commands"]], expected)
    # joint velocities scaled by 0.05, angular velocity by 0.25
    s = env.state
    torch.testing.assert_close(pol[:, SLICES["joint_vel"]], torch.from_numpy((s.joint_vel * 0.05).astype(np.float32)))
    torch.testing.assert_close(pol[:, SLICES["base_ang_vel"]],
                               torch.from_numpy((s.base_ang_vel * 0.25).astype(np.float32)))


def test_last_action_is_clipped(make_env):
    env = make_env(observations=NOISELESS, clip_actions=1.0)
    actions = torch.full((4, 12), 0.5)
    actions[:, 0] = 3.0
    obs, _, dones, _ = env.step(actions)
    assert not dones.any()
    expected = actions.clone()
    expected[:, 0] = 1.0
    torch.testing.assert_close(obs["policy"][:, SLICES["last_action"]], expected)


def test_noise_changes_only_noisy_terms(make_env):
    clean = make_env(observations=NOISELESS).get_observations()["policy"]
    noisy = make_env().get_observations()["policy"]  # same seed, noise scale 1
    diff = (noisy - clean).abs()
    assert diff[:, SLICES["velocity_commands"]].max() == 0.0
    assert diff[:, SLICES["last_action"]].max() == 0.0
    assert 0.0 < diff[:, SLICES["projected_gravity"]].max() <= 0.05 + 1e-6
    assert 0.0 < diff[:, SLICES["joint_pos"]].max() <= 0.01 + 1e-6
    assert 0.0 < diff[:, SLICES["joint_vel"]].max() <= 1.5 * 0.05 + 1e-6  # noise 1.5 rad/s, scaled by 0.05


@pytest.mark.parametrize("history", [2])
def test_history_stacks_frames_oldest_first(make_env, history):
    env = make_env(observations={**NOISELESS, "history": history})
    ref = make_env(observations=NOISELESS)  # same seed, no history: same frames
    frames = history + 1
    assert env.get_observations()["policy"].shape == (4, 45 * frames)
    # right after reset, every slot holds the first frame
    first = env.get_observations()["policy"].reshape(4, frames, 45)
    for k in range(frames):
        torch.testing.assert_close(first[:, k], ref.get_observations()["policy"], rtol=0, atol=0)
    rng = np.random.default_rng(2)
    seen = [ref.get_observations()["policy"]]
    for _ in range(3):
        a = torch.from_numpy(rng.normal(0.0, 0.3, size=(4, 12)).astype(np.float32))
        obs, _, d1, _ = env.step(a)
        ref_obs, _, d2, _ = ref.step(a)
        assert not d1.any() and not d2.any()
        seen.append(ref_obs["policy"])
        stacked = obs["policy"].reshape(4, frames, 45)
        torch.testing.assert_close(stacked[:, -1], ref_obs["policy"], rtol=0, atol=0)  # newest = current
        for k in range(frames):
            torch.testing.assert_close(stacked[:, k], seen[max(0, len(seen) - frames + k)], rtol=0, atol=0)


def test_history_is_refilled_on_reset(make_env):
    env = make_env(observations={**NOISELESS, "history": 2}, episode_length_s=0.06)  # 3 control steps
    zero = torch.zeros(4, 12)
    for _ in range(2):
        obs, _, dones, _ = env.step(zero)
        assert not dones.any()
    obs, _, dones, extras = env.step(zero)
    assert dones.all() and extras["time_outs"].all()
    stacked = obs["policy"].reshape(4, 3, 45)
    for k in range(2):  # old-episode frames are replaced by the first frame of the new episode
        torch.testing.assert_close(stacked[:, k], stacked[:, 2], rtol=0, atol=0)


def test_set_commands_keeps_the_history(make_env):
    env = make_env(num_envs=2, observations={**NOISELESS, "history": 2})
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(3):
        obs, _, dones, _ = env.step(torch.from_numpy(rng.normal(0.0, 0.3, size=(2, 12)).astype(np.float32)))
        assert not dones.any()
        frames.append(obs["policy"].reshape(2, 3, 45)[:, -1].clone())
    env.set_commands(np.array([0.5, 0.0, 0.0]))
    stacked = env.get_observations()["policy"].reshape(2, 3, 45)
    expected_cmd = torch.tensor([1.0, 0.0, 0.0]).expand(2, 3)  # 0.5 m/s x scale 2
    torch.testing.assert_close(stacked[:, -1, SLICES["velocity_commands"]], expected_cmd)
    # the two older slots are still the two previous control steps
    torch.testing.assert_close(stacked[:, 0], frames[0], rtol=0, atol=0)
    torch.testing.assert_close(stacked[:, 1], frames[1], rtol=0, atol=0)
