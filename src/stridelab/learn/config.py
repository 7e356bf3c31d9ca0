"""Training configuration (PPO with a privileged critic) and its translation to rsl-rl-lib's dict.

The learner is chosen by name, so another rsl-rl-lib algorithm (e.g. a distillation learner) plugs in
without code changes here: ``TrainConfig.runner_class`` names the runner (a subclass of
:class:`stridelab.learn.runners.StridelabRunner`) and ``algorithm.class_name`` the rsl-rl algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import tyro

from stridelab.errors import ConfigError

STRIDELAB_PPO = "stridelab.learn.ppo:StridelabPPO"


@dataclass(frozen=True)
class PPOConfig:
    """rsl-rl-lib PPO hyperparameters (names as in ``rsl_rl.algorithms.PPO``).

    ``class_name`` is the algorithm class, resolved by rsl-rl-lib (``"PPO"``, or ``"module:Class"``).
    ``"PPO"`` trains with rsl-rl's PPO, or with its subclass :class:`stridelab.learn.ppo.StridelabPPO`
    when a feature needs it (``max_kl``, or a recurrent policy with the mirror loss).

    ``schedule="adaptive"`` is rsl-rl's KL-adaptive learning rate: after each mini-batch the step size
    is divided by 1.5 when the KL of the policy's change exceeds ``2 * desired_kl`` and multiplied by 1.5
    when it is below ``desired_kl / 2`` (kept within [1e-5, 1e-2]); ``"fixed"`` keeps ``learning_rate``.
    ``max_kl`` (0: off) is a hard limit on the KL of a whole iteration's update, enforced by halving the
    step of the actor (see :mod:`stridelab.learn.ppo`); ``kl_line_search_steps`` halvings at most.
    """

    class_name: str = "PPO"
    learning_rate: float = 1e-3
    schedule: str = "adaptive"
    desired_kl: float = 0.01
    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    clip_param: float = 0.2
    gamma: float = 0.99
    lam: float = 0.95
    value_loss_coef: float = 1.0
    entropy_coef: float = 0.005
    max_grad_norm: float = 1.0
    use_clipped_value_loss: bool = True
    max_kl: float = 0.0  # hard limit on KL(old || new) of one iteration's update (actor step halving); 0: off
    kl_line_search_steps: int = 10  # step halvings before the actor keeps its old weights

    def __post_init__(self) -> None:
        if not self.class_name:
            raise ConfigError("algorithm.class_name is empty; use 'PPO' or 'module:Class' of an rsl-rl algorithm.")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"algorithm.learning_rate = {self.learning_rate} is out of range; use (0, 1).")
        if self.schedule not in ("adaptive", "fixed"):
            raise ConfigError(f"algorithm.schedule = {self.schedule!r} is unknown; use 'adaptive' or 'fixed'.")
        if not 0 < self.gamma <= 1 or not 0 <= self.lam <= 1:
            raise ConfigError("algorithm.gamma must be in (0, 1] and algorithm.lam in [0, 1].")
        if self.num_learning_epochs < 1 or self.num_mini_batches < 1:
            raise ConfigError("algorithm.num_learning_epochs and num_mini_batches must be at least 1.")
        if self.desired_kl <= 0:
            raise ConfigError(f"algorithm.desired_kl = {self.desired_kl} must be positive, e.g. 0.01.")
        if self.max_kl < 0:
            raise ConfigError(f"algorithm.max_kl = {self.max_kl} must be >= 0 (0: no KL limit), e.g. 0.02.")
        if not 0 <= self.kl_line_search_steps <= 30:
            raise ConfigError(f"algorithm.kl_line_search_steps = {self.kl_line_search_steps} is out of range; "
                              f"use 0 to 30.")


@dataclass(frozen=True)
class DistillationConfig:
    """Teacher-student distillation (``stridelab distill``): rsl-rl-lib's DistillationRunner with a belief student.

    Attributes:
        teacher: the teacher's run directory or checkpoint (its newest valid checkpoint).
        student_obs_groups: the groups the student reads: proprioception, then the noisy height scan.
        teacher_obs_groups: the groups the teacher reads in the student's env, in its own order (its clean scan).
        scan_target_groups, privileged_groups: what the decoder reconstructs (the clean scan, the privileged state).
        rnn_hidden_dim: size of the student's belief state (its GRU).
        embed_dim: size of each of the GRU's input embeddings (proprioception, scan).
        reconstruction_coef: weight of the decoder's loss; 0 trains a student without a decoder.
        init_from_teacher: the student starts from the teacher's policy MLP and input normalization.
        learning_rate: Adam's step size.
        num_learning_epochs: passes over each rollout.
        gradient_length: control steps per truncated-BPTT gradient step.
        max_grad_norm: gradient clipping (0: none).
    """

    teacher: str = ""
    student_obs_groups: tuple[str, ...] = ("policy", "extero")
    teacher_obs_groups: tuple[str, ...] = ("policy", "teacher_extero")
    scan_target_groups: tuple[str, ...] = ("teacher_extero",)
    privileged_groups: tuple[str, ...] = ("privileged",)
    rnn_hidden_dim: int = 128
    embed_dim: int = 64
    reconstruction_coef: float = 0.5
    init_from_teacher: bool = True
    learning_rate: float = 5e-4
    num_learning_epochs: int = 2
    gradient_length: int = 12
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        if self.reconstruction_coef < 0:
            raise ConfigError(f"distillation.reconstruction_coef = {self.reconstruction_coef} must be >= 0 (0: no "
                              f"decoder).")
        if self.rnn_hidden_dim < 1 or self.embed_dim < 1 or self.num_learning_epochs < 1 or self.gradient_length < 1:
            raise ConfigError("distillation.rnn_hidden_dim, embed_dim, num_learning_epochs and gradient_length must be "
                              "at least 1.")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"distillation.learning_rate = {self.learning_rate} is out of range; use (0, 1).")
        if len(self.student_obs_groups) != 2:
            raise ConfigError(f"distillation.student_obs_groups = {self.student_obs_groups}: give two groups, the "
                              f"proprioception and the noisy height scan.")

    def rsl_rl_parts(self, num_steps_per_env: int) -> dict:
        """The student, teacher and algorithm entries of rsl-rl-lib's distillation runner config."""
        decoder = self.reconstruction_coef > 0
        return {
            "obs_groups": {"student": list(self.student_obs_groups), "teacher": list(self.teacher_obs_groups)},
            "algorithm": {"class_name": "stridelab.learn.distillation:BeliefDistillation",
                          "num_learning_epochs": self.num_learning_epochs,
                          "gradient_length": min(self.gradient_length, num_steps_per_env),
                          "learning_rate": self.learning_rate, "max_grad_norm": self.max_grad_norm or None,
                          "loss_type": "mse", "reconstruction_coef": self.reconstruction_coef},
            "student": {"class_name": "stridelab.learn.belief:BeliefStudent",
                        "proprio_groups": [self.student_obs_groups[0]], "scan_groups": [self.student_obs_groups[1]],
                        "rnn_hidden_dim": self.rnn_hidden_dim, "embed_dim": self.embed_dim,
                        "decoder": decoder, "scan_target_groups": list(self.scan_target_groups),
                        "privileged_groups": list(self.privileged_groups)},
            "teacher_checkpoint": self.teacher,
            "init_from_teacher": self.init_from_teacher,
        }


@dataclass(frozen=True)
class TrainConfig:
    """How to train: rollout size, networks, PPO, checkpoints, stopping rules.

    Attributes:
        num_steps_per_env: control steps per env per iteration.
        max_iterations: iteration budget.
        max_minutes: wall-clock budget [min] (0: none).
        stop_when_walks: evaluate every ``check_every_s`` and stop once the policy walks.
        check_every_s: training time between walk checks [s].
        check_below_lin_vel_error: a walk check runs only once the training (stochastic) policy tracks
            the planar command better than this [m/s]: earlier checks cannot pass and cost time.
        actor_hidden_dims, critic_hidden_dims: MLP sizes.
        init_noise_std: initial action standard deviation.
        torch_threads: torch intra-op threads (physics threads come from the env config).
        save_interval: iterations between checkpoints.
        rnn_type: ``"none"`` (an MLP actor), or ``"lstm"``/``"gru"``: a recurrent actor (rsl-rl-lib's
            ``RNNModel``: normalizer, ``rnn_num_layers`` layers of ``rnn_hidden_dim`` units, then the MLP).
        symmetry: left/right mirror symmetry: ``augment`` (rsl-rl-lib's Symmetry extension: mirrored
            copies of every mini-batch; MLP actors only), ``loss`` (a mirror loss weighted by
            ``mirror_loss_coef``: rsl-rl's per sample for an MLP, stridelab's over whole sequences for a
            recurrent actor, :mod:`stridelab.learn.mirror`), ``off``, or ``auto``: when the robot has a
            mirror map and every observation term can be mirrored, ``augment`` for an MLP actor and
            ``loss`` for a recurrent one; otherwise ``off``.
        mirror_loss_fraction: the share of each mini-batch's trajectories the recurrent mirror loss is
            computed on, drawn at random (in (0, 1]; 1: all): its cost scales with it.
        runner_class: the runner that drives rsl-rl-lib's loop: a name registered in
            :mod:`stridelab.learn.runners` (``"StridelabRunner"``: PPO) or ``"module:Class"``.
        actor_obs_groups, critic_obs_groups: observation groups the actor and the critic read, in order
            (rsl-rl-lib's ``obs_groups``); a rough-terrain teacher adds ``extero`` (the height scan).
        distillation: set, this trains a student from a teacher instead of PPO (``runner_class``
            ``StridelabDistillationRunner``; the actor/critic settings above are then unused).
    """

    num_steps_per_env: int = 24
    max_iterations: int = 5000
    max_minutes: float = 20.0
    stop_when_walks: bool = True
    check_every_s: float = 30.0  # a check costs ~4 s; every 30 s finds the walking policy ~15 s sooner
    check_below_lin_vel_error: float = 0.3
    actor_hidden_dims: tuple[int, ...] = (128, 128, 128)
    critic_hidden_dims: tuple[int, ...] = (128, 128, 128)
    activation: str = "elu"
    rnn_type: str = "none"  # "lstm" or "gru" for a recurrent actor (rsl-rl-lib RNNModel)
    rnn_hidden_dim: int = 64
    rnn_num_layers: int = 1
    init_noise_std: float = 0.5  # with mirror augmentation; see docs/benchmarks.md (runs A, B)
    obs_normalization: bool = True
    torch_threads: int = 2
    save_interval: int = 50
    symmetry: str = "auto"
    mirror_loss_coef: float = 1.0
    mirror_loss_fraction: float = 0.25  # recurrent mirror loss on 1/4 of the trajectories (docs/benchmarks.md)
    runner_class: str = "StridelabRunner"
    actor_obs_groups: tuple[str, ...] = ("policy",)
    critic_obs_groups: tuple[str, ...] = ("policy", "privileged")
    algorithm: PPOConfig = field(default_factory=PPOConfig)
    # AvoidSubcommands: --train.distillation.* options when a student is trained, none otherwise
    distillation: Annotated[DistillationConfig | None, tyro.conf.AvoidSubcommands] = None

    def __post_init__(self) -> None:
        if self.num_steps_per_env < 1:
            raise ConfigError(f"num_steps_per_env = {self.num_steps_per_env} must be at least 1.")
        if self.max_iterations < 0:
            raise ConfigError(f"max_iterations = {self.max_iterations} must be at least 0.")
        if self.max_minutes < 0:
            raise ConfigError(f"max_minutes = {self.max_minutes} must be >= 0 (0 means no time limit).")
        if self.save_interval < 1:
            raise ConfigError(f"save_interval = {self.save_interval} must be at least 1.")
        if self.torch_threads < 1:
            raise ConfigError(f"torch_threads = {self.torch_threads} must be at least 1.")
        if self.activation not in ("elu", "relu", "tanh", "selu", "lrelu", "sigmoid", "softplus", "gelu", "swish",
                                   "mish", "identity"):
            raise ConfigError(f"activation = {self.activation!r} is unknown; use elu, relu, tanh, ...")
        if self.rnn_type not in ("none", "lstm", "gru"):
            raise ConfigError(f"rnn_type = {self.rnn_type!r} is unknown; use 'none', 'lstm' or 'gru'.")
        if self.rnn_hidden_dim < 1 or self.rnn_num_layers < 1:
            raise ConfigError("rnn_hidden_dim and rnn_num_layers must be at least 1.")
        if self.symmetry not in ("auto", "augment", "loss", "off"):
            raise ConfigError(f"symmetry = {self.symmetry!r} is unknown; use 'auto', 'augment', 'loss' or 'off'.")
        if self.symmetry == "augment" and self.rnn_type != "none":
            raise ConfigError(f"symmetry 'augment' mirrors single samples and cannot train a recurrent policy "
                              f"(rnn_type {self.rnn_type!r}); use symmetry 'loss' (a mirror loss over whole "
                              f"sequences) or 'off'.")
        if not 0.0 < self.mirror_loss_fraction <= 1.0:
            raise ConfigError(f"mirror_loss_fraction = {self.mirror_loss_fraction} must be within (0, 1]: the share "
                              f"of trajectories the recurrent mirror loss is computed on (1: all).")
        if self.mirror_loss_coef < 0:
            raise ConfigError(f"mirror_loss_coef = {self.mirror_loss_coef} must be >= 0.")
        if not self.actor_obs_groups or not self.critic_obs_groups:
            raise ConfigError("actor_obs_groups and critic_obs_groups must each name at least one observation group, "
                              "e.g. ('policy',).")
        if not self.runner_class:
            raise ConfigError("runner_class is empty; use 'StridelabRunner' or 'module:Class' of a StridelabRunner.")

    def _symmetry_cfg(self, mode: str) -> dict | None:
        if mode not in ("augment", "loss"):
            return None
        cfg = {"use_data_augmentation": mode == "augment", "use_mirror_loss": mode == "loss",
               "mirror_loss_coeff": self.mirror_loss_coef,
               "data_augmentation_func": "stridelab.learn.symmetry:mirror_augment"}
        if self.rnn_type != "none":  # read by StridelabPPO's recurrent mirror loss only
            cfg["mirror_loss_fraction"] = self.mirror_loss_fraction
        return cfg

    def algorithm_class(self, symmetry: str | None = None) -> str:
        """The rsl-rl algorithm class to train with: ``algorithm.class_name``, where ``"PPO"`` becomes
        :data:`STRIDELAB_PPO` when ``max_kl`` or a recurrent mirror loss needs it."""
        name = self.algorithm.class_name
        recurrent_loss = self.rnn_type != "none" and (symmetry or self.symmetry) == "loss"
        if name == "PPO" and (self.algorithm.max_kl > 0 or recurrent_loss):
            return STRIDELAB_PPO
        return name

    def rsl_rl_dict(self, symmetry: str | None = None) -> dict:
        """A fresh rsl-rl-lib runner config (rsl-rl mutates what it gets, so never share this dict).

        ``symmetry`` overrides ``self.symmetry`` with the mode the trainer resolved (``auto`` alone
        means ``off`` here: the config cannot see the robot).

        ``save_interval`` is 1: rsl-rl then calls the runner's ``save`` after every iteration, which
        :class:`~stridelab.learn.runners.StridelabRunner` uses as its end-of-iteration hook; stridelab
        writes its own checkpoints every ``self.save_interval`` iterations.
        """
        if self.distillation is not None:
            return {"num_steps_per_env": self.num_steps_per_env, "save_interval": 1, "logger": "tensorboard",
                    "check_for_nan": True, **self.distillation.rsl_rl_parts(self.num_steps_per_env)}
        a = self.algorithm
        class_name = self.algorithm_class(symmetry)
        actor = {
            "class_name": "MLPModel",
            "hidden_dims": list(self.actor_hidden_dims),
            "activation": self.activation,
            "obs_normalization": self.obs_normalization,
            "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": self.init_noise_std},
        }
        if self.rnn_type != "none":
            actor.update(class_name="RNNModel", rnn_type=self.rnn_type, rnn_hidden_dim=self.rnn_hidden_dim,
                         rnn_num_layers=self.rnn_num_layers)
        algorithm = {
            "class_name": class_name,
            "learning_rate": a.learning_rate,
            "schedule": a.schedule,
            "desired_kl": a.desired_kl,
            "num_learning_epochs": a.num_learning_epochs,
            "num_mini_batches": a.num_mini_batches,
            "clip_param": a.clip_param,
            "gamma": a.gamma,
            "lam": a.lam,
            "value_loss_coef": a.value_loss_coef,
            "entropy_coef": a.entropy_coef,
            "max_grad_norm": a.max_grad_norm,
            "use_clipped_value_loss": a.use_clipped_value_loss,
            "symmetry_cfg": self._symmetry_cfg(symmetry or self.symmetry),
        }
        if class_name == STRIDELAB_PPO or a.max_kl > 0:  # rsl-rl's PPO takes no such arguments
            algorithm.update(max_kl=a.max_kl, kl_line_search_steps=a.kl_line_search_steps)
        return {
            "num_steps_per_env": self.num_steps_per_env,
            "save_interval": 1,
            "obs_groups": {"actor": list(self.actor_obs_groups), "critic": list(self.critic_obs_groups)},
            "logger": "tensorboard",
            "check_for_nan": True,
            "algorithm": algorithm,
            "actor": actor,
            "critic": {
                "class_name": "MLPModel",
                "hidden_dims": list(self.critic_hidden_dims),
                "activation": self.activation,
                "obs_normalization": self.obs_normalization,
            },
        }
