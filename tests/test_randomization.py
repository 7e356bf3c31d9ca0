"""Domain randomization reaches the physics: the per-env parameter table (set by name), base mass and inertia,
link masses, passive joint dynamics, gravity and action latency, each checked in its model field and by a
measured physical effect; the privileged group of the fully randomized rough task; bad ranges; exact resume;
observation noise."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch
from mujoco import batch as mjbatch

import stridelab
from stridelab.envs.snapshot import env_state_dict, load_env_state
from stridelab.errors import ConfigError
from stridelab.sim.physics import link_bodies, set_physics

G = 9.81
ON = {  # every randomization on, with wide ranges, on the flat task
    "base_mass": {"params": {"added_mass": (-0.5, 2.0), "com_offset": (-0.02, 0.02), "inertia_factor": (0.5, 1.5)}},
    "link_mass": {"params": {"factor": (0.7, 1.3)}},
    "actuator_gains": {"params": {"motor_strength": (0.8, 1.2), "kp_factor": (0.8, 1.2), "kd_factor": (0.5, 1.5)}},
    "joint_dynamics": {"params": {"damping_factor": (0.5, 2.0), "armature_factor": (1.0, 2.0),
                                  "frictionloss": (0.0, 0.1)}},
    "gravity": {"params": {"xy_offset": (-1.0, 1.0), "z_offset": (-0.5, 0.5)}},
    "latency": {"params": {"delay_s": (0.0, 0.04)}},
    "push": {"params": {"velocity": 0.5, "angular_velocity": 0.4}, "interval_s": (0.06, 0.1)},
}


def only(**events):
    """Event overrides on the flat task, with its base mass randomization off (every env weighs the same)."""
    return {"events": {"base_mass": {"params": {"added_mass": (0.0, 0.0)}}, **events}}


def stand(env, steps: int, targets=None) -> None:
    targets = env.default_pose if targets is None else targets
    for _ in range(steps):
        assert not env.sim.step(np.broadcast_to(targets, (env.num_envs, env.num_actions))).any()


def lift(env, height: float = 3.0) -> None:
    """Every env in free fall: base ``height`` m up, level, at the default pose, at rest (no contact)."""
    q = np.broadcast_to(env.robot.model.qpos0, (env.num_envs, env.robot.model.nq)).copy()
    q[:, env.robot.base_qpos_adr + 2] = height
    q[:, env.robot.qpos_adr] = env.default_pose
    ids = np.arange(env.num_envs)
    env.sim.reset(ids, q, np.zeros((env.num_envs, env.robot.model.nv)))
    env.sim.hold(ids, np.broadcast_to(env.default_pose, (env.num_envs, env.num_actions)))  # a reset zeroes ctrl


def one_sentence(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg and msg.endswith("."), msg
    return msg


# ---- the parameter table ---------------------------------------------------------------------------

def test_every_parameter_is_set_by_name_into_its_model_field(make_env):
    env = make_env(num_envs=3)
    physics, batch, model, robot = env.sim.physics, env.sim.batch, env.robot.model, env.robot
    assert physics.names == ["foot_friction", "base_mass", "base_com", "base_inertia", "link_mass", "link_inertia",
                             "kp", "kd", "joint_damping", "joint_frictionloss", "joint_armature", "gravity", "action_delay"]
    links, b, dofs = link_bodies(robot), robot.base_body_id, robot.dof_adr
    assert [model.body(int(i)).name for i in links[:3]] == ["FL_hip", "FL_thigh", "FL_calf"] and len(links) == 12
    expected_nominal = {"base_mass": [4.713], "base_com": model.body_ipos[b], "joint_damping": [0.1] * 12,
                        "joint_armature": [0.01] * 12, "joint_frictionloss": [0.0] * 12, "kp": [35.0] * 12,
                        "kd": [0.5] * 12, "gravity": [0, 0, -G], "link_mass": model.body_mass[links]}
    for name, value in expected_nominal.items():
        np.testing.assert_allclose(physics.nominal(name), value, rtol=1e-12, err_msg=name)
    ids = np.array([2, 0])
    rng = np.random.default_rng(0)
    fields = {"joint_damping": ("dof_damping", lambda a: a[:, dofs]),
              "joint_armature": ("dof_armature", lambda a: a[:, dofs]),
              "joint_frictionloss": ("dof_frictionloss", lambda a: a[:, dofs]),
              "link_mass": ("body_mass", lambda a: a[:, links]), "base_inertia": ("body_inertia", lambda a: a[:, b]),
              "gravity": ("opt.gravity", lambda a: a), "kd": ("actuator_biasprm", lambda a: -a[:, :, 2]),
              "kp": ("actuator_gainprm", lambda a: a[:, :, 0]), "base_com": ("body_ipos", lambda a: a[:, b]),
              "link_inertia": ("body_inertia", lambda a: a[:, links].reshape(len(a), -1)),
              "foot_friction": ("geom_friction", lambda a: a[:, robot.foot_geom_ids, 0])}  # one geom per foot here
    assert set(fields) | {"base_mass", "action_delay"} == set(physics.names)
    for name, (field, view) in fields.items():
        before = physics.get(name)
        values = rng.uniform(0.5, 1.5, size=(2, physics.size(name))) * np.abs(physics.nominal(name)).clip(0.01)
        physics.set(name, ids, values)
        np.testing.assert_array_equal(view(batch.expanded(field))[ids], values, err_msg=name)
        np.testing.assert_array_equal(physics.get(name)[ids], values, err_msg=name)
        np.testing.assert_array_equal(physics.get(name)[1], before[1], err_msg=name)  # env 1 keeps its value
    physics.set("kp", [1], 50.0)  # a scalar for all joints: gain and bias of the PD actuator
    np.testing.assert_array_equal(batch.expanded("actuator_gainprm")[1, :, 0], 50.0)
    np.testing.assert_array_equal(batch.expanded("actuator_biasprm")[1, :, 1], -50.0)
    # masses changed: the derived constants follow once flushed (set_physics flushes)
    set_physics(env, [1], "base_mass", 6.0)
    assert batch.expanded("body_subtreemass")[1, b] == pytest.approx(6.0 + model.body_subtreemass[b] - 4.713)


def test_bad_physics_values_are_one_sentence(make_env):
    env = make_env(num_envs=2)
    with pytest.raises(ConfigError) as err:
        env.sim.physics.set("base_mas", [0], 1.0)
    assert "did you mean 'base_mass'" in one_sentence(err)
    with pytest.raises(ConfigError) as err:
        env.sim.physics.set("joint_damping", [0], -0.1)
    assert "joint_damping = -0.1 is out of range; give finite values >= 0 N m s/rad" in one_sentence(err)
    with pytest.raises(ConfigError) as err:
        env.sim.physics.set("base_com", [0, 1], np.zeros(5))
    assert "takes 3 values per env" in one_sentence(err)
    with pytest.raises(ConfigError) as err:
        env.sim.physics.set("action_delay", [0], 1.5)
    assert "whole numbers of substeps" in one_sentence(err)


# ---- masses and inertia: the measured load -----------------------------------------------------------

def vertical_load(env, steps: int = 50) -> np.ndarray:
    """Mean vertical ground reaction on the whole robot [N] over ``steps`` standing control steps: the free
    joint's z constraint force (world frame), which at rest carries the weight. Shape: (n,)."""
    force = env.sim.batch.bind("qfrc_constraint")
    stand(env, 1)  # a derived field bound between calls fills at the next call
    total = np.zeros(env.num_envs)
    for _ in range(steps):
        stand(env, 1)
        total += force[:, env.robot.base_dof_adr + 2]
    return total / steps


def test_a_heavier_base_raises_the_ground_load_by_its_added_weight(make_env):
    env = make_env(num_envs=4, events={"base_mass": {"params": {"added_mass": (-1.0, 3.0)}}})
    added = env.events.privileged()["added_mass"][:, 0]
    assert np.ptp(added) > 1.0
    stand(env, 40)  # 0.8 s: settled on the PD legs
    load = vertical_load(env)
    total_mass = env.sim.batch.expanded("body_subtreemass")[:, env.robot.base_body_id]
    np.testing.assert_allclose(total_mass, env.robot.model.body_subtreemass[env.robot.base_body_id] + added, atol=1e-9)
    np.testing.assert_allclose(load, total_mass * G, rtol=0.02)  # the weight, within 2 % (the robot still sways)
    slope = np.polyfit(added, load, 1)[0]
    assert slope == pytest.approx(G, rel=0.03), slope  # each added kilogram adds 9.81 N


def test_heavier_links_raise_the_ground_load_and_scale_their_inertia(make_env):
    light = make_env(num_envs=2, **only(link_mass={"params": {"factor": (1.0, 1.0)}}))
    heavy = make_env(num_envs=2, **only(link_mass={"params": {"factor": (1.5, 1.5)}}))
    assert "link_mass" not in light.events.terms  # (1, 1) is neutral: dropped, nothing expanded
    assert light.sim.batch.expanded("dof_damping") is None
    links = link_bodies(heavy.robot)
    np.testing.assert_array_equal(heavy.events.privileged()["link_mass"], 1.5)
    model = heavy.robot.model
    np.testing.assert_allclose(heavy.sim.batch.expanded("body_mass")[:, links],
                               np.tile(1.5 * model.body_mass[links], (2, 1)))
    np.testing.assert_allclose(heavy.sim.batch.expanded("body_inertia")[:, links],
                               np.tile(1.5 * model.body_inertia[links], (2, 1, 1)))
    stand(light, 40)
    stand(heavy, 40)
    extra = 0.5 * heavy.robot.model.body_mass[links].sum()  # 0.5 x 7.5 kg of legs
    b = heavy.robot.base_body_id
    total = [np.broadcast_to(e.robot.model.body_subtreemass[b], 2) if e.sim.batch.expanded("body_subtreemass") is None
             else e.sim.batch.expanded("body_subtreemass")[:, b] for e in (light, heavy)]
    np.testing.assert_allclose(total[1] - total[0], extra, rtol=1e-9)
    loads = [vertical_load(e) for e in (light, heavy)]
    for load, mass in zip(loads, total):
        np.testing.assert_allclose(load, mass * G, rtol=0.015)  # each carries its weight (the robots still sway)
    np.testing.assert_allclose(loads[1] - loads[0], extra * G, rtol=0.06)


def test_link_mass_groups_share_one_factor(make_env):
    env = make_env(num_envs=4, **only(link_mass={"params": {"factor": (0.5, 1.5), "groups": ("hip", "thigh", "calf")}}))
    f = env.events.privileged()["link_mass"]
    assert f.shape == (4, 3)
    links = link_bodies(env.robot)
    mass = env.sim.batch.expanded("body_mass")[:, links] / env.robot.model.body_mass[links]
    np.testing.assert_allclose(mass, np.tile(f, 4), rtol=1e-12)  # FL hip, thigh, calf, FR hip, ...


def effective_inertia(env, dof: int, torque: float) -> np.ndarray:
    """Inertia the dynamics gives ``dof`` [kg m^2 or kg]: applied torque / resulting acceleration, at rest in free
    fall (no contact, no passive force; gravity moves every body alike). Exactly the Schur complement of the mass
    matrix at ``dof``, so adding inertia to ``dof`` alone adds exactly that much. Shape: (n,)."""
    qacc = env.sim.batch.bind("qacc")
    env.sim.qfrc_applied[:, dof] = torque
    env.sim.batch.forward()
    return torque / qacc[:, dof]


def test_base_inertia_factor_is_the_inertia_the_dynamics_uses(make_env):
    """Same start in free fall, the same torque on the base about x: a base with twice the x moment of inertia
    resists by exactly the added moment, and turns slower."""
    env = make_env(num_envs=2, **only(base_mass={"params": {"added_mass": (0.0, 0.0), "inertia_factor": (1.0, 1.0)}}))
    inertia0 = env.sim.physics.nominal("base_inertia")
    set_physics(env, [1], "base_inertia", inertia0 * [2.0, 1.0, 1.0])
    lift(env)
    d = env.robot.base_dof_adr
    i0, i1 = effective_inertia(env, d + 3, 2.0)  # [N m] about the base's x axis
    assert i1 - i0 == pytest.approx(inertia0[0], rel=1e-6)
    stand(env, 1)  # the torque acts for a control step
    wx = env.sim.qvel[:, d + 3]
    assert 0 < wx[1] < wx[0] * (1 - 0.5 * inertia0[0] / i1), wx


# ---- passive joint dynamics --------------------------------------------------------------------------

def passive(env) -> None:
    """No PD torque (kp = kd = 0) and free fall: each joint moves by the applied torque and its passive dynamics."""
    ids = np.arange(env.num_envs)
    env.sim.physics.set("kp", ids, 0.0)
    env.sim.physics.set("kd", ids, 0.0)
    lift(env)


def test_joint_damping_slows_a_joint_by_its_passive_force(make_env):
    env = make_env(num_envs=2, **only(joint_dynamics={"params": {"damping_factor": (1.0, 1.0)}}))
    set_physics(env, [1], "joint_damping", np.full(12, 1.0))  # 10x the model's 0.1 N m s/rad
    passive(env)
    knee = env.robot.dof_adr[2]
    damper = env.sim.batch.bind("qfrc_damper")
    env.sim.qvel[:, knee] = 5.0  # [rad/s]
    env.sim.batch.forward()
    np.testing.assert_allclose(damper[:, knee], [-0.5, -5.0], rtol=1e-12)  # -damping x velocity [N m]
    stand(env, 2)
    v = env.sim.qvel[:, knee]
    assert 0 <= v[1] < 0.5 * v[0], v  # the damped knee has slowed much more


def test_joint_frictionloss_resists_a_smaller_torque(make_env):
    env = make_env(num_envs=2, **only(joint_dynamics={"params": {"frictionloss": (0.0, 0.0)}}))
    set_physics(env, [1], "joint_frictionloss", np.full(12, 0.5))  # [N m]
    np.testing.assert_array_equal(env.sim.batch.expanded("dof_frictionloss")[:, env.robot.dof_adr],
                                  [[0.0] * 12, [0.5] * 12])
    passive(env)
    knee = env.robot.dof_adr[2]
    constraint = env.sim.batch.bind("qfrc_constraint")
    start = env.sim.qpos[:, env.robot.qpos_adr[2]].copy()
    env.sim.qfrc_applied[:, knee] = 0.2  # below the 0.5 N m of dry friction of env 1
    for _ in range(8):
        stand(env, 1)
        # friction torque only in env 1, never beyond its 0.5 N m (MuJoCo's soft friction chatters at the
        # model's 4 solver iterations, so its sign and size vary within that bound)
        assert constraint[0, knee] == 0.0 and abs(constraint[1, knee]) <= 0.5 + 1e-9
    moved = env.sim.qpos[:, env.robot.qpos_adr[2]] - start
    assert moved[0] > 0.03 and abs(moved[1]) < 0.2 * moved[0], moved  # the free knee turns, the other stays


def test_joint_armature_adds_its_inertia_to_the_joint(make_env):
    env = make_env(num_envs=2, **only(joint_dynamics={"params": {"armature_factor": (1.0, 1.0)}}))
    armature = env.sim.physics.nominal("joint_armature")
    armature[2] = 0.05  # the FL knee: 5x the model's 0.01 kg m^2
    set_physics(env, [1], "joint_armature", armature)
    passive(env)
    knee = env.robot.dof_adr[2]
    m0, m1 = effective_inertia(env, knee, 0.1)
    assert m1 - m0 == pytest.approx(0.04, rel=1e-6), (m0, m1)
    stand(env, 1)
    v = env.sim.qvel[:, knee]
    assert 0 < v[1] < 0.5 * v[0], v  # the same torque turns it much slower


# ---- gravity -----------------------------------------------------------------------------------------

def test_tilted_gravity_makes_a_free_body_drift_sideways(make_env):
    env = make_env(num_envs=2, **only(gravity={"params": {"xy_offset": (0.0, 0.0)}}))
    set_physics(env, [1], "gravity", [1.0, -0.5, -G])
    np.testing.assert_array_equal(env.sim.batch.expanded("opt.gravity"), [[0, 0, -G], [1.0, -0.5, -G]])
    lift(env)
    steps = 10
    stand(env, steps)
    t = steps * env.dt
    d = env.robot.base_dof_adr
    # in free fall a uniform field moves every body alike: the difference is exactly the extra gravity x t
    np.testing.assert_allclose(env.sim.qvel[1, d:d + 3] - env.sim.qvel[0, d:d + 3], [1.0 * t, -0.5 * t, 0.0], atol=1e-9)
    np.testing.assert_allclose(env.sim.qpos[1, :2] - env.sim.qpos[0, :2], [0.5 * t ** 2, -0.25 * t ** 2], rtol=0.05)


def test_gravity_randomizer_draws_per_env_offsets(make_env):
    env = make_env(num_envs=8, **only(gravity={"params": {"xy_offset": (-1.0, 1.0)}}))
    off = env.events.privileged()["gravity_offset"]
    assert off.shape == (8, 2) and np.all(np.abs(off) <= 1.0) and np.all(off.std(axis=0) > 0.1)
    g = env.sim.batch.expanded("opt.gravity")
    np.testing.assert_array_equal(g[:, :2], off)
    np.testing.assert_array_equal(g[:, 2], -G)


# ---- action latency ------------------------------------------------------------------------------------

def test_latency_is_the_target_switched_by_hand_substeps_later(make_env):
    """Delays of 0, 1, 2, 5 and 9 substeps at decimation 4 (5 ms substeps): the delayed simulator equals a plain
    batch stepped one substep at a time whose target switches exactly ``d`` substeps after it was issued."""
    env = make_env(num_envs=5)
    sim, dec = env.sim, env.sim.decimation
    delays = np.array([0, 1, 2, 5, 9])
    sim.physics.set("action_delay", np.arange(5), delays)
    np.testing.assert_array_equal(sim.physics.get("action_delay")[:, 0], delays)
    ref = mjbatch.Batch(env.robot.model, 5, 1)
    ref_q, ref_ctrl, ref_force = ref.bind("qpos"), ref.bind("ctrl"), ref.bind("actuator_force")
    for field in ("geom_friction", "body_mass"):  # the flat task's randomized friction and base mass
        ref.expand(field)[:] = sim.batch.expanded(field)
    ref.set_const()
    ref.state[:] = sim.batch.state
    issued = [sim.ctrl.copy()]  # what the envs held before (their reset targets)
    rng = np.random.default_rng(1)
    for step in range(4):
        targets = env.default_pose + rng.normal(0, 0.3, size=(5, 12))
        issued.append(targets)
        assert not sim.step(targets).any()
        for k in range(dec):  # the reference: the target issued floor((t - d) / dec) control steps in
            t = step * dec + k
            ref_ctrl[:] = np.stack([issued[1 + (t - d) // dec][e] if t >= d else issued[0][e]
                                    for e, d in enumerate(delays)])
            ref.step(nstep=1)
        np.testing.assert_array_equal(sim.qpos, ref_q)  # bit for bit
        np.testing.assert_array_equal(sim.actuator_force, ref_force)


def test_latency_delays_the_torque_step_response_by_the_configured_time(make_env):
    """At decimation 1 each control step is one 5 ms substep: a 10 ms latency moves the torque response to a
    target step exactly two steps later than without latency."""
    fast = make_env(num_envs=1, decimation=1)
    slow = make_env(num_envs=1, decimation=1, **only(latency={"params": {"delay_s": (0.01, 0.01)}}))
    assert slow.sim.delay_substeps.tolist() == [2] and slow.events.privileged()["action_delay"][0, 0] == 0.01
    onsets = []
    for env in (fast, slow):
        stand(env, 20)  # settled: the torque barely changes
        knee = env.sim.actuator_force[0, 2]
        step = env.default_pose.copy()
        step[2] += 0.3  # [rad] a knee target step
        forces = []
        for _ in range(5):
            stand(env, 1, step)
            forces.append(env.sim.actuator_force[0, 2])
        onsets.append(int(np.argmax(np.abs(np.array(forces) - knee) > 5.0)))  # kp 35 x 0.3 rad = 10.5 N m
    assert onsets == [0, 2], onsets


def test_latency_randomizer_samples_whole_substeps_and_shows_them(make_env):
    env = make_env(num_envs=16, **only(latency={"params": {"delay_s": (0.0, 0.04)}}))
    d = env.sim.delay_substeps
    assert d.min() >= 0 and d.max() <= 8 and len(np.unique(d)) >= 4
    np.testing.assert_allclose(env.events.privileged()["action_delay"][:, 0], d * 0.005)
    priv = env.get_observations()["privileged"].numpy()
    np.testing.assert_allclose(priv[:, -1], d * 0.005 * 25, rtol=1e-6)  # the last privileged column, 0.04 s reads 1


def test_flat_default_expands_nothing_new_and_steps_without_latency(make_env):
    env = make_env(num_envs=4)
    assert set(env.events.terms) == {"friction", "base_mass", "reset_robot"}
    for field in ("body_inertia", "dof_damping", "dof_frictionloss", "dof_armature", "opt.gravity", "actuator_gainprm"):
        assert env.sim.batch.expanded(field) is None, field
    assert env.sim._history is None and env.sim.state_dict() == {}
    assert env.get_observations()["privileged"].shape == (4, 12)


# ---- the privileged group of the rough task -----------------------------------------------------------

RL_LITE3 = {"friction": 4, "added_mass": 1, "com_offset": 3, "motor_strength": 12, "kp_factor": 12, "kd_factor": 12}


def test_rough_privileged_group_holds_every_randomized_quantity_and_no_constant_column():
    env = stridelab.make("quadruped-rough", num_envs=16, num_threads=1, seed=0,
                         events={"push": {"interval_s": (0.02, 0.08)}},  # pushes within the first steps
                         curriculum={"randomization_strength": {"params": {"end_step": 0}}})  # full ranges, no ramp
    parts = env.observations.groups["privileged"].describe()["terms"][2]["parts"]
    sizes = {p["name"]: p["size"] for p in parts}
    assert sizes == {**RL_LITE3, "base_inertia": 3, "link_mass": 12, "joint_damping": 12, "joint_armature": 12,
                     "joint_frictionloss": 12, "gravity_offset": 2, "action_delay": 1, "push": 5}
    rng = np.random.default_rng(0)
    for _ in range(5):
        obs, _, _, _ = env.step(torch.as_tensor(rng.uniform(-1, 1, (16, 12)), dtype=torch.float32))
    priv = obs["privileged"].numpy()
    assert priv.shape == (16, 3 + 4 + 103)  # base velocity, contacts, the randomized quantities
    constant = np.flatnonzero(priv.std(axis=0) == 0)
    assert len(constant) == 0, f"constant privileged columns: {constant}"
    env.observations.mirror_maps(env.robot.spec)  # every part mirrors (an involution, checked when built)


# ---- configuration errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("events, words", [
    ({"link_mass": {"params": {"factor": (1.2, 0.8)}}}, "randomize_link_mass.factor"),
    ({"link_mass": {"params": {"factor": (0.8, 1.2), "groups": ("hip", "thigh")}}}, "matches none of the groups"),
    ({"base_mass": {"params": {"added_mass": (-5.0, 1.0)}}}, "would make the base mass zero or negative"),
    ({"base_mass": {"params": {"inertia_factor": (-0.1, 1.0)}}}, "randomize_base_mass.inertia_factor"),
    ({"joint_dynamics": {"params": {"frictionloss": (-0.1, 0.1)}}}, "low >= 0"),
    ({"joint_dynamics": {"params": {"damping_factor": (1.0, 0.5)}}}, "randomize_joint_dynamics.damping_factor"),
    ({"gravity": {"params": {"xy_offset": (1.0, -1.0)}}}, "randomize_gravity.xy_offset"),
    ({"latency": {"params": {"delay_s": (0.001, 0.004)}}}, "holds no whole physics substep of 5 ms"),
    ({"latency": {"params": {"delay_s": (-0.01, 0.02)}}}, "randomize_action_latency.delay_s"),
    ({"push": {"params": {"angular_velocity": -0.4}}}, "angular_velocity"),
])
def test_bad_randomization_ranges_are_one_sentence(make_env, events, words):
    with pytest.raises(ConfigError) as err:
        make_env(events=events)
    assert words in one_sentence(err)


# ---- exact resume ---------------------------------------------------------------------------------------

def test_every_randomizer_resumes_exactly(make_env):
    cfg = dict(num_envs=6, episode_length_s=0.16, events=ON)
    env = make_env(**cfg)
    assert set(env.events.terms) == {*ON, "friction", "reset_robot"}
    gen = torch.Generator().manual_seed(0)
    actions = [torch.randn(6, 12, generator=gen) for _ in range(18)]
    for a in actions[:5]:
        env.step(a)
    assert env.sim.delay_substeps.any()
    snapshot = env_state_dict(env)
    first = [env.step(a) for a in actions[5:]]
    other = make_env(**{**cfg, "seed": 7})
    load_env_state(other, snapshot)
    second = [other.step(a) for a in actions[5:]]
    assert any(d.any() for _, _, d, _ in first)  # episodes end after the snapshot: new draws of every randomizer
    for (o1, r1, _, _), (o2, r2, _, _) in zip(first, second):
        assert torch.equal(o1["privileged"], o2["privileged"]) and torch.equal(o1["policy"], o2["policy"])
        assert torch.equal(r1, r2)
    np.testing.assert_array_equal(env.sim.qpos, other.sim.qpos)
    np.testing.assert_array_equal(env.sim.delay_substeps, other.sim.delay_substeps)
    for name in env.sim.physics.names:
        np.testing.assert_array_equal(env.sim.physics.get(name), other.sim.physics.get(name), err_msg=name)


# ---- observation noise ----------------------------------------------------------------------------------

def test_policy_noise_is_bounded_by_its_half_widths_and_can_be_turned_off(make_env):
    noisy, clean = make_env(num_envs=64), make_env(num_envs=64, observations={"policy": {"noise": 0.0}})
    group = noisy.observations.groups["policy"]
    half = group.noise * group.scale  # per column, after scaling
    assert half.max() > 0 and clean.observations.groups["policy"].noise.max() == 0.0
    exact = group.frame(noisy.state, noise=False)
    diff = noisy.get_observations()["policy"].numpy() - exact
    assert np.all(np.abs(diff) <= half + 1e-5)
    assert np.all(np.abs(diff[:, half > 0]).max(axis=0) > 0.5 * half[half > 0])  # every noisy column is noisy
    np.testing.assert_allclose(diff[:, half == 0], 0.0, atol=1e-6)  # float32 rounding only
    np.testing.assert_allclose(clean.get_observations()["policy"].numpy(),
                               clean.observations.groups["policy"].frame(clean.state, noise=False), atol=1e-6)
    assert noisy.observations.groups["privileged"].noise.max() == 0.0  # the critic's inputs are exact
