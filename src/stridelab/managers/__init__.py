"""Managers: turn the term tables of a task config into callables and run them in a fixed order.

One manager per kind of term (actions, commands, observations, rewards, terminations, events,
curriculum). The env schedules the managers; it knows no term by name.
"""
