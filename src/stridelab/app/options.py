"""What the commands' option classes share: the one-sentence check of an option value."""

from __future__ import annotations

from stridelab.errors import ConfigError


def check(ok: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` (one sentence naming the option and the fix) unless ``ok``."""
    if not ok:
        raise ConfigError(message)


def check_seconds(name: str, value: float) -> None:
    """``--NAME`` must be a positive number of seconds."""
    check(value > 0, f"--{name} {value} is out of range; give a positive number of seconds.")


def check_budget(num_envs: int | None = None, max_iterations: int | None = None,
                 max_minutes: float | None = None) -> None:
    """The shortcuts ``--num-envs``, ``--max-iterations`` and ``--max-minutes`` (``None``: not given)."""
    check(num_envs is None or num_envs >= 1, f"--num-envs {num_envs} is out of range; give 1 or more environments.")
    check(max_iterations is None or max_iterations >= 0,
          f"--max-iterations {max_iterations} is out of range; give 0 or more iterations.")
    check(max_minutes is None or max_minutes >= 0,
          f"--max-minutes {max_minutes} is out of range; give 0 (no limit) or more minutes.")
