"""rsl-rl-lib runners whose own ``learn()`` loop trains stridelab's policies.

rsl-rl-lib's ``OnPolicyRunner.learn`` runs rollouts, updates, its NaN check and its TensorBoard
logging, and calls ``save(path)`` at the end of every iteration whose index is a multiple of
``cfg["save_interval"]`` (and once more after the loop). stridelab passes ``save_interval=1`` and
overrides ``save`` so that it is an end-of-iteration hook: it never writes rsl-rl's checkpoint file,
it calls :attr:`StridelabRunner.on_iteration` (the trainer's checkpoints, budgets, walk checks and
progress), which may raise :class:`StopTraining` to end ``learn()`` early. An env whose steps another
policy sampled (asynchronous Ray workers) is replayed through the same loop (:func:`replay_behaviour`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rsl_rl.algorithms import PPO
from rsl_rl.runners import DistillationRunner, OnPolicyRunner
from rsl_rl.utils import resolve_callable

from stridelab.errors import ConfigError


class StopTraining(Exception):
    """Raised from the end-of-iteration hook to end rsl-rl's ``learn()``; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StridelabRunner(OnPolicyRunner):
    """rsl-rl-lib's ``OnPolicyRunner`` (PPO) with ``save`` turned into an end-of-iteration hook.

    Attributes:
        policy_model: the algorithm's model that is the deployable policy (its key in ``alg.save()``
            is ``<policy_model>_state_dict`` and its observation set in ``cfg["obs_groups"]``).
        on_iteration: called with the number of completed iterations after each iteration.
    """

    policy_model = "actor"

    def __init__(self, env, train_cfg: dict, log_dir: str | None = None, device: str = "cpu") -> None:
        super().__init__(env, train_cfg, log_dir=log_dir, device=device)
        self.on_iteration: Callable[[int], None] | None = None
        from stridelab.learn.symmetry import reuse_update_forward

        reuse_update_forward(self.alg)  # augmentation logs its mirror loss without a second actor pass
        if getattr(env, "behaviour", None) is not None:
            if not isinstance(self.alg, PPO):
                raise ConfigError(f"asynchronous Ray rollouts replay a behaviour policy into PPO, not into "
                                  f"{type(self.alg).__name__}; train it synchronously (drop --async-rollouts).")
            replay_behaviour(self.alg, env.behaviour)

    def save(self, path: str, infos: dict | None = None) -> None:
        """The end-of-iteration hook (``path`` and ``infos`` are ignored: rsl-rl writes no checkpoint).

        rsl-rl sets ``current_learning_iteration`` to the index of the iteration just finished, so
        ``current_learning_iteration + 1`` iterations are complete. After its loop rsl-rl calls ``save``
        once more for the same iteration; the hook receives that count twice.
        """
        if self.on_iteration is not None:
            self.on_iteration(self.current_learning_iteration + 1)


def replay_behaviour(alg: Any, behaviour: Callable[[], tuple | None]) -> None:
    """Make ``alg.act`` record what another policy did, for an env whose steps were sampled elsewhere.

    ``behaviour()`` returns ``None`` (the learner acts: rsl-rl's ``act`` unchanged) or the step's
    ``(observations, actions, log_prob, distribution_params)`` from the policy that acted (asynchronous Ray
    workers, one iteration behind). rsl-rl's ``act`` then runs on those observations (the critic's values, a
    recurrent actor's stored hidden state), and the transition keeps the behaviour's actions, log-probabilities
    and distribution parameters: PPO's "old" policy is the one that acted, so its ratio is the importance
    weight of the newer policy and its KL is measured against the policy that acted. The only change to
    rsl-rl's loop; installed on the instance by :class:`StridelabRunner` when the env has ``behaviour``.
    """
    act = alg.act

    def act_or_replay(obs: Any) -> Any:
        step = behaviour()
        if step is None:
            return act(obs)
        seen, actions, log_prob, params = step
        act(seen.to(alg.device))
        tr = alg.transition
        tr.actions, tr.actions_log_prob = actions.to(alg.device), log_prob.to(alg.device)
        tr.distribution_params = tuple(p.to(alg.device) for p in params)
        return tr.actions

    alg.act = act_or_replay


class StridelabDistillationRunner(StridelabRunner, DistillationRunner):
    """rsl-rl-lib's ``DistillationRunner`` (its own loop: DAgger with the teacher labelling every step) with the same
    end-of-iteration hook, a student that is the deployable policy, and the teacher read from a checkpoint.

    The runner config (``TrainConfig.rsl_rl_dict`` with ``distillation`` set) names the teacher's checkpoint
    (``teacher_checkpoint``); its rsl-rl model config, observation group sizes and actor weights become rsl-rl's
    teacher (reading ``obs_groups["teacher"]``, the same sizes in this env), the student's policy MLP takes the
    teacher's shape, and with ``init_from_teacher`` the student starts from the teacher's weights where the
    shapes allow (:meth:`stridelab.learn.belief.BeliefStudent.init_from_teacher`).
    """

    policy_model = "student"

    def __init__(self, env, train_cfg: dict, log_dir: str | None = None, device: str = "cpu") -> None:
        from stridelab.learn.checkpoint import latest_checkpoint, load_checkpoint, policy_state_dict

        path = latest_checkpoint(Path(train_cfg.pop("teacher_checkpoint")))
        init = bool(train_cfg.pop("init_from_teacher", True))
        teacher = load_checkpoint(path)
        obs = env.get_observations()
        mine = {g: int(obs[g].shape[-1]) for g in train_cfg["obs_groups"]["teacher"]}
        theirs = dict(teacher["policy_obs_groups"])
        if list(mine.values()) != list(theirs.values()):
            raise ConfigError(f"the teacher {path} reads {theirs} but this env gives it {mine}; distil with the task the "
                              f"teacher was trained on.")
        train_cfg["teacher"] = dict(teacher["policy_cfg"])
        student = train_cfg["student"]
        student.setdefault("hidden_dims", list(train_cfg["teacher"].get("hidden_dims", (128, 128, 128))))
        student.setdefault("activation", train_cfg["teacher"].get("activation", "elu"))
        if student.pop("decoder", False):  # the decoder's sizes go into the config: a checkpoint rebuilds it
            student["decoder_sizes"] = {
                "scan": sum(int(obs[g].shape[-1]) for g in student["scan_target_groups"]),
                "privileged": sum(int(obs[g].shape[-1]) for g in student["privileged_groups"])}
        super().__init__(env, train_cfg, log_dir=log_dir, device=device)
        self.alg.load({"teacher_state_dict": policy_state_dict(teacher)}, {"teacher": True}, strict=True)
        self.teacher_checkpoint = path
        if init and hasattr(self.alg.student, "init_from_teacher"):
            copied = self.alg.student.init_from_teacher(self.alg.teacher)
            logging.getLogger(__name__).info("the student starts from the teacher's %s", ", ".join(copied) or "nothing")


RUNNERS: dict[str, type[StridelabRunner]] = {"StridelabRunner": StridelabRunner,
                                              "StridelabDistillationRunner": StridelabDistillationRunner}


def resolve_runner(name: str) -> type[StridelabRunner]:
    """The runner class ``TrainConfig.runner_class`` names: a key of :data:`RUNNERS` or ``"module:Class"``."""
    if name in RUNNERS:
        return RUNNERS[name]
    try:
        cls = resolve_callable(name) if ("." in name or ":" in name) else None
    except (ImportError, AttributeError, ValueError):
        cls = None
    if isinstance(cls, type) and issubclass(cls, StridelabRunner):
        return cls
    raise ConfigError(f"train.runner_class = {name!r} is not a stridelab runner; use one of {', '.join(RUNNERS)} "
                      f"or 'module:Class' of a StridelabRunner subclass.")
