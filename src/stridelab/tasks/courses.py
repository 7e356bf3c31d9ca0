"""ETG-RL's obstacle courses as tasks: ``quadruped-stairstair``, ``-stairslope``, ``-slopestair``,
``-slopeslope``, ``-highstair``, ``-gallop``, ``-cave`` and ``-balancebeam`` (its flat task is
``quadruped-flat``).

Each is the rough task's terms (height scan ``extero``, privileged critic; :func:`rough_velocity_task`,
with the teacher's :data:`stridelab.tasks.rough.TEACHER_HISTORY` past frames in ``policy``) on the course's
lanes (:mod:`stridelab.sim.terrain.courses`, ETG-RL's figures), with:

- spawning at the lane's start, facing +x (heading within +-0.2 rad, xy within +-0.1 m);
- ``course_command``: forward at 0.3-1.0 m/s, no lateral command, and a yaw rate that steers the robot
  back to the +x heading and its lane's centre line (:class:`stridelab.mdp.commands.course_command`);
- the episode ends as a time-out when the base crosses the finish line (``course_finished``), and as a
  fall when the base sinks 0.1 m below the course's deck (``base_below_deck``: in a gap, off the beam) or a
  foot 2 cm (``feet_below_deck``: a step into a gap or beside the beam, even into the curriculum's 5 cm pits);
- on the cave, ``extero`` also holds the ceiling scan (:class:`stridelab.mdp.ceiling_scan.ceiling_scan`: the
  ceiling's height above the base on the height scan's 187 points, scale 5), so the policy sees the ceiling;
- on highstair, gallop, cave and balancebeam (:data:`COURSE_LEVELS`; the stair and slope cycles are
  ETG-RL's figures alone), a course curriculum (``course_levels``): :data:`LEVELS` levels of 4 lanes, from
  the course's easy figures (:data:`stridelab.sim.terrain.courses.EASY_FIGURES`: 10 cm gaps, a 60 cm beam,
  5 cm risers, a 50 cm ceiling; gaps and the beam's pit 5 cm deep) to ETG-RL's; envs start on levels 0-2,
  and an env moves up a level when it crosses the finish line and down when it walks less than half of what
  it was asked.
  ``--env.terrain.num-rows 1 --env.terrain.levels 1 1 --env.curriculum.course-levels None`` trains on
  ETG-RL's figures alone.

Success (``stridelab eval``, :mod:`stridelab.eval.terrain`), on the last level only (ETG-RL's figures): the
base crosses the finish line without a fall first, within the time the command takes to ask for twice the
course's distance.
"""

from __future__ import annotations

from dataclasses import replace

from stridelab.config import EnvConfig, EventTermCfg, ObsTermCfg, TermCfg, TerminationTermCfg
from stridelab.sim.terrain.config import COURSES
from stridelab.sim.terrain.courses import course_config
from stridelab.tasks.entry import TaskEntry
from stridelab.tasks.rough import TEACHER_HIDDEN_DIMS, TEACHER_HISTORY, rough_velocity_task

#: one line per course for ``stridelab list`` (figures: :mod:`stridelab.sim.terrain.courses`)
DESCRIPTIONS = {
    "stairstair": "ETG-RL course: stairs up then down (5 x 8 cm risers, 25 cm treads), twice",
    "stairslope": "ETG-RL course: stairs up (5 x 8 cm), a 19 deg slope down, twice",
    "slopestair": "ETG-RL course: a 19 deg slope up, stairs down (5 x 8 cm), twice",
    "slopeslope": "ETG-RL course: a 19 deg slope up then down, twice",
    "highstair": "ETG-RL course: one flight of 20 stairs up, 13 cm risers on 40 cm treads",
    "gallop": "ETG-RL course: 8 gaps of 0.5 m between 0.5 m strips of ground",
    "cave": "ETG-RL course: 8 m under a ceiling 0.18 m above the ground (crouch)",
    "balancebeam": "ETG-RL course: a 5 cm wide, 6 m long beam over a 1 m pit",
}
assert tuple(DESCRIPTIONS) == COURSES


#: levels of each course's curriculum (6: gaps 0.10, 0.20, 0.25, 0.35, 0.40, 0.50 m after rounding to samples)
LEVELS = 6
#: each course task's levels: the stair and slope cycles are ETG-RL's figures alone (the rough teacher's grid has
#: 8 cm risers and 19.5 deg slopes; fine-tuned from it, stairstair is crossed 8 of 8 after 5 minutes,
#: docs/benchmarks.md), the courses with what the grid never showed it (13 cm risers, gaps, a beam, a ceiling) a
#: curriculum of :data:`LEVELS`
COURSE_LEVELS = {"stairstair": 1, "stairslope": 1, "slopestair": 1, "slopeslope": 1, "highstair": LEVELS,
                 "gallop": LEVELS, "cave": LEVELS, "balancebeam": LEVELS}
assert tuple(COURSE_LEVELS) == COURSES


def course_task(course: str, robot: str = "quadruped", lanes: int = 4, levels: int = LEVELS) -> EnvConfig:
    """The rough task's terms on ETG-RL course ``course``: spawn at the start, forward steered commands,
    done at the finish line, ``levels`` levels ramped by success (see the module docstring)."""
    terrain = course_config(course, lanes=lanes, levels=levels)
    base = rough_velocity_task(f"{robot}-{course}", robot, terrain=terrain)
    events = {**base.events, "reset_robot": EventTermCfg("reset_robot_on_terrain", params={
        "joint_noise": 0.1, "xy_noise": 0.1, "yaw_range": (-0.2, 0.2)})}
    commands = {**base.commands, "velocity": TermCfg("course_command", params={
        "resample_s": 10.0, "lin_vel_x": (0.3, 1.0), "lin_vel_y": (0.0, 0.0), "ang_vel_yaw": (-1.0, 1.0),
        "standing_fraction": 0.05, "min_lin_vel": 0.1, "heading_gain": 1.0, "lane_gain": 1.0})}
    # a robot in a gap or off the beam has lost the course: a fall, not a wait for the time-out
    terminations = {**base.terminations, "course_finished": TerminationTermCfg("course_finished", time_out=True),
                    "base_below_deck": TerminationTermCfg("base_below_deck", params={"depth": 0.1}),
                    "feet_below_deck": TerminationTermCfg("feet_below_deck", params={"depth": 0.02})}
    # the teacher's past frames, so that ``--init-from`` a quadruped-rough run copies its actor as it is
    observations = {**base.observations, "policy": replace(base.observations["policy"], history=TEACHER_HISTORY)}
    if course == "cave":  # the ceiling beside the height scan, on the same points, scaled as it is
        extero = observations["extero"]
        ceiling = ObsTermCfg("ceiling_scan", scale=5.0, params={"offset": 0.0, "clip": 1.0, "method": "lookup"})
        observations = {**observations, "extero": replace(extero, terms={**extero.terms, "ceiling_scan": ceiling})}
    # envs start on levels 0-2 (legged_gym starts its grid on the lower half of the rows): the rough teacher
    # crosses the easy levels at once, so starting them all on level 0 spends the first minutes climbing to 2
    start = {"max_init_level": min(2, levels - 1)}
    curriculum = {"course_levels": TermCfg("course_levels", params=start)} if levels > 1 else {}
    return replace(base, events=events, commands=commands, terminations=terminations, observations=observations,
                   curriculum=curriculum)


def _train_cfg():
    from stridelab.learn.config import TrainConfig

    # as quadruped-rough: a teacher reading the height scan, the critic also the privileged values
    return TrainConfig(actor_obs_groups=("policy", "extero"), critic_obs_groups=("policy", "privileged", "extero"),
                       actor_hidden_dims=TEACHER_HIDDEN_DIMS, critic_hidden_dims=TEACHER_HIDDEN_DIMS, max_minutes=60.0,
                       stop_when_walks=False)


def _entry(course: str) -> TaskEntry:
    return TaskEntry(name=f"quadruped-{course}", description=DESCRIPTIONS[course],
                     env_cfg=lambda: course_task(course, levels=COURSE_LEVELS[course]),
                     train_cfg=_train_cfg)


TASKS = tuple(_entry(course) for course in COURSES)
