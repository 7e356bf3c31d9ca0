"""Robots: descriptions (:class:`RobotSpec`), the built-in models, the registry of named robots and the loader."""

from stridelab.robots.loader import LoadedRobot, load_robot
from stridelab.robots.registry import ROBOTS, get_robot, register_robot
from stridelab.robots.spec import RobotSpec

__all__ = ["ROBOTS", "LoadedRobot", "RobotSpec", "get_robot", "load_robot", "register_robot"]
