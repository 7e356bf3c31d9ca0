"""Robots: descriptions (:class:`RobotSpec`), the built-in registry and the model loader."""

from stridelab.robots.builtin import ROBOTS, get_robot
from stridelab.robots.loader import LoadedRobot, load_robot
from stridelab.robots.spec import RobotSpec

__all__ = ["ROBOTS", "LoadedRobot", "RobotSpec", "get_robot", "load_robot"]
