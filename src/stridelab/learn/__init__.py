"""Learning: rsl-rl-lib's runner and loop (PPO with a privileged critic), checkpoints, policy loading.

Modules: ``config`` (TrainConfig -> rsl-rl dict), ``runners`` (the rsl-rl runner subclass whose
``save`` is the end-of-iteration hook), ``trainer`` (Trainer: env + runner + run directory),
``checkpoint`` (the checkpoint format), ``models`` (rebuild the policy model from a checkpoint),
``policy`` (load_policy). ``policy`` and ``trainer`` do not import each other.
"""
