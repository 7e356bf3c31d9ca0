"""Quadruped velocity-tracking tasks."""

from __future__ import annotations

from stridelab.tasks.entry import TaskEntry
from stridelab.tasks.velocity import flat_velocity_task, with_gait_clock

#: the flat quadruped's actor and critic (rsl-rl-lib MLPs)
QUADRUPED_HIDDEN_DIMS = (64, 64, 64)


def _train_cfg():
    """3 x 64 networks and a KL target of 0.02 (rsl-rl's adaptive schedule): the PPO update costs half of 3 x 128's
    on 2 CPU cores, and the larger steps walk in ~25 % fewer env steps (docs/benchmarks.md, section 2).

    Walk checks (~3.3 s each) start once the training policy's own error is below 0.18 m/s (while it was
    above, every check of 12 runs read 0.02-0.09 m/s more: such checks cannot reach 0.15) and then run every 15 s: a
    walking policy waits 7.5 s for its check on average instead of 15 s."""
    from stridelab.learn.config import PPOConfig, TrainConfig

    return TrainConfig(actor_hidden_dims=QUADRUPED_HIDDEN_DIMS, critic_hidden_dims=QUADRUPED_HIDDEN_DIMS,
                       algorithm=PPOConfig(desired_kl=0.02), check_every_s=15.0, check_below_lin_vel_error=0.18)


TASKS = (TaskEntry(
    name="quadruped-flat",
    description="built-in 12-DoF quadruped (A1 class) tracking (vx, vy, yaw rate) commands on flat ground "
                "with a 2 Hz trot clock",
    env_cfg=lambda: with_gait_clock(flat_velocity_task("quadruped-flat", "quadruped")),
    train_cfg=_train_cfg,
), TaskEntry(
    name="go2-flat",
    description="Unitree Go2 (MuJoCo Menagerie / MENAGERIE_ROOT) tracking velocity commands on flat ground",
    env_cfg=lambda: with_gait_clock(flat_velocity_task("go2-flat", "go2")),
    train_cfg=_train_cfg,
))
