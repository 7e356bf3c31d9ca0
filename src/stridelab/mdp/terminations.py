"""Termination terms: ``(state) -> (n,) bool``, or small classes that read the env."""

from __future__ import annotations

from typing import Any

import numpy as np

from stridelab.mdp.state import RobotState


def base_contact(s: RobotState) -> np.ndarray:
    """Any terminate-contact body (e.g. the trunk) touches something."""
    return s.terminate_contact.any(axis=1)


def bad_orientation(s: RobotState, max_tilt: float = 1.0) -> np.ndarray:
    """Base tilt (angle between base z and world z) exceeds ``max_tilt`` [rad]."""
    return -s.projected_gravity[:, 2] < np.cos(max_tilt)


class time_out:  # noqa: N801 - a term, named like the function terms
    """The episode reached the env's time limit (``episode_length_s``): a truncation, not a failure."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def __call__(self, s: RobotState) -> np.ndarray:
        return self.env.episode_length >= self.env.max_episode_length

    def reset(self, env_ids: np.ndarray) -> None:
        """The env resets episode lengths itself."""


class course_finished:  # noqa: N801 - a term, named like the function terms
    """The base crossed the course's finish line (``x >= Course.finish_x``): the course is done.

    Use it as a time-out (``TerminationTermCfg(..., time_out=True)``): reaching the end is a truncation,
    not a failure, and it keeps a fast robot from walking on past the end of its lane.
    """

    def __init__(self, env: Any) -> None:
        from stridelab.mdp.terrain import terrain_of

        course = getattr(terrain_of(env, "course_finished"), "course", None)
        if course is None:
            from stridelab.errors import ConfigError

            raise ConfigError("termination 'course_finished' needs an obstacle course (terrain.course), but the "
                              "task has a terrain grid; remove the term or use a course task such as "
                              "quadruped-stairstair.")
        self.finish_x = course.finish_x

    def __call__(self, s: RobotState) -> np.ndarray:
        return s.base_pos[:, 0] >= self.finish_x

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""
