"""Teacher-student distillation with a belief decoder: rsl-rl-lib's ``Distillation`` plus a reconstruction loss.

rsl-rl-lib's :class:`~rsl_rl.runners.DistillationRunner` runs the loop (DAgger: the student acts, the teacher
labels every step, the update replays the rollout step by step with truncated backpropagation through time of
``gradient_length`` steps). Its algorithm's loss covers the actions only; :class:`BeliefDistillation` is that
algorithm with the student's decoder added (Miki et al. 2022)::

    loss = MSE(student actions, teacher actions) + reconstruction_coef * (MSE(scan_hat, clean scan)
                                                                          + MSE(priv_hat, privileged))

both reconstructions in the decoder's normalized units (:mod:`stridelab.learn.belief`). With
``reconstruction_coef = 0`` (or a student without a decoder) it is rsl-rl's loss. Selected by the algorithm
config's ``class_name``; everything else (storage, acting, the teacher, saving and loading) is rsl-rl's.
"""

from __future__ import annotations

from typing import Any

import torch
from rsl_rl.algorithms import Distillation
from torch import nn


class BeliefDistillation(Distillation):
    """rsl-rl-lib's distillation with the belief decoder's reconstruction loss (module docstring).

    Args (beyond rsl-rl's Distillation):
        reconstruction_coef: weight of the decoder's loss (0: actions only).
    """

    def __init__(self, student: Any, teacher: Any, storage: Any, *, reconstruction_coef: float = 0.5,
                 **kwargs: Any) -> None:
        super().__init__(student, teacher, storage, **kwargs)
        self.reconstruction_coef = float(reconstruction_coef)
        self.reconstructs = self.reconstruction_coef > 0 and getattr(student, "decoder", None) is not None

    def update(self) -> dict[str, float]:
        """Epochs over the stored rollout, step by step, with truncated BPTT; returns the mean losses.

        The same walk through the storage as rsl-rl's ``Distillation.update`` (hidden states carried from the
        last update, a gradient step every ``gradient_length`` steps, states reset at episode ends), with the
        decoder's reconstruction added to each step's loss."""
        self.num_updates += 1
        sums = {"behavior": 0.0, "reconstruction": 0.0, "gate": 0.0}
        loss: Any = 0
        cnt = 0
        for _ in range(self.num_learning_epochs):
            self.student.reset(hidden_state=self.last_hidden_states[0])
            self.teacher.reset(hidden_state=self.last_hidden_states[1])
            self.student.detach_hidden_state()
            for batch in self.storage.generator():
                obs = batch.observations
                if self.reconstructs:
                    actions, scan, privileged = self.student.forward_with_reconstruction(obs)
                    scan_target, privileged_target = self.student.reconstruction_targets(obs)
                    reconstruction = (nn.functional.mse_loss(scan, scan_target)
                                      + nn.functional.mse_loss(privileged, privileged_target))
                else:
                    actions, reconstruction = self.student(obs), torch.zeros(())
                behavior = self.loss_fn(actions, batch.privileged_actions)
                loss = loss + behavior + self.reconstruction_coef * reconstruction
                sums["behavior"] += behavior.item()
                sums["reconstruction"] += reconstruction.item()
                gate = getattr(self.student, "last_gate", None)
                sums["gate"] += float(gate.mean()) if gate is not None else 0.0
                cnt += 1
                if cnt % self.gradient_length == 0:
                    self.optimizer.zero_grad()
                    loss.backward()
                    if self.max_grad_norm:
                        nn.utils.clip_grad_norm_(self.student.parameters(), self.max_grad_norm)
                    self.optimizer.step()
                    self.student.detach_hidden_state()
                    loss = 0
                dones = batch.dones.view(-1)
                self.student.reset(dones)
                self.teacher.reset(dones)
                self.student.detach_hidden_state(dones)
        self.last_hidden_states = (self.student.get_hidden_state(), self.teacher.get_hidden_state())
        self.student.detach_hidden_state()
        self.student.update_normalization(self.storage.observations.flatten(0, 1))
        self.storage.clear()
        return {"behavior": sums["behavior"] / cnt, "reconstruction": sums["reconstruction"] / cnt,
                "gate_mean": sums["gate"] / cnt}
