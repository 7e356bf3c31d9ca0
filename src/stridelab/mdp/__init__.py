"""MDP terms: commands, observations, rewards, terminations, randomization (pure batched functions)."""
