"""Training configuration (PPO with a privileged critic) and its translation to rsl-rl-lib's dict."""

from __future__ import annotations

from dataclasses import dataclass, field

from stridelab.errors import ConfigError


@dataclass(frozen=True)
class PPOConfig:
    """rsl-rl-lib PPO hyperparameters (names as in ``rsl_rl.algorithms.PPO``)."""

    learning_rate: float = 1e-3
    schedule: str = "adaptive"
    desired_kl: float = 0.01
    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    clip_param: float = 0.2
    gamma: float = 0.99
    lam: float = 0.95
    value_loss_coef: float = 1.0
    entropy_coef: float = 0.01
    max_grad_norm: float = 1.0
    use_clipped_value_loss: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"algorithm.learning_rate = {self.learning_rate} is out of range; use (0, 1).")
        if self.schedule not in ("adaptive", "fixed"):
            raise ConfigError(f"algorithm.schedule = {self.schedule!r} is unknown; use 'adaptive' or 'fixed'.")
        if not 0 < self.gamma <= 1 or not 0 <= self.lam <= 1:
            raise ConfigError("algorithm.gamma must be in (0, 1] and algorithm.lam in [0, 1].")
        if self.num_learning_epochs < 1 or self.num_mini_batches < 1:
            raise ConfigError("algorithm.num_learning_epochs and num_mini_batches must be at least 1.")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: rollout size, networks, PPO, checkpoints, stopping rules.

    Attributes:
        num_steps_per_env: control steps per env per iteration.
        max_iterations: iteration budget.
        max_minutes: wall-clock budget [min] (0: none).
        stop_when_walks: evaluate every ``check_every_s`` and stop once the policy walks.
        check_every_s: training time between walk checks [s].
        actor_hidden_dims, critic_hidden_dims: MLP sizes.
        init_noise_std: initial action standard deviation.
        torch_threads: torch intra-op threads (physics threads come from the env config).
        save_interval: iterations between checkpoints.
    """

    num_steps_per_env: int = 24
    max_iterations: int = 5000
    max_minutes: float = 20.0
    stop_when_walks: bool = True
    check_every_s: float = 60.0
    actor_hidden_dims: tuple[int, ...] = (128, 128, 128)
    critic_hidden_dims: tuple[int, ...] = (128, 128, 128)
    activation: str = "elu"
    rnn_type: str = "none"  # "lstm" or "gru" for a recurrent actor (rsl-rl-lib RNNModel)
    rnn_hidden_dim: int = 64
    rnn_num_layers: int = 1
    init_noise_std: float = 1.0
    obs_normalization: bool = True
    torch_threads: int = 2
    save_interval: int = 50
    algorithm: PPOConfig = field(default_factory=PPOConfig)

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

    def rsl_rl_dict(self) -> dict:
        """A fresh rsl-rl-lib runner config (rsl-rl mutates what it gets, so never share this dict)."""
        a = self.algorithm
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
        return {
            "num_steps_per_env": self.num_steps_per_env,
            "save_interval": self.save_interval,
            "obs_groups": {"actor": ["policy"], "critic": ["policy", "privileged"]},
            "logger": "tensorboard",
            "check_for_nan": True,
            "algorithm": {
                "class_name": "PPO",
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
            },
            "actor": actor,
            "critic": {
                "class_name": "MLPModel",
                "hidden_dims": list(self.critic_hidden_dims),
                "activation": self.activation,
                "obs_normalization": self.obs_normalization,
            },
        }
