"""The recurrent mirror loss that reuses PPO's forward pass: its mirror twin state is the actor's state on the mirrored
history, and on a fixed batch whose trajectories all start from zero it equals the earlier zero-state loss."""

from __future__ import annotations

import pytest
import torch
from rsl_rl.models import RNNModel

import stridelab
from stridelab.learn.config import TrainConfig
from stridelab.learn.mirror import Mirror, MirrorTwin, pad_steps, recurrent_mirror_loss
from stridelab.tasks import make_env_cfg

N = 6


def _equivariant_actor(env, rnn_type: str) -> RNNModel:
    from test_mirror_loss import _actor, make_equivariant

    actor = _actor(env, rnn_type, hidden=8, seed=3)
    make_equivariant(actor, Mirror.of_env(env))
    return actor


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_the_twin_state_is_the_mirror_of_the_actor_state_for_an_equivariant_policy(rnn_type):
    """For an equivariant RNN, h(M o_1..t) = Q h(o_1..t) (Q swaps the hidden halves): the twin, stepped on the
    mirrored observations and reset at episode ends, must be exactly that, and record each step's state."""
    env = stridelab.make("biped-flat", num_envs=N, num_threads=1, seed=5)
    try:
        actor = _equivariant_actor(env, rnn_type)
        mirror = Mirror.of_env(env)
        twin = MirrorTwin(mirror)
        gen = torch.Generator().manual_seed(0)
        obs = env.get_observations()
        actor.reset()
        steps, swapped = 10, []
        for t in range(steps):
            twin.begin_step(actor, obs, t, steps)
            with torch.no_grad():
                actions = actor(obs)  # one recurrent call advances the actor's own state and the twin's
            twin.end_step(actor)
            state = actor.get_hidden_state()
            state = list(state) if isinstance(state, tuple) else [state]
            half = state[0].shape[-1] // 2
            swapped.append([torch.roll(s, half, dims=-1) for s in state])
            for mine, want in zip(twin.state, swapped[-1]):
                torch.testing.assert_close(mine, want, atol=1e-5, rtol=1e-5)
            obs, _, dones, _ = env.step(actions + 0.3 * torch.randn(actions.shape, generator=gen))
            dones = dones.clone()
            dones[t % N] = True  # some episode ends, so that resets are exercised
            actor.reset(dones)
            twin.reset(dones)
            for s in twin.state:
                assert torch.count_nonzero(s[:, dones.bool()]) == 0
        for t in range(1, steps):  # saved[t] is the state before step t: the previous step's state after resets
            assert twin.saved[0].shape == (steps, *twin.state[0].shape)
            mask = torch.ones(N, dtype=torch.bool)
            mask[(t - 1) % N] = False
            torch.testing.assert_close(twin.saved[0][t][:, mask], swapped[t - 1][0][:, mask], atol=1e-5, rtol=1e-5)
    finally:
        env.close()


def test_pad_steps_inverts_rsl_rl_unpadding():
    from rsl_rl.utils import split_and_pad_trajectories, unpad_trajectories

    values = torch.randn(7, 4, 3, requires_grad=True)
    dones = torch.zeros(7, 4, 1, dtype=torch.uint8)
    dones[2, 0] = dones[4, 0] = dones[5, 3] = 1
    padded, masks = split_and_pad_trajectories(values.detach(), dones)
    again = pad_steps(values, masks)
    torch.testing.assert_close(again, padded)
    torch.testing.assert_close(unpad_trajectories(again, masks), values)
    again.sum().backward()  # autograd reaches the per-env values
    assert torch.equal(values.grad, torch.ones_like(values))


def _trainer(tmp_path, iterations: int):
    from dataclasses import replace

    from stridelab.learn.trainer import Trainer

    # 0.4 s episodes (20 control steps): time-outs end episodes inside every 12-step rollout
    env_cfg = replace(make_env_cfg("biped-flat", num_envs=16, num_threads=1, seed=4), episode_length_s=0.4)
    cfg = TrainConfig(num_steps_per_env=12, max_iterations=iterations, save_interval=1, rnn_type="lstm",
                      rnn_hidden_dim=16, rnn_num_layers=2, torch_threads=1, actor_hidden_dims=(32, 32),
                      critic_hidden_dims=(32, 32), symmetry="loss", mirror_loss_fraction=1.0)
    return Trainer(env_cfg, cfg, tmp_path, seed=4)


def test_the_update_loss_equals_the_zero_state_loss_on_a_batch_that_starts_from_zero(tmp_path):
    """Iteration 1 starts every trajectory from the zero state (the actor's and the twin's): the loss computed from
    the update's own forward pass and the twin equals the earlier loss of two zero-state passes, mini-batch by
    mini-batch. Iteration 2 starts from carried states: there the two differ (the twin is used)."""
    trainer = _trainer(tmp_path, 2)
    alg = trainer.runner.alg
    sym = alg.symmetry
    pairs: list[tuple[int, float, float]] = []
    real = sym.compute_loss

    def both(actor, batch, size):
        new = real(actor, batch, size)
        with torch.no_grad():
            old = recurrent_mirror_loss(actor, batch.observations, batch.masks, sym.mirror)
        pairs.append((trainer.iteration, float(new), float(old)))
        return new

    sym.compute_loss = both
    try:
        trainer.train(show_progress=False)
    finally:
        trainer.close()
    first = [(new, old) for it, new, old in pairs if it == 0]
    later = [(new, old) for it, new, old in pairs if it == 1]
    assert len(first) == len(later) == alg.num_learning_epochs * alg.num_mini_batches
    for new, old in first:
        assert old > 1e-6 and new == pytest.approx(old, rel=1e-5, abs=1e-9)
    assert any(new != pytest.approx(old, rel=1e-3) for new, old in later)


def test_the_twin_states_are_cut_into_mini_batches_as_rsl_rl_cuts_the_actor_states(tmp_path):
    """Given the actor's own stored states as the twin's, each mini-batch's twin trajectory starts are exactly
    rsl-rl's ``batch.hidden_states[0]`` (after a carried-over rollout, with episodes ending inside it)."""
    trainer = _trainer(tmp_path, 2)
    alg = trainer.runner.alg
    sym, storage = alg.symmetry, alg.storage
    checked = []
    real = alg.update

    def check_then_update():
        if trainer.iteration == 1:
            saved = sym.twin.saved
            sym.twin.saved = [s.clone() for s in storage.saved_hidden_state_a]
            sym.begin_update(storage, alg.num_mini_batches)
            batches = list(storage.recurrent_mini_batch_generator(alg.num_mini_batches, 1))
            assert len(batches) == alg.num_mini_batches > 1
            for i, batch in enumerate(batches):
                for mine, theirs in zip(sym.twin_starts(i), batch.hidden_states[0]):
                    assert torch.equal(mine, theirs), i
            assert any(torch.count_nonzero(b.hidden_states[0][0]) > 0 for b in batches)  # carried states
            assert int(storage.dones.sum()) > 0  # and trajectories split inside the rollout
            sym.twin.saved = saved
            checked.append(True)
        return real()

    alg.update = check_then_update
    try:
        trainer.train(show_progress=False)
    finally:
        trainer.close()
    assert checked == [True]
