"""Observation groups: layout, meaning right after reset, commands, last action, noise, history, and the
deploy builder rebuilding the policy group from its description."""

from __future__ import annotations

import numpy as np
import pytest
import torch

NOISELESS = {"noise": 0.0}  # policy group options
CLEAN = {"policy": NOISELESS}
# policy frame of a 12-joint robot: ang vel 3, gravity 3, commands 3, joint pos 12, joint vel 12, last action 12,
# gait clock 8 (sin, cos of 4 feet)
SLICES = {"base_ang_vel": slice(0, 3), "projected_gravity": slice(3, 6), "velocity_commands": slice(6, 9),
          "joint_pos": slice(9, 21), "joint_vel": slice(21, 33), "last_action": slice(33, 45),
          "gait_clock": slice(45, 53)}


def test_layout_sizes_and_order(make_env):
    env = make_env()
    obs = env.get_observations()
    assert obs["policy"].shape == (4, 53) and obs["policy"].dtype == torch.float32
    assert obs["privileged"].shape == (4, 12) and obs["privileged"].dtype == torch.float32
    policy = env.observations.groups["policy"]
    offsets = np.cumsum([0] + policy.sizes)
    assert {name: slice(int(a), int(b)) for name, a, b in zip(policy.term_names, offsets[:-1], offsets[1:])} == SLICES
    desc = policy.describe()
    assert desc["size"] == desc["frame_size"] == 53 and desc["history"] == 0
    assert {t["name"]: slice(t["offset"], t["offset"] + t["size"]) for t in desc["terms"]} == SLICES
    by_name = {t["name"]: t for t in desc["terms"]}
    assert by_name["velocity_commands"]["scale"] == [2.0, 2.0, 0.25]
    assert by_name["joint_vel"]["scale"] == [0.05] * 12 and by_name["joint_vel"]["noise"] == 1.5
    assert by_name["joint_pos"]["func"] == "stridelab.mdp.observations:joint_pos_rel"
    # privileged by default: 3 lin vel + 4 contacts + 4 frictions + 1 added mass (only what is randomized)
    privileged = env.observations.groups["privileged"]
    assert privileged.term_names == ["base_lin_vel", "foot_contact", "randomized"] and privileged.sizes == [3, 4, 5]
    parts = privileged.describe()["terms"][2]["parts"]
    assert [(p["name"], p["size"]) for p in parts] == [("friction", 4), ("added_mass", 1)]


def test_observations_right_after_reset(make_env):
    env = make_env(observations=CLEAN)
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
    assert np.abs(offsets).max() <= env.cfg.events["reset_robot"].params["joint_noise"] + 1e-12
    assert np.abs(offsets).max() > 0.0  # the noise is applied
    # commands scaled per component by (lin_vel_scale, lin_vel_scale, ang_vel_scale) = (2, 2, 0.25)
    command = env.commands.terms["velocity"].command
    np.testing.assert_allclose(pol[:, SLICES["velocity_commands"]], command * [2.0, 2.0, 0.25], rtol=1e-6)


def test_command_and_last_action_slices_after_a_step(make_env):
    env = make_env(observations=CLEAN)
    actions = torch.from_numpy(np.random.default_rng(1).normal(0.0, 0.3, size=(4, 12)).astype(np.float32))
    obs, _, dones, _ = env.step(actions)
    assert not dones.any()
    pol = obs["policy"]
    torch.testing.assert_close(pol[:, SLICES["last_action"]], actions, rtol=0, atol=0)
    expected = torch.from_numpy((env.commands.terms["velocity"].command * [2.0, 2.0, 0.25]).astype(np.float32))
    torch.testing.assert_close(pol[:, SLICES["velocity_commands"]], expected)
    # joint velocities scaled by 0.05, angular velocity by 0.25
    s = env.state
    torch.testing.assert_close(pol[:, SLICES["joint_vel"]], torch.from_numpy((s.joint_vel * 0.05).astype(np.float32)))
    torch.testing.assert_close(pol[:, SLICES["base_ang_vel"]],
                               torch.from_numpy((s.base_ang_vel * 0.25).astype(np.float32)))


def test_last_action_is_clipped(make_env):
    env = make_env(observations=CLEAN, action={"params": {"clip": 1.0}})
    actions = torch.full((4, 12), 0.5)
    actions[:, 0] = 3.0
    obs, _, dones, _ = env.step(actions)
    assert not dones.any()
    expected = actions.clone()
    expected[:, 0] = 1.0
    torch.testing.assert_close(obs["policy"][:, SLICES["last_action"]], expected)


def test_noise_changes_only_noisy_terms(make_env):
    clean_obs, noisy_obs = make_env(observations=CLEAN).get_observations(), make_env().get_observations()
    clean, noisy = clean_obs["policy"], noisy_obs["policy"]  # same seed, noise scale 1
    diff = (noisy - clean).abs()
    assert 0.0 < diff[:, SLICES["base_ang_vel"]].max() <= 0.2 * 0.25 + 1e-6  # noise 0.2 rad/s, scaled by 0.25
    assert diff[:, SLICES["velocity_commands"]].max() == 0.0
    assert diff[:, SLICES["last_action"]].max() == 0.0
    assert 0.0 < diff[:, SLICES["projected_gravity"]].max() <= 0.05 + 1e-6
    assert 0.0 < diff[:, SLICES["joint_pos"]].max() <= 0.01 + 1e-6
    assert 0.0 < diff[:, SLICES["joint_vel"]].max() <= 1.5 * 0.05 + 1e-6  # noise 1.5 rad/s, scaled by 0.05
    # the privileged group has no noise (its group multiplier is 0)
    assert torch.equal(noisy_obs["privileged"], clean_obs["privileged"])


@pytest.mark.parametrize("history", [2])
def test_history_stacks_frames_oldest_first(make_env, history):
    env = make_env(observations={"policy": {**NOISELESS, "history": history}})
    ref = make_env(observations=CLEAN)  # same seed, no history: same frames
    frames = history + 1
    assert env.get_observations()["policy"].shape == (4, 53 * frames)
    # right after reset, every slot holds the first frame
    first = env.get_observations()["policy"].reshape(4, frames, 53)
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
        stacked = obs["policy"].reshape(4, frames, 53)
        torch.testing.assert_close(stacked[:, -1], ref_obs["policy"], rtol=0, atol=0)  # newest = current
        for k in range(frames):
            torch.testing.assert_close(stacked[:, k], seen[max(0, len(seen) - frames + k)], rtol=0, atol=0)


def test_history_is_refilled_on_reset(make_env):
    env = make_env(observations={"policy": {**NOISELESS, "history": 2}}, episode_length_s=0.06)  # 3 control steps
    zero = torch.zeros(4, 12)
    for _ in range(2):
        obs, _, dones, _ = env.step(zero)
        assert not dones.any()
    obs, _, dones, extras = env.step(zero)
    assert dones.all() and extras["time_outs"].all()
    stacked = obs["policy"].reshape(4, 3, 53)
    for k in range(2):  # old-episode frames are replaced by the first frame of the new episode
        torch.testing.assert_close(stacked[:, k], stacked[:, 2], rtol=0, atol=0)


def test_set_commands_keeps_the_history(make_env):
    env = make_env(num_envs=2, observations={"policy": {**NOISELESS, "history": 2}})
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(3):
        obs, _, dones, _ = env.step(torch.from_numpy(rng.normal(0.0, 0.3, size=(2, 12)).astype(np.float32)))
        assert not dones.any()
        frames.append(obs["policy"].reshape(2, 3, 53)[:, -1].clone())
    env.set_commands(np.array([0.5, 0.0, 0.0]))
    stacked = env.get_observations()["policy"].reshape(2, 3, 53)
    expected_cmd = torch.tensor([1.0, 0.0, 0.0]).expand(2, 3)  # 0.5 m/s x scale 2
    torch.testing.assert_close(stacked[:, -1, SLICES["velocity_commands"]], expected_cmd)
    # the two older slots are still the two previous control steps
    torch.testing.assert_close(stacked[:, 0], frames[0], rtol=0, atol=0)
    torch.testing.assert_close(stacked[:, 1], frames[1], rtol=0, atol=0)


# ---- the deploy observation: the same group rebuilt from its description -------------------------------

def _sample(env, i: int):
    """Env ``i``'s proprioceptive signals as a robot reports them."""
    from stridelab.deploy.backend import RobotSignals

    s = env.state
    return RobotSignals(stamp=float(env.episode_length[i] * env.dt), joint_pos=s.joint_pos[i].copy(),
                      joint_vel=s.joint_vel[i].copy(), base_quat=s.base_quat[i].copy(),
                      base_ang_vel=s.base_ang_vel[i].copy())


def test_deploy_builder_with_history_matches_the_env(make_env):
    from stridelab.deploy.observation import ObservationBuilder

    # the env's gait clocks start at phase 0 like a robot's (not at random, as in training)
    env = make_env(num_envs=3, observations={"policy": {"history": 2, "noise": 0.0}}, episode_length_s=0.1,
                   commands={"gait": {"params": {"random_start": False}}})
    desc = env.observations.groups["policy"].describe()
    assert desc["size"] == 159 and desc["frame_size"] == 53 and desc["history"] == 2
    meta = {"observation": desc, "default_joint_pos": env.default_pose.tolist(), "gait": env.commands.gait.describe(),
            "control_dt": env.dt}
    builders = [ObservationBuilder(meta) for _ in range(env.num_envs)]  # one robot per env
    rng = np.random.default_rng(5)

    def check(obs: torch.Tensor) -> None:
        for i, b in enumerate(builders):
            got = b(_sample(env, i), env.state.commands[i], env.actions[i])
            assert got.shape == (1, 159) and got.dtype == np.float32
            np.testing.assert_allclose(got[0], obs[i].numpy(), rtol=1e-6, atol=1e-6)

    check(env.get_observations()["policy"])
    stale = ObservationBuilder(meta)  # robot 0 again, but never told that an episode ended
    stale(_sample(env, 0), env.state.commands[0], env.actions[0])
    for step in range(1, 9):  # the episodes end after 5 steps, all at once
        a = torch.from_numpy(rng.normal(0.0, 0.3, size=(3, 12)).astype(np.float32))
        obs, _, dones, _ = env.step(a)
        stacked = obs["policy"].reshape(3, 3, 53)
        late = stale(_sample(env, 0), env.state.commands[0], env.actions[0])[0].reshape(3, 53)
        if step == 5:
            assert dones.all()
            for b in builders:
                b.reset()  # each robot starts a new episode
            # the env refilled the history with the new episode's first frame; a builder that was not
            # reset still holds the old episode's frames
            for k in range(2):
                torch.testing.assert_close(stacked[:, k], stacked[:, 2], rtol=0, atol=0)
            # (its clock did not restart either: compare the frame without the clock's 8 values)
            np.testing.assert_allclose(late[2, :45], stacked[0, 2, :45].numpy(), rtol=1e-6, atol=1e-6)
            assert not np.allclose(late[0], stacked[0, 0].numpy(), atol=1e-3)
        else:
            assert not dones.any()
            assert not torch.equal(stacked[:, 0], stacked[:, 2])  # oldest and newest frames differ mid-episode
        check(obs["policy"])
