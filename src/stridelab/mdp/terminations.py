"""Termination terms: ``(state) -> (n,) bool``, or small classes that read the env."""

from __future__ import annotations

from typing import Any

import numpy as np

from stridelab.errors import ConfigError
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


def _course_of(env: Any, term: str) -> Any:
    """The env's course terrain (:class:`~stridelab.sim.terrain.courses.CourseTerrain`); a one-sentence
    ConfigError naming ``term`` on the flat floor or a terrain grid."""
    from stridelab.mdp.terrain import terrain_of

    terrain = terrain_of(env, term)
    if getattr(terrain, "course", None) is None:
        raise ConfigError(f"termination {term!r} needs an obstacle course (terrain.course), but the task has a "
                          f"terrain grid; remove the term or use a course task such as quadruped-stairstair.")
    return terrain


def _depth_below_deck(term: str, depth: Any, what: str, example: float) -> float:
    """``depth`` [m] as a float; a one-sentence ConfigError naming ``term`` if it is not a distance >= 0."""
    if not (isinstance(depth, (int, float)) and np.isfinite(depth) and depth >= 0):
        raise ConfigError(f"termination {term!r} depth = {depth!r} is not a distance >= 0; give the metres {what} "
                          f"may sink below the deck, e.g. {example:g}.")
    return float(depth)


def _levels_of(env: Any, terrain: Any, term: str, n: int) -> np.ndarray:
    """Each of the ``n`` envs' course level (its terrain row; 0 on a one-level course). Shape: (n,), int. Read
    at call time, so that the curriculum term (built after the terminations) has placed the envs first."""
    from stridelab.mdp.terrain import tiles_of

    return tiles_of(env, term).rows if terrain.cfg.num_rows > 1 else np.zeros(n, dtype=np.int64)


class course_finished:  # noqa: N801 - a term, named like the function terms
    """The base crossed the finish line of its level's course (``x >= Course.finish_x``): the course is done.

    Use it as a time-out (``TerminationTermCfg(..., time_out=True)``): reaching the end is a truncation,
    not a failure, and it keeps a fast robot from walking on past the end of its lane.
    """

    def __init__(self, env: Any) -> None:
        self.env, self.terrain = env, _course_of(env, "course_finished")
        self.finish_x = self.terrain.finish_x  # per level, (num_rows,)

    def __call__(self, s: RobotState) -> np.ndarray:
        levels = _levels_of(self.env, self.terrain, "course_finished", len(s.base_pos))
        return s.base_pos[:, 0] >= self.finish_x[levels]

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""


class base_below_deck:  # noqa: N801 - a term, named like the function terms
    """The base is more than ``depth`` [m] below the course's deck under it: the robot dropped into a gap
    (gallop) or fell off the balance beam into its pit. A failure: the course is lost, so the episode ends as
    a fall instead of running to its time-out with the robot in the pit.

    The deck (:func:`~stridelab.sim.terrain.courses.course_deck`) is the course's own walking surface at the
    base's x [m], with gaps and the beam's pit bridged at their rims' height (the ground elsewhere: stairs,
    slopes, the cave's floor), the same in every lane of the env's level. The base is the robot's base body
    origin (world z [m]); a standing robot's is 0.2-0.3 m above the deck, a crouching one's about 0.1 m, so with the default
    ``depth`` = 0.1 m only a base that went down past the deck's edge ends the episode. Vectorized over the envs.

    Args:
        depth: how far below the deck the base may go before the episode ends [m], >= 0. Keep it above the
            course's ground noise (``rough_amplitude``, 0 by default).
    """

    def __init__(self, env: Any, depth: float = 0.1) -> None:
        self.depth = _depth_below_deck("base_below_deck", depth, "the base", 0.1)
        self.env, self.terrain = env, _course_of(env, "base_below_deck")

    def __call__(self, s: RobotState) -> np.ndarray:
        """Shape: (n,), bool."""
        deck = self.terrain.deck(_levels_of(self.env, self.terrain, "base_below_deck", len(s.base_pos)),
                                 s.base_pos[:, 0])
        return s.base_pos[:, 2] < deck - self.depth

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""


class feet_below_deck:  # noqa: N801 - a term, named like the function terms
    """A foot is more than ``depth`` [m] below the course's deck under it: it stepped into a gap or off the
    beam. A failure, as :class:`base_below_deck`, but caught at the first misplaced foot, so that on a
    curriculum's shallow easy pits (``pit_depth_easy``, 5 cm) a step beside the beam or into a gap still ends
    the episode before the pit is deep enough to trip the robot.

    The foot is its body's origin (``RobotState.foot_pos``, world [m]): a sphere foot's centre stands one
    radius (about 2 cm) above the ground, so with the default ``depth`` = 0.02 m a foot on the deck never
    ends an episode, and one resting on the floor of a 5 cm pit does. Only feet over a pit count: the
    heightfield ramps each riser over one sample, so a foot on a stair's edge can stand up to half a riser
    below the ideal deck (6.5 cm on highstair's 13 cm risers). Vectorized over the envs and feet.

    Args:
        depth: how far below the deck a foot's origin may go [m], >= 0.
    """

    def __init__(self, env: Any, depth: float = 0.02) -> None:
        self.depth = _depth_below_deck("feet_below_deck", depth, "a foot", 0.02)
        self.env, self.terrain = env, _course_of(env, "feet_below_deck")

    def __call__(self, s: RobotState) -> np.ndarray:
        """Shape: (n,), bool."""
        n, f = s.foot_pos.shape[:2]
        levels = np.repeat(_levels_of(self.env, self.terrain, "feet_below_deck", n), f)
        x = s.foot_pos[:, :, 0].reshape(-1)
        low = s.foot_pos[:, :, 2].reshape(-1) < self.terrain.deck(levels, x) - self.depth
        return np.any((low & self.terrain.over_pit(levels, x)).reshape(n, f), axis=1)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless."""
