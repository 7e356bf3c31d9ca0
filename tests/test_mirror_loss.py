"""Mirror symmetry for recurrent policies: the mirror of observation sequences and actions, the sequence mirror
loss (zero for an equivariant LSTM/GRU, positive otherwise, equal to a step-by-step computation), its place in
PPO's loss, and the symmetry settings that select it."""

from __future__ import annotations

import pytest
import torch
from rsl_rl.models import RNNModel
from rsl_rl.utils import split_and_pad_trajectories
from tensordict import TensorDict
from torch import nn

import stridelab
from stridelab.errors import ConfigError
from stridelab.learn.config import TrainConfig
from stridelab.learn.mirror import Mirror, recurrent_mirror_loss, zero_hidden_state
from stridelab.tasks import make_env_cfg

T, N = 12, 5  # steps per trajectory batch, envs


@pytest.fixture(scope="module", params=["biped-flat", "quadruped-flat"])
def env(request):
    env = stridelab.make(request.param, num_envs=N, num_threads=1, seed=2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        env.step(torch.randn(N, env.num_actions, generator=gen) * 0.3)
    yield env
    env.close()


def _sequence(env, steps: int = T) -> TensorDict:
    """A (steps, N) TensorDict of real observations of every group."""
    gen = torch.Generator().manual_seed(1)
    frames = []
    for _ in range(steps):
        obs, *_ = env.step(torch.randn(N, env.num_actions, generator=gen) * 0.3)
        frames.append(obs.clone())
    return torch.stack(frames)


def _clock_slice(env) -> slice:
    offset = 0
    for term in env.observations.groups["policy"].describe()["terms"]:
        if term["name"] == "gait_clock":
            return slice(offset, offset + term["size"])
        offset += term["size"]
    raise AssertionError("no gait_clock term")


def test_mirror_is_an_involution_on_sequences_of_every_group_and_on_actions(env):
    mirror = Mirror.of_env(env)
    seq = _sequence(env)
    assert set(seq.keys()) == {"policy", "privileged"} and seq.batch_size == torch.Size([T, N])
    once = mirror.obs(seq)
    twice = mirror.obs(once)
    for key in seq.keys():
        assert not torch.equal(once[key], seq[key]), key  # the mirror is not the identity
        assert torch.equal(twice[key], seq[key]), key
    actions = torch.randn(T, N, env.num_actions)
    assert not torch.equal(mirror.actions(actions), actions)
    assert torch.equal(mirror.actions(mirror.actions(actions)), actions)
    # the gait clock of an alternating gait (biped L/R, trot FL+RR / FR+RL) mirrors as half a cycle's
    # phase shift: sin and cos of every foot change sign
    clock = _clock_slice(env)
    assert torch.allclose(once["policy"][..., clock], -seq["policy"][..., clock], atol=1e-6)
    # the command (vx, vy, yaw rate) mirrors to (vx, -vy, -yaw rate)
    command = seq["policy"][..., 6:9]
    assert torch.equal(once["policy"][..., 6:9], command * torch.tensor([1.0, -1.0, -1.0]))


def _signed_permutation(perm: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """M with (M x)[i] = x[perm[i]] * sign[i]."""
    m = torch.zeros(len(perm), len(perm))
    m[torch.arange(len(perm)), perm] = sign
    return m


def _swap_halves(n: int) -> torch.Tensor:
    return torch.roll(torch.eye(n), n // 2, dims=1)


def _actor(env, rnn_type: str, hidden: int = 8, mlp=(6, 4), seed: int = 0) -> RNNModel:
    torch.manual_seed(seed)
    obs = env.get_observations()
    actor = RNNModel(obs, {"actor": ["policy"]}, "actor", env.num_actions, hidden_dims=list(mlp), activation="elu",
                     obs_normalization=True, distribution_cfg={"class_name": "GaussianDistribution", "init_std": 1.0},
                     rnn_type=rnn_type, rnn_hidden_dim=hidden)
    norm = actor.obs_normalizer
    norm._mean.normal_(0.0, 0.5)
    norm._std.uniform_(0.5, 2.0)
    return actor


def make_equivariant(actor: RNNModel, mirror: Mirror) -> None:
    """Project the weights so that actor(M_o x_1..t) = M_a actor(x_1..t) from the zero state.

    Hidden units (RNN and MLP) mirror by swapping halves (Q); every weight W from a layer mirrored by Q_in to
    one mirrored by Q_out becomes (W + Q_out W Q_in) / 2 and every bias b becomes (b + Q_out b) / 2; the
    observation normalizer's statistics are made mirror-invariant."""
    p_obs = _signed_permutation(*mirror.obs_maps["policy"])
    p_act = _signed_permutation(*mirror.action_map)
    perm = mirror.obs_maps["policy"][0]
    with torch.no_grad():
        norm = actor.obs_normalizer
        norm._mean.copy_(0.5 * (norm._mean + norm._mean @ p_obs.T))
        norm._std.copy_(0.5 * (norm._std + norm._std[:, perm]))
        rnn = actor.rnn.rnn
        q = _swap_halves(rnn.hidden_size)
        gates = 4 if isinstance(rnn, nn.LSTM) else 3
        for layer in range(rnn.num_layers):
            q_in = p_obs if layer == 0 else q
            for name, mat_in in ((f"weight_ih_l{layer}", q_in), (f"weight_hh_l{layer}", q)):
                w = getattr(rnn, name)
                for block in w.view(gates, rnn.hidden_size, -1):
                    block.copy_(0.5 * (block + q @ block @ mat_in))
            for name in (f"bias_ih_l{layer}", f"bias_hh_l{layer}"):
                for block in getattr(rnn, name).view(gates, rnn.hidden_size):
                    block.copy_(0.5 * (block + q @ block))
        linears = [m for m in actor.mlp if isinstance(m, nn.Linear)]
        q_in = q
        for i, lin in enumerate(linears):
            q_out = p_act if i == len(linears) - 1 else _swap_halves(lin.out_features)
            lin.weight.copy_(0.5 * (lin.weight + q_out @ lin.weight @ q_in))
            lin.bias.copy_(0.5 * (lin.bias + q_out @ lin.bias))
            q_in = q_out


def _padded(env, seed: int = 3):
    """The policy group of a real sequence, split at random dones and padded, as rsl-rl's mini-batches hold it."""
    seq = _sequence(env).select("policy")
    gen = torch.Generator().manual_seed(seed)
    dones = (torch.rand(T, N, 1, generator=gen) < 0.15).to(torch.uint8)
    padded, masks = split_and_pad_trajectories(seq, dones)
    return seq, dones, padded, masks


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_mirror_loss_is_zero_for_an_equivariant_policy_and_positive_otherwise(env, rnn_type):
    mirror = Mirror.of_env(env)
    _, _, padded, masks = _padded(env)
    assert padded.batch_size[1] > N  # some trajectories were split
    actor = _actor(env, rnn_type)
    random_loss = recurrent_mirror_loss(actor, padded, masks, mirror).item()
    make_equivariant(actor, mirror)
    loss = recurrent_mirror_loss(actor, padded, masks, mirror).item()
    assert random_loss > 1e-4 and loss < 1e-10, (random_loss, loss)
    # the equivariant policy is not trivial: its actions vary and are not mirror-invariant
    with torch.no_grad():
        out = actor(padded, masks=masks, hidden_state=zero_hidden_state(actor, padded.batch_size[1]))
    assert out.std() > 1e-3 and (mirror.actions(out) - out).abs().max() > 1e-3


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_mirror_loss_equals_a_step_by_step_computation(env, rnn_type):
    """Padded trajectories and masks give the same loss as running each trajectory step by step from zero."""
    mirror = Mirror.of_env(env)
    seq, dones, padded, masks = _padded(env, seed=4)
    actor = _actor(env, rnn_type, seed=1)

    def run(source: TensorDict, e: int) -> torch.Tensor:
        """Env e's actions, one step at a time, the state cleared at the start of each trajectory. (T, A)"""
        actor.reset()
        out = []
        for t in range(T):
            out.append(actor(source[t, e:e + 1]))
            if dones[t, e]:
                actor.reset()
        return torch.cat(out)

    with torch.no_grad():
        mirrored_seq = mirror.obs(seq)
        diffs = [mirror.actions(run(seq, e)) - run(mirrored_seq, e) for e in range(N)]
        expected = torch.stack(diffs).pow(2).mean().item()
        got = recurrent_mirror_loss(actor, padded, masks, mirror).item()
    assert expected > 1e-4 and got == pytest.approx(expected, rel=1e-5)


def test_a_fraction_of_the_trajectories_gives_the_loss_of_that_random_subset(env):
    """fraction < 1 draws trajectories at random: the loss equals the full loss on exactly those trajectories."""
    mirror = Mirror.of_env(env)
    _, _, padded, masks = _padded(env, seed=5)
    actor = _actor(env, "lstm", seed=2)
    num = masks.shape[1]
    with torch.no_grad():
        got = recurrent_mirror_loss(actor, padded, masks, mirror, 0.5, torch.Generator().manual_seed(7)).item()
        keep = torch.randperm(num, generator=torch.Generator().manual_seed(7))[:round(0.5 * num)]
        expected = recurrent_mirror_loss(actor, padded[:, keep], masks[:, keep], mirror).item()
        full = recurrent_mirror_loss(actor, padded, masks, mirror).item()
    assert got == pytest.approx(expected, rel=1e-6) and got != pytest.approx(full, rel=1e-6)
    with pytest.raises(ConfigError, match="mirror_loss_fraction = 0.0 must be within"):
        TrainConfig(mirror_loss_fraction=0.0)


def _trainer(tmp_path, name, **train):
    from stridelab.learn.trainer import Trainer

    env_cfg = make_env_cfg("quadruped-flat", num_envs=16, num_threads=1, seed=4)
    cfg = TrainConfig(num_steps_per_env=8, max_iterations=1, save_interval=1, rnn_hidden_dim=16, torch_threads=1,
                      actor_hidden_dims=(32, 32), critic_hidden_dims=(32, 32), **train)
    return Trainer(env_cfg, cfg, tmp_path / name, seed=4)


def test_the_mirror_loss_is_part_of_ppo_loss_and_logged(tmp_path):
    from stridelab.learn.mirror import RecurrentMirrorLoss
    from stridelab.learn.ppo import StridelabPPO

    runs = {}
    for coef in (0.0, 1.0):
        trainer = _trainer(tmp_path, f"c{coef}", rnn_type="gru", symmetry="loss", mirror_loss_coef=coef)
        alg = trainer.runner.alg
        assert isinstance(alg, StridelabPPO) and isinstance(alg.symmetry, RecurrentMirrorLoss)
        assert alg.symmetry.fraction == TrainConfig().mirror_loss_fraction
        assert alg.symmetry.mirror_loss_coeff == coef and trainer.runner.cfg["algorithm"]["class_name"] == \
            "stridelab.learn.ppo:StridelabPPO"
        losses = []
        real = alg.update
        alg.update = lambda real=real: losses.append(real()) or losses[-1]
        trainer.train(show_progress=False)
        runs[coef] = (losses[0], {k: v.clone() for k, v in alg.actor.state_dict().items()})
    assert runs[0.0][0]["symmetry"] > 0 and runs[1.0][0]["symmetry"] > 0  # logged either way (Loss/symmetry)
    # with the same data, the coefficient changes the update: the loss is in PPO's loss
    assert any(not torch.equal(runs[0.0][1][k], runs[1.0][1][k]) for k in runs[0.0][1])


def test_symmetry_settings_select_the_recurrent_mirror_loss(tmp_path):
    from dataclasses import replace

    from stridelab.envs.locomotion_env import LocomotionEnv
    from stridelab.learn.trainer import resolve_symmetry
    from stridelab.robots.registry import get_robot
    from stridelab.robots import load_robot

    env = stridelab.make("biped-flat", num_envs=2, num_threads=1)
    assert resolve_symmetry(TrainConfig(rnn_type="lstm"), env) == "loss"  # auto
    assert resolve_symmetry(TrainConfig(rnn_type="none"), env) == "augment"
    assert TrainConfig(rnn_type="lstm", symmetry="loss").algorithm_class("loss") == "stridelab.learn.ppo:StridelabPPO"
    # an MLP keeps rsl-rl's PPO and its own Symmetry extension
    assert TrainConfig(symmetry="loss").algorithm_class("loss") == "PPO"
    with pytest.raises(ConfigError, match="recurrent policy.*'loss'"):
        TrainConfig(rnn_type="gru", symmetry="augment")
    # a robot without a mirror map: auto turns symmetry off, an explicit 'loss' is one clear sentence
    robot = load_robot(replace(get_robot("quadruped"), mirror_perm=None, mirror_sign=None))
    plain = LocomotionEnv(make_env_cfg("quadruped-flat", num_envs=2, num_threads=1), robot=robot)
    assert resolve_symmetry(TrainConfig(rnn_type="gru"), plain) == "off"
    with pytest.raises(ConfigError, match="no mirror map; set mirror_perm"):
        resolve_symmetry(TrainConfig(rnn_type="gru", symmetry="loss"), plain)
