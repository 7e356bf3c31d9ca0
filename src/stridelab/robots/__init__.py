"""Robots: descriptions (:class:`RobotSpec`), the built-in models and the model loader.

The registry of named robots is :mod:`stridelab.registry` (``ROBOTS``, ``get_robot``), shared with the
tasks; they are re-exported here for convenience.
"""

from typing import Any

from stridelab.robots.loader import LoadedRobot, load_robot
from stridelab.robots.spec import RobotSpec

__all__ = ["ROBOTS", "LoadedRobot", "RobotSpec", "get_robot", "load_robot"]


def __getattr__(name: str) -> Any:
    if name in ("ROBOTS", "get_robot"):
        from stridelab import registry

        registry._load_builtins()
        return getattr(registry, name)
    raise AttributeError(name)
