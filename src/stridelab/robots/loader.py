"""Load a robot (built-in MJCF, user MJCF/URDF, or MuJoCo Menagerie) into an MjModel for stridelab.

Loading edits the model with ``mujoco.MjSpec``:

* torque (``motor``) actuators become PD actuators, one per joint in ``RobotSpec.joint_names`` order:
  ``force = kp (ctrl - q) - kd qdot`` clamped to the torque limit, so that PD runs in every physics
  substep and ``ctrl`` is the joint target [rad];
* visual meshes whose files are missing are dropped with a warning;
* a free joint is added to the base if the file has none (URDF imports are fixed to the world);
* a floor plane is added if the world has no geoms;
* sensors are added for foot contacts, foot positions and velocities, and body contacts;
* with a terrain (``load_robot(spec, terrain=...)``) the terrain replaces the floor plane, and the robot's
  geoms in the terrain's geom groups (0: ground, 1: overhead) move to ``ROBOT_GROUP`` (2, still drawn by
  default), so that a height scan's rays (geom group 0 only) see the ground and never the robot.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mujoco
import numpy as np

from stridelab.errors import RobotSpecError, unknown_name
from stridelab.robots.fixed_joints import fix_joints
from stridelab.robots.parts import Part, base_root, resolve_package_paths, resolve_parts, unknown_part
from stridelab.robots.repair import describe_repairs, repair_inertias
from stridelab.robots.spec import RobotSpec

if TYPE_CHECKING:
    from stridelab.sim.terrain import Terrain, TerrainConfig

log = logging.getLogger(__name__)

#: Geom group of the robot's geoms in a model with terrain (the terrain uses groups 0 and 1).
ROBOT_GROUP = 2

ASSETS = Path(__file__).parent / "assets"

#: warnings already given in this process: a file's problem is logged at its first load, not at every env built
#: from it (a training run builds one per walk check)
_WARNED: set[str] = set()


def _warn_once(message: str, *args: object) -> None:
    """``log.warning(message, *args)`` unless the same warning was given before in this process."""
    text = message % args
    if text not in _WARNED:
        _WARNED.add(text)
        log.warning(text)


_CONTACT_FOUND = 1  # contact sensor dataspec bit for "found" (see mjtConDataType)
_CONTACT_FORCE = 2  # dataspec bit for "force" (mjCONDATA_FORCE)
_REDUCE_NETFORCE = 3  # contact sensor reduction: the sum of all matching contacts' forces, world frame


@dataclass(frozen=True)
class SensorSlices:
    """Column ranges of ``sensordata`` for the sensors stridelab adds. Each is (start, stop)."""

    foot_contact: tuple[int, int]
    foot_pos: tuple[int, int]
    foot_vel: tuple[int, int]
    foot_ang_vel: tuple[int, int]
    foot_force: tuple[int, int]
    terminate_contact: tuple[int, int]
    penalize_contact: tuple[int, int]


@dataclass
class LoadedRobot:
    """A compiled robot model and the indices the environment needs.

    Attributes:
        spec: the robot description.
        model: compiled model; actuator ``i`` is the PD actuator of ``spec.joint_names[i]``.
        qpos_adr: qpos address of each joint. Shape: (num_joints,).
        dof_adr: qvel address of each joint. Shape: (num_joints,).
        joint_range: lower/upper limit per joint [rad]. Shape: (num_joints, 2).
        torque_limits: per joint [N m]. Shape: (num_joints,).
        base_body_id: id of the floating base body: the world's child with the free joint (``spec.base_body`` or
            the root link it is welded to).
        base_group: the bodies rigidly attached to the base (no joint between), the base first. Shape: (g,).
        base_mass_body: the body of the group that carries the base's mass (the base, unless it has none: then
            the heaviest of the group); base mass randomization changes its mass, centre of mass and inertia.
        base_qpos_adr: qpos address of the base free joint (7 values: pos, quat).
        base_dof_adr: qvel address of the base free joint (6 values: world lin vel, local ang vel).
        foot_geom_ids: collision geoms of all feet. Shape: (num_foot_geoms,).
        foot_of_geom: the foot (index into ``spec.feet``) of each of them. Shape: (num_foot_geoms,).
        foot_radius: radius of each foot's first collision geom if it is a sphere, else 0 [m]. Shape: (num_feet,).
        sensors: sensordata slices of the added sensors.
        terrain: the terrain in the model (``None``: the flat floor plane at z = 0).
        stand_height: the base is held on a test stand at this height [m], upright (``None``: it is free).
    """

    spec: RobotSpec
    model: mujoco.MjModel
    qpos_adr: np.ndarray
    dof_adr: np.ndarray
    joint_range: np.ndarray
    torque_limits: np.ndarray
    base_body_id: int
    base_group: np.ndarray
    base_mass_body: int
    base_qpos_adr: int
    base_dof_adr: int
    foot_geom_ids: np.ndarray
    foot_of_geom: np.ndarray
    sensors: SensorSlices
    foot_radius: np.ndarray
    terrain: Any = None  # stridelab.sim.terrain.Terrain | None
    stand_height: float | None = None

    @property
    def num_feet(self) -> int:
        return len(self.spec.feet)

    @property
    def weight(self) -> float:
        """The robot's weight: the mass of the base's subtree (the whole robot) times |gravity| [N]."""
        return float(self.model.body_subtreemass[self.base_body_id]) * float(np.linalg.norm(self.model.opt.gravity))

    def foot_force(self, sensordata: np.ndarray) -> np.ndarray:
        """Net contact force the surroundings exert on each foot, world frame [N] (standing on flat ground,
        +z, about the robot's weight summed over the feet). Shape: (n, f, 3)."""
        s = self.sensors
        # MuJoCo's netforce reduction reports the force the foot exerts on what it touches: flip the sign
        return -sensordata[:, s.foot_force[0]:s.foot_force[1]].reshape(-1, self.num_feet, 3)

    def foot_velocity(self, sensordata: np.ndarray) -> np.ndarray:
        """World velocity of each foot's lowest point, where it touches flat ground [m/s]. Shape: (n, f, 3).

        For a sphere foot this is the centre's velocity plus omega x (0, 0, -radius): zero while the foot
        rolls without sliding, whereas its centre moves at radius x rolling rate. ``sensordata``
        Shape: (n, nsensordata).
        """
        s, nf = self.sensors, self.num_feet
        vel = sensordata[:, s.foot_vel[0]:s.foot_vel[1]].reshape(-1, nf, 3).copy()
        ang = sensordata[:, s.foot_ang_vel[0]:s.foot_ang_vel[1]].reshape(-1, nf, 3)
        vel[..., 0] -= self.foot_radius * ang[..., 1]
        vel[..., 1] += self.foot_radius * ang[..., 0]
        return vel


def resolve_source(source: str) -> Path:
    """Return the model file for ``builtin:NAME``, ``menagerie:NAME[/ENTRY]`` or a path."""
    if source.startswith("builtin:"):
        path = ASSETS / f"{source.split(':', 1)[1]}.xml"
        if not path.exists():
            names = sorted(p.stem for p in ASSETS.glob("*.xml"))
            raise RobotSpecError(unknown_name("built-in robot", path.stem, names, "builtin:"))
        return path
    if source.startswith("menagerie:"):
        return _menagerie_path(source.split(":", 1)[1])
    path = Path(source).expanduser()
    if not path.exists():
        raise RobotSpecError(f"robot file {str(path)!r} does not exist; check the path (MJCF .xml or URDF .urdf).")
    return path


def _menagerie_path(name: str) -> Path:
    import mujoco_menagerie as menagerie

    robot_name, _, entry = name.partition("/")
    try:
        robot = menagerie.get(robot_name)
        point = robot.entry(entry or None) if entry else robot.entry(robot.default_scene)
        return Path(robot.path()) / point.file
    except menagerie.UnknownRobotError:
        raise RobotSpecError(unknown_name("Menagerie robot", robot_name, menagerie.names(), "menagerie:")) from None
    except menagerie.UnknownEntryPointError:
        entries = menagerie.get(robot_name).entry_names()
        raise RobotSpecError(unknown_name("Menagerie entry point", entry, entries, f"menagerie:{robot_name}")) from None
    except menagerie.MenagerieError as exc:
        raise RobotSpecError(
            f"could not fetch Menagerie robot {robot_name!r} ({exc}); connect to the internet once or set "
            f"MENAGERIE_ROOT to a local copy of mujoco_menagerie."
        ) from None


def _parse(path: Path) -> mujoco.MjSpec:
    try:
        return mujoco.MjSpec.from_file(str(path))
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise RobotSpecError(
            f"could not read robot file {str(path)!r}: {first}; fix the file so that MuJoCo can load it."
        ) from None


def _drop_missing_meshes(mjspec: mujoco.MjSpec, path: Path) -> None:
    """Delete visual geoms whose mesh file is missing; a missing collision mesh is an error."""
    meshdir = Path(mjspec.meshdir) if mjspec.meshdir else Path()
    base = path.parent if not meshdir.is_absolute() else Path()
    missing = {}
    for mesh in list(mjspec.meshes):
        if mesh.file and not (base / meshdir / mesh.file).exists() and not (base / mesh.file).exists():
            missing[mesh.name or Path(mesh.file).stem] = mesh
    if not missing:
        return
    for geom in list(mjspec.geoms):
        if geom.meshname in missing:
            if geom.contype or geom.conaffinity:
                raise RobotSpecError(
                    f"collision mesh {geom.meshname!r} of {str(path)!r} is missing; put the file back or replace "
                    f"the geom with a primitive."
                )
            mjspec.delete(geom)
    for name, mesh in missing.items():
        _warn_once("robot %s: visual mesh %r is missing (%s); dropped it", path.name, name, mesh.file)
        mjspec.delete(mesh)


def _check_names(kind: str, names: tuple[str, ...], valid: list[str], spec: RobotSpec) -> None:
    for name in names:
        if name not in valid:
            raise RobotSpecError(unknown_name(kind, name, valid, f"robot {spec.name!r} ({spec.source})"))


def _torque_limit_of(act: mujoco.MjsActuator) -> float | None:
    """Torque limit implied by an actuator: its force range, else a motor's control range x gear."""
    if act.forcelimited == mujoco.mjtLimited.mjLIMITED_TRUE or (
        act.forcelimited == mujoco.mjtLimited.mjLIMITED_AUTO and act.forcerange[1] > act.forcerange[0]
    ):
        return float(max(abs(act.forcerange[0]), abs(act.forcerange[1])))
    if act.ctrlrange[1] > act.ctrlrange[0] and act.biastype == mujoco.mjtBias.mjBIAS_NONE:
        return float(max(abs(act.ctrlrange[0]), abs(act.ctrlrange[1])) * abs(act.gear[0]))
    return None


def build_mjspec(spec: RobotSpec) -> tuple[mujoco.MjSpec, Path, dict[str, list[Part]]]:
    """Parse the robot file and apply stridelab's edits (see module docstring).

    Returns the edited spec, the file, and the resolved ``feet``, ``terminate`` and ``penalize`` parts.
    """
    path = resolve_source(spec.source)
    mjspec = _parse(path)
    if path.suffix.lower() == ".urdf":
        mjspec.compiler.fusestatic = False  # links joined by fixed joints stay addressable by name
    resolve_package_paths(mjspec, path, spec.mesh_dir)
    _drop_missing_meshes(mjspec, path)

    fix_joints(mjspec, spec)
    joints = [j.name for j in mjspec.joints if j.name]
    _check_names("joint", spec.joint_names, joints, spec)
    bodies = [b.name for b in mjspec.bodies if b.name and b.name != "world"]
    if spec.base_body not in bodies:
        raise RobotSpecError(unknown_part("base body", spec.base_body, sorted(bodies),
                                          sorted(g.name for g in mjspec.geoms if g.name), spec.name))
    parts = {"feet": resolve_parts(mjspec, spec.feet, "foot", spec.name, need_geoms=True),
             "terminate": resolve_parts(mjspec, spec.terminate_contacts, "terminate contact", spec.name),
             "penalize": resolve_parts(mjspec, spec.penalize_contacts, "penalize contact", spec.name)}

    base = base_root(mjspec, spec.base_body, spec.name)
    if not base.name:
        base.name = f"{spec.base_body}_root"
    if not any(j.type == mujoco.mjtJoint.mjJNT_FREE for j in base.joints):
        base.add_freejoint()
    repairs = repair_inertias(mjspec)
    if repairs:
        _warn_once("%s", describe_repairs(spec.name, str(path), repairs))

    _replace_actuators(mjspec, spec)
    if spec.limit_collisions:
        _limit_collisions(mjspec, spec, parts)
    ground = (mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_HFIELD)
    obstacles = [g for g in mjspec.worldbody.geoms if g.type not in ground and (g.contype or g.conaffinity)]
    if obstacles:
        _warn_once("robot file %s puts %d solid geoms besides the ground in the world (a demo scene's obstacles?); "
                    "every env trains among them. Point the spec's source at the robot's own file (e.g. go2.xml, "
                    "not scene.xml) unless that is intended.", path, len(obstacles))
    if not any(g.type in ground for g in mjspec.worldbody.geoms):
        _add_floor(mjspec)
    _add_sensors(mjspec, parts)
    if spec.timestep is not None:
        mjspec.option.timestep = spec.timestep
    for name, value in spec.option:
        setattr(mjspec.option, name, value)
    return mjspec, path, parts


def _add_floor(mjspec: mujoco.MjSpec) -> None:
    """A checkered ground plane (contype 1, conaffinity 1) with a 0.5 m grid for judging speed in videos."""
    tex = mjspec.add_texture(name="sl_grid", type=mujoco.mjtTexture.mjTEXTURE_2D,
                             builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                             rgb1=[0.32, 0.38, 0.45], rgb2=[0.22, 0.27, 0.33], mark=mujoco.mjtMark.mjMARK_EDGE,
                             markrgb=[0.8, 0.8, 0.8])
    mjspec.add_texture(name="sl_sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                       builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, width=256, height=256,
                       rgb1=[0.55, 0.7, 0.85], rgb2=[0.15, 0.2, 0.3])
    mat = mjspec.add_material(name="sl_grid", texrepeat=[2, 2], texuniform=True)
    mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = tex.name
    mjspec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], contype=1,
                              conaffinity=1, material="sl_grid")


def _replace_actuators(mjspec: mujoco.MjSpec, spec: RobotSpec) -> None:
    limits: dict[str, float] = {}
    removed: list[str] = []
    for act in list(mjspec.actuators):
        target = act.target
        if act.trntype == mujoco.mjtTrn.mjTRN_JOINT and target in spec.joint_names:
            limit = _torque_limit_of(act)
            if limit is not None:
                limits[target] = limit
        elif act.trntype == mujoco.mjtTrn.mjTRN_JOINT:
            removed.append(target)
        mjspec.delete(act)
    if removed:
        log.warning("robot %s: removed the motors of %d joints that are not in joint_names (%s)", spec.name,
                    len(removed), ", ".join(removed))
    for i, joint_name in enumerate(spec.joint_names):
        if spec.torque_limits is not None:
            limit = spec.torque_limits[i]
        elif joint_name in limits:
            limit = limits[joint_name]
        else:
            joint = mjspec.joint(joint_name)
            if joint.actfrcrange[1] > joint.actfrcrange[0]:
                limit = float(joint.actfrcrange[1])
            else:
                raise RobotSpecError(
                    f"joint {joint_name!r} of robot {spec.name!r} has no motor and no torque limit; set "
                    f"torque_limits in the robot spec."
                )
        kp, kd = spec.kp[i], spec.kd[i]
        act = mjspec.add_actuator(name=f"{joint_name}_pd", target=joint_name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        act.gainprm[0] = kp
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        act.biasprm[:3] = [0.0, -kp, -kd]
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-limit, limit]
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        act.gear[0] = 1.0


def _limit_collisions(mjspec: mujoco.MjSpec, spec: RobotSpec, parts: dict[str, list[Part]]) -> None:
    """Robot geoms collide only with the world: feet and contact parts; no self-collisions."""
    keep_geoms = {g for p in parts["feet"] for g in p.geoms}
    keep_geoms |= {p.name for p in parts["terminate"] + parts["penalize"] if p.kind == "geom"}
    keep_bodies = {p.name for p in parts["terminate"] + parts["penalize"] if p.kind == "body"}
    base = base_root(mjspec, spec.base_body, spec.name)
    for geom in base.find_all(mujoco.mjtObj.mjOBJ_GEOM):
        if geom.name in keep_geoms or geom.parent.name in keep_bodies:
            if geom.contype or geom.conaffinity:
                geom.contype, geom.conaffinity = 0, 1
        else:
            geom.contype, geom.conaffinity = 0, 0
    for geom in mjspec.worldbody.geoms:
        geom.contype, geom.conaffinity = 1, 0


def _add_sensors(mjspec: mujoco.MjSpec, parts: dict[str, list[Part]]) -> None:
    """Contact of each foot (its body or geom), position and velocity of its first collision geom, its net
    contact force, and contact of each terminate / penalize part. Sensor names are indexed, not derived from part names."""
    contact, geom_obj = mujoco.mjtSensor.mjSENS_CONTACT, mujoco.mjtObj.mjOBJ_GEOM
    feet = parts["feet"]
    for i, foot in enumerate(feet):
        mjspec.add_sensor(name=f"sl_contact_{i}", type=contact, objtype=foot.objtype, objname=foot.name,
                          intprm=[_CONTACT_FOUND, 0, 1])
    for i, foot in enumerate(feet):
        mjspec.add_sensor(name=f"sl_pos_{i}", type=mujoco.mjtSensor.mjSENS_FRAMEPOS, objtype=geom_obj,
                          objname=foot.geoms[0])
    for i, foot in enumerate(feet):
        mjspec.add_sensor(name=f"sl_vel_{i}", type=mujoco.mjtSensor.mjSENS_FRAMELINVEL, objtype=geom_obj,
                          objname=foot.geoms[0])
    for i, foot in enumerate(feet):
        mjspec.add_sensor(name=f"sl_angvel_{i}", type=mujoco.mjtSensor.mjSENS_FRAMEANGVEL, objtype=geom_obj,
                          objname=foot.geoms[0])
    for i, foot in enumerate(feet):
        mjspec.add_sensor(name=f"sl_force_{i}", type=contact, objtype=foot.objtype, objname=foot.name,
                          intprm=[_CONTACT_FORCE, _REDUCE_NETFORCE, 1])
    for prefix in ("terminate", "penalize"):
        for i, part in enumerate(parts[prefix]):
            mjspec.add_sensor(name=f"sl_{prefix}_{i}", type=contact, objtype=part.objtype, objname=part.name,
                              intprm=[_CONTACT_FOUND, 0, 1])


def _sphere_radius(model: mujoco.MjModel, geom_ids: list[int]) -> np.ndarray:
    """Radius of each geom that is a sphere, 0 for any other shape [m]. Shape: (len(geom_ids),)."""
    ids = np.asarray(geom_ids, dtype=np.int64)
    return np.where(model.geom_type[ids] == mujoco.mjtGeom.mjGEOM_SPHERE, model.geom_size[ids, 0], 0.0)


def _sensor_range(model: mujoco.MjModel, names: list[str]) -> tuple[int, int]:
    if not names:
        return (0, 0)
    start = model.sensor(names[0]).adr[0]
    stop = model.sensor(names[-1]).adr[0] + model.sensor(names[-1]).dim[0]
    return (int(start), int(stop))


def add_terrain(mjspec: mujoco.MjSpec, spec: RobotSpec, terrain: Terrain) -> None:
    """Put ``terrain`` in place of the floor and move the robot's geoms out of the terrain's groups."""
    from stridelab.sim.terrain import add_to_spec
    from stridelab.sim.terrain.grid import GROUND_GROUP, OVERHEAD_GROUP

    for geom in base_root(mjspec, spec.base_body, spec.name).find_all(mujoco.mjtObj.mjOBJ_GEOM):
        if geom.group in (GROUND_GROUP, OVERHEAD_GROUP):
            geom.group = ROBOT_GROUP
    add_to_spec(terrain, mjspec)


def add_stand(mjspec: mujoco.MjSpec, spec: RobotSpec, height: float) -> None:
    """Hold the base on a test stand: upright at ``height`` [m] above the floor's origin (its free joint's
    ``qpos0``), welded to the world by a stiff equality (solref 0.01 s: it holds a 12 kg quadruped swinging its
    legs within 1 mm). The base keeps its free joint, so every index stays as without the stand."""
    base = base_root(mjspec, spec.base_body, spec.name)
    base.pos, base.quat = [0.0, 0.0, float(height)], [1.0, 0.0, 0.0, 0.0]
    weld = mjspec.add_equality()
    weld.type, weld.objtype, weld.name1 = mujoco.mjtEq.mjEQ_WELD, mujoco.mjtObj.mjOBJ_BODY, base.name
    weld.solref, weld.solimp = [0.01, 1.0], [0.99, 0.999, 0.001, 0.5, 2.0]


def load_robot(spec: RobotSpec, terrain: TerrainConfig | Terrain | None = None,
               stand_height: float | None = None) -> LoadedRobot:
    """Build, compile and index a robot, on ``terrain`` if given (a config is built first; ``None``: the
    flat floor), or on a test stand at ``stand_height`` [m] (:func:`add_stand`). Raises
    :class:`RobotSpecError` with a fix on bad input."""
    mjspec, path, parts = build_mjspec(spec)
    if stand_height is not None:
        add_stand(mjspec, spec, stand_height)
    if terrain is not None:
        from stridelab.sim.terrain import TerrainConfig, build_terrain

        if isinstance(terrain, TerrainConfig):
            terrain = build_terrain(terrain)
        add_terrain(mjspec, spec, terrain)
    cwd = os.getcwd()
    try:
        model = mjspec.compile()
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0]
        raise RobotSpecError(f"MuJoCo could not compile robot {spec.name!r} from {str(path)!r}: {first}; "
                             f"fix the model file.") from None
    finally:
        os.chdir(cwd)
    joint_ids = [model.joint(n).id for n in spec.joint_names]
    for name, jid in zip(spec.joint_names, joint_ids):
        if int(model.jnt_type[jid]) not in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            raise RobotSpecError(f"joint {name!r} of robot {spec.name!r} is not a hinge or slide joint; list only "
                                 f"actuated 1-DoF joints in joint_names.")
    base_id = int(model.body_rootid[model.body(spec.base_body).id])  # the world's child with the free joint
    group = np.flatnonzero(model.body_weldid == base_id)
    carrier = base_id if model.body_mass[base_id] >= mujoco.mjMINVAL else int(group[np.argmax(model.body_mass[group])])
    free = [j for j in range(model.njnt) if model.jnt_bodyid[j] == base_id and model.jnt_type[j] == 0][0]
    joint_range = model.jnt_range[joint_ids].copy()
    unlimited = ~model.jnt_limited[joint_ids].astype(bool)
    joint_range[unlimited] = [-np.pi, np.pi]
    nf = len(parts["feet"])
    sensors = SensorSlices(
        foot_contact=_sensor_range(model, [f"sl_contact_{i}" for i in range(nf)]),
        foot_pos=_sensor_range(model, [f"sl_pos_{i}" for i in range(nf)]),
        foot_vel=_sensor_range(model, [f"sl_vel_{i}" for i in range(nf)]),
        foot_ang_vel=_sensor_range(model, [f"sl_angvel_{i}" for i in range(nf)]),
        foot_force=_sensor_range(model, [f"sl_force_{i}" for i in range(nf)]),
        terminate_contact=_sensor_range(model, [f"sl_terminate_{i}" for i in range(len(parts["terminate"]))]),
        penalize_contact=_sensor_range(model, [f"sl_penalize_{i}" for i in range(len(parts["penalize"]))]),
    )
    foot_geoms = [(model.geom(g).id, i) for i, foot in enumerate(parts["feet"]) for g in foot.geoms]
    return LoadedRobot(
        spec=spec,
        model=model,
        qpos_adr=model.jnt_qposadr[joint_ids].copy(),
        dof_adr=model.jnt_dofadr[joint_ids].copy(),
        joint_range=joint_range,
        torque_limits=np.abs(model.actuator_forcerange[:, 1]).copy(),
        base_body_id=base_id,
        base_group=group,
        base_mass_body=carrier,
        base_qpos_adr=int(model.jnt_qposadr[free]),
        base_dof_adr=int(model.jnt_dofadr[free]),
        foot_geom_ids=np.array([g for g, _ in foot_geoms]),
        foot_of_geom=np.array([i for _, i in foot_geoms]),
        sensors=sensors,
        foot_radius=_sphere_radius(model, [model.geom(foot.geoms[0]).id for foot in parts["feet"]]),
        terrain=terrain,
        stand_height=stand_height,
    )
