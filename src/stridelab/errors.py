"""User-facing errors: one sentence naming the problem and the fix.

The CLI catches :class:`StridelabError` and prints its message with a non-zero exit code; library users
get the same message as an exception.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class StridelabError(Exception):
    """A problem the user can fix: bad input, a bad config value, a corrupt file."""


class RobotSpecError(StridelabError):
    """A robot description (file or spec) is malformed or names something that does not exist."""


class ConfigError(StridelabError):
    """A configuration value is unknown or out of range."""


class CheckpointError(StridelabError):
    """A checkpoint is missing, corrupt or incompatible."""


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest valid name, or ``""``."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(kind: str, name: str, valid: Iterable[str], where: str) -> str:
    """Format the message for a name that is not among ``valid``, listing the valid names."""
    valid = list(valid)
    shown = ", ".join(valid[:40]) + (", ..." if len(valid) > 40 else "")
    return f"unknown {kind} {name!r} in {where}{did_you_mean(name, valid)}; valid names are: {shown}."
