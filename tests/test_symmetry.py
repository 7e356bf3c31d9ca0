"""Mirror symmetry: maps derived from the terms, involution, physical consistency, and rsl-rl wiring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import stridelab
from stridelab.errors import ConfigError
from stridelab.learn.symmetry import mirror_augment, mirror_maps, supports_symmetry


@pytest.fixture
def env():
    return stridelab.make("quadruped-flat", num_envs=4, num_threads=1, seed=1,
                          events={"actuator_gains": {"params": {"kp_factor": (0.8, 1.2)}},
                                  "base_mass": {"params": {"com_offset": (-0.02, 0.02)}}})


def test_mirror_is_an_involution_for_every_group_and_the_action(env):
    for _ in range(3):
        env.step(torch.randn(4, 12) * 0.3)
    obs, actions = env.get_observations(), torch.randn(4, 12)
    mirrored, m_actions = mirror_augment(env, obs, actions)
    assert mirrored.batch_size[0] == 8 and torch.equal(mirrored[:4]["policy"], obs["policy"])
    twice, twice_actions = mirror_augment(env, mirrored[4:], m_actions[4:])
    for key in obs.keys():
        assert torch.allclose(twice[4:][key], obs[key]), key
    assert torch.allclose(twice_actions[4:], actions)


def test_policy_mirror_map_by_hand(env):
    perm, sign = mirror_maps(env)["obs"]["policy"]
    # base angular velocity (wx, wy, wz) -> (-wx, wy, -wz); gravity (gx, gy, gz) -> (gx, -gy, gz)
    assert perm[:6].tolist() == list(range(6)) and sign[:6].tolist() == [-1, 1, -1, 1, -1, 1]
    # command (vx, vy, yaw rate) -> (vx, -vy, -yaw rate)
    assert sign[6:9].tolist() == [1, -1, -1]
    # joint_pos: FL hip <- FR hip, negated; FL thigh <- FR thigh
    assert perm[9].item() == 9 + 3 and sign[9].item() == -1 and perm[10].item() == 10 + 3 and sign[10].item() == 1
    priv_perm, _ = mirror_maps(env)["obs"]["privileged"]
    assert len(priv_perm) == env.get_observations()["privileged"].shape[1]


def test_mirrored_state_and_actions_give_the_mirrored_next_state():
    """Physics check: start two envs in mirrored poses, drive them with mirrored actions, compare.

    The built-in trunk's centre of mass sits 2 mm left of centre (A1's published inertial data); it is
    centred here so that the model itself is symmetric."""
    from stridelab.envs.locomotion_env import LocomotionEnv
    from stridelab.robots.registry import load_robot_of
    from stridelab.tasks import make_env_cfg
    robot = load_robot_of("quadruped")
    robot.model.body_ipos[robot.base_body_id, 1] = 0.0
    cfg = make_env_cfg("quadruped-flat", num_envs=2, num_threads=1, seed=0, observations={"policy": {"noise": 0.0}},
                       events={"friction": {"params": {"range": (1.0, 1.0)}},
                               "base_mass": {"params": {"added_mass": (0.0, 0.0)}},
                               "reset_robot": {"params": {"joint_noise": 0.0, "yaw_range": (0.0, 0.0)}}})
    env = LocomotionEnv(cfg, robot=robot)
    env.set_commands(np.array([[0.5, 0.3, 0.2], [0.5, -0.3, -0.2]]))
    obs = env.reset_all()
    clock = env.commands.gait  # mirrored trot clocks: the left and right feet swap, i.e. half a cycle apart
    clock.phase[:] = [0.1, 0.6]
    clock.step(0.0)
    rng = np.random.default_rng(0)
    perm, sign = (t.numpy() for t in mirror_maps(env)["action"])
    worst = 0.0
    for _ in range(10):
        a = rng.normal(0, 0.5, size=12)
        obs, *_ = env.step(torch.tensor(np.stack([a, a[perm] * sign]), dtype=torch.float32))
        mirrored, _ = mirror_augment(env, obs[:1], None)
        worst = max(worst, float((mirrored[1:]["policy"] - obs[1:]["policy"]).abs().max()))
    assert worst < 1e-3, worst


def test_supports_symmetry_is_false_without_a_mirror_map(tmp_path):
    from dataclasses import replace

    from stridelab.envs.locomotion_env import LocomotionEnv
    from stridelab.robots.registry import get_robot
    from stridelab.tasks import make_env_cfg
    from stridelab.robots import load_robot

    robot = load_robot(replace(get_robot("quadruped"), mirror_perm=None, mirror_sign=None))
    env = LocomotionEnv(make_env_cfg("quadruped-flat", num_envs=2, num_threads=1), robot=robot)
    assert not supports_symmetry(env)
    with pytest.raises(ConfigError, match="mirror map"):
        mirror_maps(env)


def test_trainer_resolves_symmetry(tmp_path):
    from stridelab.config import override
    from stridelab.learn.config import TrainConfig
    from stridelab.learn.trainer import Trainer
    from stridelab.tasks import make_env_cfg
    env_cfg = make_env_cfg("quadruped-flat", num_envs=8, num_threads=1)
    trainer = Trainer(env_cfg, TrainConfig(num_steps_per_env=4, max_iterations=1), tmp_path / "a", seed=0)
    assert trainer.symmetry == "augment" and trainer.runner.alg.symmetry.use_data_augmentation
    result = trainer.train(show_progress=False)
    assert result.iterations == 1
    lstm = Trainer(env_cfg, override(TrainConfig(num_steps_per_env=4), rnn_type="lstm"), tmp_path / "b", seed=0)
    # rsl-rl refuses its Symmetry extension with a recurrent actor: auto selects the sequence mirror loss
    assert lstm.symmetry == "loss" and type(lstm.runner.alg.symmetry).__name__ == "RecurrentMirrorLoss"
    with pytest.raises(ConfigError, match="recurrent"):
        TrainConfig(rnn_type="gru", symmetry="augment")


def test_the_logged_mirror_loss_needs_no_second_actor_pass_and_changes_nothing(tmp_path):
    """With augmentation, rsl-rl logs its mirror loss from a second actor pass; stridelab takes it from the update's
    own pass: the same logged figure, the same weights after two iterations (bit for bit)."""
    import types

    from rsl_rl.extensions.symmetry import Symmetry
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from stridelab.learn.config import TrainConfig
    from stridelab.learn.trainer import Trainer
    from stridelab.tasks import make_env_cfg
    env_cfg = make_env_cfg("quadruped-flat", num_envs=16, num_threads=1)
    cfg = TrainConfig(num_steps_per_env=8, max_iterations=2, actor_hidden_dims=(32, 32), critic_hidden_dims=(32, 32),
                      stop_when_walks=False, max_minutes=0, torch_threads=1)
    ours = Trainer(env_cfg, cfg, tmp_path / "ours", seed=0)
    assert "compute_loss" in vars(ours.runner.alg.symmetry)  # replaced on the instance
    ours.train(show_progress=False)
    theirs = Trainer(env_cfg, cfg, tmp_path / "theirs", seed=0)  # one after the other: torch's global stream
    sym = theirs.runner.alg.symmetry
    sym.compute_loss = types.MethodType(Symmetry.compute_loss, sym)  # rsl-rl's own, with the second pass
    theirs.train(show_progress=False)
    a, b = ours.runner.alg.actor.state_dict(), theirs.runner.alg.actor.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    def logged(run):
        acc = EventAccumulator(str(run))
        acc.Reload()
        return [e.value for e in acc.Scalars("Loss/symmetry")]

    ours_loss, theirs_loss = logged(tmp_path / "ours"), logged(tmp_path / "theirs")
    assert len(ours_loss) == 2 and np.allclose(ours_loss, theirs_loss, rtol=1e-5, atol=1e-9)
    assert max(ours_loss) > 0  # a random actor is not symmetric
