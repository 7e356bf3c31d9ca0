"""Learning: rsl-rl-lib glue (PPO with a privileged critic), checkpoints, the training loop."""
