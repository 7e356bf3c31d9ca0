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
