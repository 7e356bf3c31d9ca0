"""``stridelab robot check``: load a robot, show what stridelab made of it, and see whether it stands.

The first thing to run on a new robot: it prints the joints (limits, gains, torque limits), the body
masses and the feet, holds the default pose under the PD controllers for a few seconds on flat ground,
says whether the robot stands (base height, tilt, feet in contact, no terminating contact) and writes
a PNG of the final pose.

A biped (two feet or fewer) need not stand on its PD controllers alone: with its feet side by side it balances
actively, as H1 does, whose ankles (2 x 40 N m/rad) are far softer than it would take to hold m g h = 490 N m/rad.
When such a robot falls, the pose is held again with a balance assist, an upright torque on the base (stiffness
``ASSIST_STIFFNESS`` m g h per radian of tilt, critically damped; it adds no force, so the legs carry the
whole weight). If it then stands, its legs and pose are right and only balance is missing: the verdict is
"needs a policy to stand", and the check passes. A quadruped stands on four feet without balancing, so a fall
is a failure.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np

from stridelab.robots.loader import LoadedRobot, load_robot
from stridelab.sim.math import projected_gravity
from stridelab.files import write_atomic

log = logging.getLogger(__name__)


@dataclass
class StandReport:
    """What the check measured after holding the default pose for ``seconds``.

    Attributes:
        base_height: final base height above the floor [m]; init_height: where it started [m].
        tilt: final angle between the base's z axis and the vertical [rad].
        feet_in_contact: per foot, in the order of ``spec.feet``.
        terminate_contact: a terminating part touched something at the end.
        stands: all of: height >= 50 % of the start, tilt <= 0.35 rad, every foot down, no terminating contact.
        needs_policy: it does not stand, but it does with the balance assist (bipeds only, see the module).
        unstable_after: simulated time [s] at which the simulation went unstable (MuJoCo's bad-acceleration
            warning) while holding the pose; ``None`` if it stayed stable. An unstable check fails.
    """

    robot: str
    seconds: float
    base_height: float
    init_height: float
    tilt: float
    feet_in_contact: list[bool]
    terminate_contact: bool
    stands: bool
    total_mass: float
    lines: list[str] = field(default_factory=list)
    image: str | None = None
    needs_policy: bool = False
    unstable_after: float | None = None

    @property
    def passes(self) -> bool:
        """The check passes: the robot stands, or it is a biped that stands with its balance assisted; the
        simulation stayed stable."""
        return (self.stands or self.needs_policy) and self.unstable_after is None


#: stiffness of the balance assist, in units of the robot's m g h [N m/rad]
ASSIST_STIFFNESS = 4.0


def hold_default_pose(robot: LoadedRobot, seconds: float = 5.0, assist: bool = False
                      ) -> tuple[mujoco.MjData, float, float | None]:
    """Simulate one robot from its reset pose with PD targets at the default pose, with the balance assist if
    ``assist`` (see the module). Stops where the simulation goes unstable (MuJoCo's own warning is silenced: the
    report says it in a sentence). Returns (data, final tilt [rad], time it went unstable [s] or None)."""
    model, spec = robot.model, robot.spec
    data = mujoco.MjData(model)
    b, base = robot.base_qpos_adr, robot.base_body_id
    data.qpos[b:b + 3] = [0.0, 0.0, spec.init_height]
    data.qpos[b + 3:b + 7] = [1.0, 0.0, 0.0, 0.0]
    data.qpos[robot.qpos_adr] = spec.default_pose
    data.ctrl[:] = spec.default_pose
    # tau = -k theta axis - c omega_xy with k = ASSIST_STIFFNESS m g h [N m/rad] and c = 2 sqrt(k m h^2) [N m s/rad]
    weight = float(model.body_subtreemass[base]) * float(np.linalg.norm(model.opt.gravity))  # [N]
    k = ASSIST_STIFFNESS * weight * spec.init_height
    c = 2.0 * np.sqrt(k * float(model.body_subtreemass[base]) * spec.init_height ** 2)
    unstable_after = None
    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(lambda message: None)  # reported in our own words below
    try:
        for _ in range(int(round(seconds / model.opt.timestep))):
            if assist:
                _apply_assist(robot, data, k, c)
            mujoco.mj_step(model, data)
            if data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number > 0:
                unstable_after = float(data.time)  # MuJoCo has reset the data to the model's reference pose
                break
    finally:
        mujoco.set_mju_user_warning(previous)
    mujoco.mj_forward(model, data)
    tilt = float(np.arccos(np.clip(-projected_gravity(data.qpos[None, b + 3:b + 7])[0, 2], -1.0, 1.0)))
    return data, tilt, unstable_after


def _apply_assist(robot: LoadedRobot, data: mujoco.MjData, k: float, c: float) -> None:
    """The balance assist's upright torque on the base (see the module), in ``data.xfrc_applied``."""
    base = robot.base_body_id
    rot = data.xmat[base].reshape(3, 3)
    axis = np.cross(rot[:, 2], [0.0, 0.0, 1.0])  # turns the base's z axis up; |axis| = sin(tilt)
    tilt = np.arctan2(np.linalg.norm(axis), rot[2, 2])
    omega = rot @ data.qvel[robot.base_dof_adr + 3:robot.base_dof_adr + 6]  # world frame [rad/s]
    data.xfrc_applied[base, 3:] = k * tilt * axis / max(np.linalg.norm(axis), 1e-12) \
        - c * np.array([omega[0], omega[1], 0.0])


def _unstable_sentence(model: mujoco.MjModel, after: float, doing: str) -> str:
    """One sentence for a check whose simulation went unstable: the problem and the fix."""
    dt = float(model.opt.timestep)
    return (f"UNSTABLE: the simulation diverged after {after:.3f} s {doing} at timestep {dt:g} s (MuJoCo reset it); "
            f"set a smaller 'timestep' in the robot spec (e.g. {dt / 2:g}), or check the model's masses, inertias "
            f"and gains")


def _judge(robot: LoadedRobot, data: mujoco.MjData, tilt: float) -> tuple[float, list[bool], bool, bool]:
    """(base height [m], feet in contact, terminating contact, stands) of a held pose."""
    s = robot.sensors
    feet = [bool(v > 0) for v in data.sensordata[s.foot_contact[0]:s.foot_contact[1]]]
    terminate = bool((data.sensordata[s.terminate_contact[0]:s.terminate_contact[1]] > 0).any())
    height = float(data.qpos[robot.base_qpos_adr + 2])
    return height, feet, terminate, height >= 0.5 * robot.spec.init_height and tilt <= 0.35 and all(feet) \
        and not terminate


def check_robot(robot: LoadedRobot | None = None, spec_name: str | None = None, seconds: float = 5.0,
                image: Path | None = None) -> StandReport:
    """Describe the robot and hold its default pose; write ``image`` (PNG) of the final pose if given."""
    if robot is None:
        from stridelab.robots.registry import get_robot
        robot = load_robot(get_robot(spec_name))
    model, spec = robot.model, robot.spec
    data, tilt, unstable_after = hold_default_pose(robot, seconds)
    height, feet, terminate, stands = _judge(robot, data, tilt)
    stands = stands and unstable_after is None
    lines = [f"robot {spec.name!r} from {spec.source}", f"{len(spec.joint_names)} actuated joints (action order):",
             f"  {'joint':<24}{'range [rad]':>20}{'default':>9}{'kp':>8}{'kd':>7}{'torque [N m]':>14}"]
    for i, name in enumerate(spec.joint_names):
        lo, hi = robot.joint_range[i]
        lines.append(f"  {name:<24}{f'[{lo:+.2f}, {hi:+.2f}]':>20}{spec.default_pose[i]:>+9.2f}{spec.kp[i]:>8.1f}"
                     f"{spec.kd[i]:>7.2f}{robot.torque_limits[i]:>14.1f}")
    masses = [(model.body(i).name or f"body{i}", float(model.body_mass[i])) for i in range(1, model.nbody)]
    total = float(sum(m for _, m in masses))
    lines.append(f"mass {total:.2f} kg: " + ", ".join(f"{n} {m:.2f}" for n, m in masses if m > 0))
    lines.append("feet: " + ", ".join(f"{f} ({'down' if c else 'in the air'})" for f, c in zip(spec.feet, feet)))
    lines.append(f"after {seconds:.0f} s holding the default pose: base height {height:.3f} m (start "
                 f"{spec.init_height:.3f} m), tilt {np.degrees(tilt):.1f} deg, terminating contact "
                 f"{'yes' if terminate else 'no'} -> {'STANDS' if stands else 'DOES NOT STAND'}"
                 f"{'' if stands or robot.num_feet > 2 else ' on its PD controllers alone'}")
    report = StandReport(spec.name, seconds, height, spec.init_height, tilt, feet, terminate, stands, total, lines)
    if unstable_after is not None:
        report.unstable_after = unstable_after
        lines.append(_unstable_sentence(model, unstable_after, "holding the default pose"))
    elif not stands and robot.num_feet <= 2:  # a biped may need to balance actively: hold it with its balance assisted
        held, a_tilt, report.unstable_after = hold_default_pose(robot, seconds, assist=True)
        a_height, _, a_terminate, report.needs_policy = _judge(robot, held, a_tilt)
        if report.unstable_after is not None:
            report.needs_policy = False
            lines.append(_unstable_sentence(model, report.unstable_after, "with its balance assisted"))
        lines.append(f"with its base held upright (a balance torque, no lift): base height {a_height:.3f} m, tilt "
                     f"{np.degrees(a_tilt):.1f} deg, terminating contact {'yes' if a_terminate else 'no'} -> "
                     + ("its legs carry it: it needs a policy to stand (it balances actively, as a biped does)"
                        if report.needs_policy else "DOES NOT STAND even with its balance assisted"))
    if image is not None:
        report.image = str(render_pose(model, data, robot.base_qpos_adr, Path(image),
                                       distance=max(0.8, 4.0 * spec.init_height)))
        lines.append(f"pose image: {report.image}")
    return report


def render_pose(model: mujoco.MjModel, data: mujoco.MjData, base_qpos_adr: int, path: Path, distance: float = 1.2,
                width: int = 480, height: int = 360) -> Path:
    """A PNG of the current pose, seen from the front left, centred on the base."""
    import imageio.v2 as imageio

    os.environ.setdefault("MUJOCO_GL", "egl")
    renderer = mujoco.Renderer(model, height, width)
    try:
        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        camera.lookat[:] = data.qpos[base_qpos_adr:base_qpos_adr + 3]
        camera.distance = distance
        camera.azimuth, camera.elevation = 135.0, -15.0
        renderer.update_scene(data, camera=camera)
        image = renderer.render()
        write_atomic(path, lambda f: imageio.imwrite(f, image, format="png"))
    finally:
        renderer.close()
    return path
