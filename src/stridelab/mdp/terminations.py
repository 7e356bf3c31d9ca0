"""Termination terms: pure functions ``-> (num_envs,) bool``."""

from __future__ import annotations

import numpy as np

from stridelab.mdp.state import RobotState


def base_contact(s: RobotState) -> np.ndarray:
    """Any terminate-contact body (e.g. the trunk) touches something."""
    return s.terminate_contact.any(axis=1)


def bad_orientation(s: RobotState, max_tilt: float) -> np.ndarray:
    """Base tilt (angle between base z and world z) exceeds ``max_tilt`` [rad]."""
    return -s.projected_gravity[:, 2] < np.cos(max_tilt)
