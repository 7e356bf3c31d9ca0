"""ETG: leg kinematics, the generator, the action term, evolution strategies, the lookup table, dual training,
export and the deploy runtime (docs/etg.md)."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest
import torch

import stridelab
from stridelab.errors import ConfigError
from stridelab.etg.config import ETGConfig, etg_env_cfg
from stridelab.etg.es import make_es
from stridelab.mdp.etg_generator import (GAITS, GeneratorFile, GeneratorSettings, foot_offsets, load_generator,
                                     prior_trajectory, rbf_features, save_generator)
from stridelab.mdp.leg_kinematics import LegKinematics
from stridelab.mdp.etg import TABLE_FILE, etg_table_residual, load_table, save_table
from stridelab.mdp.state import RobotState
from stridelab.robots.registry import load_robot_of
from stridelab.tasks import make_env_cfg


def _foot_geoms(robot):
    return [int(robot.foot_geom_ids[np.flatnonzero(robot.foot_of_geom == f)[0]]) for f in range(robot.num_feet)]


def _mujoco_feet(robot, kin, q_legs, base=(0.3, -0.2, 0.4)):
    """Foot centres from MuJoCo's own kinematics (mj_kinematics) for leg angles q_legs (L, 3), base frame."""
    model = robot.model
    data = mujoco.MjData(model)
    data.qpos[:] = model.qpos0
    b = robot.base_qpos_adr
    data.qpos[b:b + 7] = [*base, 1.0, 0.0, 0.0, 0.0]
    data.qpos[robot.qpos_adr] = kin.scatter(q_legs, robot.spec.num_joints)
    mujoco.mj_kinematics(model, data)
    return data.geom_xpos[_foot_geoms(robot)] - np.asarray(base)


def _check_ik_round_trip(robot):
    kin = LegKinematics.from_robot(robot)
    rng = np.random.default_rng(0)
    worst, moved = 0.0, 0.0
    for _ in range(40):
        # targets around the standing feet: +-6 cm forward, +-3 cm sideways, -6..+8 cm up
        target = kin.default_foot + rng.uniform([-0.06, -0.03, -0.06], [0.06, 0.03, 0.08], size=(kin.num_legs, 3))
        q = kin.ik(target)
        worst = max(worst, float(np.abs(_mujoco_feet(robot, kin, q) - target).max()))
        moved = max(moved, float(np.abs(q - kin.default_q).max()))
    assert worst < 1e-3  # the requirement: 1 mm (the closed form is exact to ~1e-15 m)
    assert worst < 1e-9
    assert moved > 0.2  # the targets really moved the joints
    # the standing feet give back the default pose; the knees stay bent the same way
    assert np.abs(kin.ik(kin.default_foot) - kin.default_q).max() < 1e-9
    assert np.abs(_mujoco_feet(robot, kin, kin.default_q) - kin.default_foot).max() < 1e-12


def test_ik_round_trips_through_mujoco_forward_kinematics_within_1mm():
    _check_ik_round_trip(load_robot_of("quadruped"))


def test_ik_round_trips_for_the_go2_from_its_published_file(shared_robots, monkeypatch):
    monkeypatch.setenv("MENAGERIE_ROOT", str(shared_robots))
    robot = load_robot_of("go2")
    _check_ik_round_trip(robot)
    kin = LegKinematics.from_robot(robot)
    # its calf joint sits 0.213 m below the thigh joint and its foot 2 mm behind the calf axis (read, not assumed)
    assert kin.d23[0] == pytest.approx([0.0, 0.0, -0.213]) and kin.d3f[0, 0] == pytest.approx(-0.002)


def test_leg_geometry_is_read_from_the_model():
    kin = LegKinematics.from_robot(load_robot_of("quadruped"))
    # quadruped.xml: hip at (0.183, 0.047), thigh 0.08505 outboard, calf and foot 0.2 m below (A1 figures)
    assert kin.a1[0] == pytest.approx([0.183, 0.047, 0.0])
    assert kin.d12[1] == pytest.approx([0.0, -0.08505, 0.0])
    assert kin.d23[2] == pytest.approx([0.0, 0.0, -0.2]) and kin.d3f[3] == pytest.approx([0.0, 0.0, -0.2])
    assert kin.joint_index.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    # default FL pose (0.1, 0.8, -1.5), by hand: R_y(th) takes (0, 0, -l) to (-l sin th, 0, -l cos th); the calf
    # points at 0.8 - 1.5 = -0.7 rad, so the foot is 0.2 cos 0.8 + 0.2 cos 0.7 below the thigh joint
    sagittal = 0.2 * np.cos(0.8) + 0.2 * np.cos(0.7)
    assert kin.default_foot[0, 0] == pytest.approx(0.183 - 0.2 * np.sin(0.8) + 0.2 * np.sin(0.7))
    assert kin.default_foot[0, 1] == pytest.approx(0.047 + 0.08505 * np.cos(0.1) + sagittal * np.sin(0.1))
    assert kin.default_foot[0, 2] == pytest.approx(0.08505 * np.sin(0.1) - sagittal * np.cos(0.1))


def test_a_robot_outside_the_leg_layout_is_refused_in_one_sentence():
    with pytest.raises(ConfigError, match="abduction, thigh, calf"):
        LegKinematics.from_robot(load_robot_of("biped"))


def test_generator_features_prior_and_fit():
    k = rbf_features(np.array([0.0, 0.25, 0.999]), 12, 0.5 / 12)
    assert k.sum(axis=1) == pytest.approx(np.ones(3)) and k[0].argmax() == 0 and k[1].argmax() == 3
    # prior, by hand: stance starts L/2 ahead, pressing `penetration` down; mid-swing it is foot_height up
    assert prior_trajectory(0.0, 0.05, 0.08) == pytest.approx([0.025, -0.01])
    assert prior_trajectory(0.25, 0.05, 0.08) == pytest.approx([0.0, -0.01])
    assert prior_trajectory(0.75, 0.05, 0.08) == pytest.approx([0.0, 0.08])
    settings = GeneratorSettings()
    w = settings.prior_weights()
    phase = np.linspace(0.0, 1.0, 500, endpoint=False)
    fit = foot_offsets(phase[None], w.reshape(-1, 2), settings.rbf_width)[0]
    assert np.abs(fit - prior_trajectory(phase, 0.05, 0.08)).max() < 0.004  # within 4 mm
    assert foot_offsets(np.array([[0.0, 1.0]]), w.reshape(-1, 2), settings.rbf_width)[0, 0] == pytest.approx(
        foot_offsets(np.array([[0.0, 1.0]]), w.reshape(-1, 2), settings.rbf_width)[0, 1])  # periodic


@pytest.fixture(scope="module")
def etg_env():
    cfg = etg_env_cfg(make_env_cfg("quadruped-flat", num_envs=4, num_threads=1, seed=0), ETGConfig(act_bound=0.4))
    return stridelab.make_env(cfg)


def test_action_is_generator_plus_bounded_residual(etg_env):
    env, term = etg_env, etg_env.action_term
    env.set_commands(np.array([0.5, 0.0, 0.0]))
    for _ in range(3):
        env.step(torch.zeros(4, 12))
    s = env.state
    tg = term.generator_targets(s)
    # zero action: the generator's targets; the generator's feet, through FK, follow the RBF map
    assert np.abs(term.targets(term.process(np.zeros((4, 12)))) - tg).max() == 0.0
    feet = term.kin.fk(tg[:, term.kin.joint_index])
    expected = term.foot_targets(s.gait_phase, np.ones(4), term.params.reshape(-1, 2))
    assert np.abs(feet - expected).max() < 1e-9
    assert np.abs(tg - term.default).max() > 0.1  # the generator moves the legs
    # the residual: act_bound x clip(action, -1, 1)
    a = np.full((4, 12), 3.0)
    assert np.allclose(term.targets(term.process(a)) - tg, 0.4)
    # the observation shows the generator's target
    obs = env.get_observations()["policy"][:, -12:].numpy()
    assert np.abs(obs - term.generator_offsets(s)).max() < 1e-5
    # zero command: the standing pose
    env.set_commands(np.zeros(3))
    assert np.abs(term.generator_targets(env.state) - term.default).max() < 1e-12


def test_generator_is_left_right_symmetric(etg_env):
    """Mirrored phases (trot: the feet swapped) give the mirrored joint targets: symmetry augmentation is valid."""
    from stridelab.learn.symmetry import mirror_maps

    term = etg_env.action_term
    spec = etg_env.robot.spec
    phase = np.array([[0.1, 0.6, 0.6, 0.1], [0.37, 0.87, 0.87, 0.37]])
    s = RobotState(base_quat=np.tile([1.0, 0, 0, 0], (2, 1)), base_ang_vel=np.zeros((2, 3)),
                   projected_gravity=np.tile([0, 0, -1.0], (2, 1)), joint_pos=np.zeros((2, 12)),
                   joint_vel=np.zeros((2, 12)), default_joint_pos=term.default, actions=np.zeros((2, 12)),
                   commands=np.tile([0.5, 0.0, 0.0], (2, 1)), gait_phase=phase)
    mirrored = RobotState(**{**s.__dict__, "gait_phase": phase[:, list(spec.feet_mirror_perm)]})
    perm, sign = np.asarray(spec.mirror_perm), np.asarray(spec.mirror_sign)
    off, off_m = term.generator_offsets(s), term.generator_offsets(mirrored)
    assert np.abs(off[:, perm] * sign - off_m).max() < 1e-9
    maps = mirror_maps(etg_env)
    assert len(maps["obs"]["policy"][0]) == etg_env.get_observations()["policy"].shape[1]


def test_step_y_narrows_the_stance_of_the_generator_and_its_table(tmp_path):
    """ETG-RL's lateral foot placement: every foot's target moves step_y towards the midline (through the IK, so
    MuJoCo's feet land there), symmetric left/right, and the exported table carries it."""
    from stridelab.mdp.etg_generator import GeneratorSettings

    base = make_env_cfg("quadruped-flat", num_envs=2, num_threads=1, seed=0)
    narrow = stridelab.make_env(etg_env_cfg(base, ETGConfig(generator=GeneratorSettings(step_y=0.06))))
    wide = stridelab.make_env(etg_env_cfg(base, ETGConfig()))
    t_n, t_w = narrow.action_term, wide.action_term
    assert narrow.cfg.action.params["step_y"] == 0.06
    phase = np.array([[0.1, 0.6, 0.6, 0.1], [0.3, 0.8, 0.8, 0.3]])
    feet_n = t_n.foot_targets(phase, np.ones(2), t_n.params.reshape(-1, 2))
    feet_w = t_w.foot_targets(phase, np.ones(2), t_w.params.reshape(-1, 2))
    np.testing.assert_allclose(np.abs(feet_w[..., 1]) - np.abs(feet_n[..., 1]), 0.06, atol=1e-12)
    np.testing.assert_allclose(feet_n[..., [0, 2]], feet_w[..., [0, 2]], atol=1e-12)
    q = t_n.table(64)[:, t_n.kin.joint_index]  # rows, legs, 3
    y = t_n.kin.fk(q)[..., 1]
    np.testing.assert_allclose(np.abs(y), np.broadcast_to(np.abs(t_n.kin.default_foot[:, 1]) - 0.06, y.shape), atol=1e-9)
    # told to stand: the standing pose, not the narrow one
    standing = t_n.foot_targets(phase, np.zeros(2), t_n.params.reshape(-1, 2))
    np.testing.assert_allclose(standing, np.broadcast_to(t_n.kin.default_foot, standing.shape), atol=1e-12)
    with pytest.raises(ConfigError, match="step_y = 0.5 m is out of range"):
        GeneratorSettings(step_y=0.5)


@pytest.mark.parametrize("alg", ["cma", "openai-es", "pgpe", "snes", "cem"])
def test_es_improves_a_fixed_problem_within_a_few_generations(alg):
    """Fitness: how closely the generator's foot path matches a target step (0.1 m long, 6 cm high), from a
    generator that does not move; every strategy gets closer in 6 generations of 8."""
    settings = GeneratorSettings()
    phase = np.linspace(0.0, 1.0, 64, endpoint=False)
    target = prior_trajectory(phase, 0.1, 0.06)

    def fitness(candidates):
        paths = foot_offsets(np.repeat(phase[None], len(candidates), 0), candidates.reshape(len(candidates), -1, 2),
                             settings.rbf_width)
        return -np.sqrt(np.mean((paths - target) ** 2, axis=(1, 2)))  # minus RMS error [m]

    x0 = np.zeros(settings.num_params)
    f0 = float(fitness(x0[None])[0])
    es = make_es(alg, x0, 0.02, 8, seed=0)
    best = [float(es.generation(fitness)[1].max()) for _ in range(6)]
    assert f0 == pytest.approx(-np.sqrt(np.mean(target ** 2))) and f0 < -0.03  # a still foot: the path's own RMS
    assert max(best) > f0 + 0.005  # at least 5 mm closer
    assert fitness(es.mean[None])[0] > f0  # the strategy's mean moved towards the target


def test_es_improves_the_generator_on_the_robot_within_a_few_generations():
    """A generator half a cycle out of step with the gait clock (swing when the contact schedule wants stance)
    scores low; three CMA-ES generations (6 candidates x 2 envs x 1.5 s, zero residual) improve it, measured in
    one batch with the same commands, in each of three calls (6 commands). The commands all move: at a standing
    command the generator holds the standing pose, so such a draw scores both generators alike."""
    from stridelab.etg.evolve import GeneratorES

    prior = GeneratorSettings().prior_weights().reshape(-1, 2)
    shifted = np.roll(prior, 6, axis=0).reshape(-1)
    cfg = ETGConfig(alg="cma", popsize=6, envs_per_member=2, episode_s=1.5, sigma=0.02)
    moving = {"velocity": {"params": {"standing_fraction": 0.0}}}
    env_cfg = etg_env_cfg(make_env_cfg("quadruped-flat", num_threads=1, commands=moving), cfg, tuple(shifted))
    es = GeneratorES(env_cfg, cfg, shifted, seed=0, num_threads=1)
    generations = es.phase(None, 3)
    assert len(generations) == 3 and len(es.state.selections) == 1
    assert es.state.selections[0].chosen != "incumbent"
    pairs = np.array([es.compare(None, es.state.initial, es.state.incumbent) for _ in range(3)])  # (before, after)
    assert (pairs[:, 1] > pairs[:, 0]).all()  # measured: +0.21, +0.21, +0.34
    assert pairs[:, 1].mean() > pairs[:, 0].mean() + 0.15  # measured: 1.05 -> 1.31
    assert es.state.env_steps == 3 * 7 * 2 * 75 + 7 * 2 * 75  # generations + the selection, 1.5 s = 75 steps


def test_population_runs_each_members_generator_in_its_envs():
    from stridelab.distributed.population import PopulationBatch
    from stridelab.etg.population import ETGProblem

    cfg = ETGConfig()
    env_cfg = etg_env_cfg(make_env_cfg("quadruped-flat", num_threads=1), cfg)
    batch = PopulationBatch(ETGProblem(episode_s=0.4), env_cfg, members=3, envs_per_member=2, seed=0, num_threads=1)
    w = cfg.generator.prior_weights()
    params = np.stack([w, np.zeros_like(w), w * 1.5])
    result = batch.evaluate(params, None, call=0)
    assert result.values.shape == (3, 2) and result.env_steps == 6 * 20
    assert np.allclose(batch.env.action_term.weights.reshape(6, -1), np.repeat(params, 2, axis=0))
    commands = batch.env.commands.velocity.command
    assert np.allclose(commands[0:2], commands[2:4]) and np.allclose(commands[0:2], commands[4:6])
    assert not np.allclose(commands[0], commands[1])  # two different commands per member
    assert np.allclose(result.fitness, result.values.mean(axis=1))


def test_exported_table_reproduces_the_generator(etg_env, tmp_path):
    from stridelab.mdp.etg import table_error

    term = etg_env.action_term
    table = term.table(1024)
    assert table.shape == (1024, 12)
    # row k is the generator at foot phase k / rows, exactly
    s = RobotState(base_quat=np.tile([1.0, 0, 0, 0], (2, 1)), base_ang_vel=np.zeros((2, 3)),
                   projected_gravity=np.tile([0, 0, -1.0], (2, 1)), joint_pos=np.zeros((2, 12)),
                   joint_vel=np.zeros((2, 12)), default_joint_pos=term.default, actions=np.zeros((2, 12)),
                   commands=np.tile([0.5, 0.0, 0.0], (2, 1)), gait_phase=np.full((2, 4), 100 / 1024))
    assert np.abs(term.generator_targets(s)[0] - table[100]).max() < 1e-12
    path = term.export_files(tmp_path)[0]
    assert path.name == TABLE_FILE
    deployed = etg_table_residual.from_description(term.describe(), tmp_path)
    err = table_error(term, deployed)
    assert err < 1e-4  # linear interpolation between 1024 phases (measured ~1e-5 rad)
    assert err > 0.0  # the check compares different code paths
    coarse = etg_table_residual(term.default.tolist(), term.table(16), term.joint_foot.tolist(), 0.4)
    assert table_error(term, coarse) > 10 * err  # a coarse table would be caught
    # a bad table file is one sentence
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ConfigError, match="corrupt"):
        load_table(tmp_path / "bad.npy", 12)
    save_table(tmp_path / "narrow.npy", np.zeros((8, 3)))
    with pytest.raises(ConfigError, match="shape"):
        load_table(tmp_path / "narrow.npy", 12)


def test_generator_file_round_trip_and_errors(tmp_path):
    settings = GeneratorSettings(num_rbf=8)
    gen = GeneratorFile(tuple(settings.prior_weights()), settings, "pace", 2.5, "quadruped", "quadruped-flat")
    path = save_generator(tmp_path / "generator.json", gen)
    back = load_generator(tmp_path)  # a run directory works too
    assert back.weights == gen.weights and back.settings == settings and back.gait == "pace"
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temporary left
    with pytest.raises(ConfigError, match="does not exist"):
        load_generator(tmp_path / "missing.json")
    data = json.loads(path.read_text())
    data["weights"] = data["weights"][:-1]
    (tmp_path / "short.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="corrupt.*15 weights"):
        load_generator(tmp_path / "short.json")
    (tmp_path / "trunc.json").write_text(path.read_text()[:50])
    with pytest.raises(ConfigError, match="corrupt"):
        load_generator(tmp_path / "trunc.json")


def test_env_cfg_sets_the_gait_and_adds_a_clock_where_there_is_none():
    cfg = etg_env_cfg(make_env_cfg("quadruped-flat"), ETGConfig(gait="bound", frequency=2.5))
    assert cfg.commands["gait"].params["offsets"] == GAITS["bound"] and cfg.commands["gait"].params["frequency"] == 2.5
    base = make_env_cfg("quadruped-flat")
    bare = type(base)(**{**base.__dict__, "commands": {"velocity": base.commands["velocity"]},
                         "rewards": {k: v for k, v in base.rewards.items() if k != "gait_contact_schedule"}})
    policy = bare.observations["policy"]
    bare = type(bare)(**{**bare.__dict__, "observations": {**bare.observations, "policy": type(policy)(
        **{**policy.__dict__, "terms": {k: v for k, v in policy.terms.items() if k != "gait_clock"}})}})
    cfg = etg_env_cfg(bare, ETGConfig())
    assert cfg.commands["gait"].func == "gait_clock" and "gait_clock" in cfg.observations["policy"].terms
    env = stridelab.make_env(type(cfg)(**{**cfg.__dict__, "num_envs": 2, "num_threads": 1}))
    assert env.get_observations()["policy"].shape[1] == 45 + 8 + 12
    with pytest.raises(ConfigError, match="four feet"):
        etg_env_cfg(make_env_cfg("biped-flat"), ETGConfig())


@pytest.mark.parametrize("argv, message", [
    (["etg", "train", "quadruped-flat", "--alg", "ga"], "--alg 'ga' is unknown"),
    (["etg", "train", "quadruped-flat", "--act-bound", "0"], "--act-bound 0.0 is out of range"),
    (["etg", "train", "quadruped-flat", "--etg-path", "/nonexistent/generator.json"], "does not exist"),
    (["etg", "train", "quadruped-flat", "--alg", "pgpe", "--popsize", "7"], "--popsize 7 is odd"),
    (["etg", "train", "quadruped-flat", "--cpus-per-worker", "2"], "add --workers N"),
    (["etg", "train", "quadruped-flat", "--workers", "-1"], "--workers -1 is out of range"),
    (["etg", "train", "quadruped-flat", "--workers", "2", "--async-rollouts"], "is for PPO rollouts on Ray"),
    (["etg", "pretrain", "quadruped-flat", "--generations", "0"], "--generations 0 is out of range"),
    (["etg", "train", "quadrupd-flat"], "unknown task 'quadrupd-flat'"),
])
def test_cli_refuses_bad_input_in_one_sentence(argv, message, capsys, tmp_path):
    from stridelab.app.cli import main

    assert main([*argv, "--log-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not any(tmp_path.iterdir())  # nothing half-made


def test_cli_export_of_a_missing_run_is_one_sentence(capsys, tmp_path):
    from stridelab.app.cli import main

    assert main(["etg", "export", str(tmp_path / "nonexistent")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "does not exist" in err[0]


def test_etg_help_lists_its_verbs_as_subcommands(capsys):
    from stridelab.app.cli import main

    assert main(["etg", "--help"]) == 0
    out = capsys.readouterr().out
    assert "{train,pretrain,export}" in out and "subcommands" in out


def test_cli_refuses_a_corrupt_generator_file(capsys, tmp_path):
    from stridelab.app.cli import main

    bad = tmp_path / "generator.json"
    bad.write_text('{"format": "stridelab-etg-generator/1", "weights": [0.1, NaN')
    assert main(["etg", "pretrain", "quadruped-flat", "--etg-path", str(bad), "--log-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is corrupt" in err[0] and "--etg-path none" in err[0]


def test_dual_training_export_and_deploy(tmp_path):
    """Dual training (ES, PPO, ES, PPO) writes a checkpoint holding the evolved generator; `stridelab etg export`
    writes the table; the deploy runtime runs table + residual in the deploy simulation, giving the targets
    the training action term gives for the same state and action."""
    from stridelab.app.cli import main
    from stridelab.deploy.backend import SimBackend, SimBackendConfig, robot_of
    from stridelab.deploy.runtime import ControlLoop, OnnxPolicy
    from stridelab.etg.dual import train_etg
    from stridelab.learn.policy import load_policy
    from stridelab.envs import make_env
    cfg = ETGConfig(popsize=4, envs_per_member=1, episode_s=0.5, es_generations=1, rl_iterations=1, sigma=0.03)
    result = train_etg("quadruped-flat", cfg, tmp_path / "run", seed=0,
                       env_overrides={"num_envs": 8, "num_threads": 1, "episode_length_s": 1.0},
                       train_overrides={"num_steps_per_env": 8, "max_iterations": 2}, walk_check=False)
    assert (result.iterations, result.generations, result.stopped_because) == (2, 2, "max_iterations")
    log = json.loads((tmp_path / "run" / "etg_log.json").read_text())
    assert len(log["selections"]) == 2 and result.es_env_steps == 2 * (5 * 25) * 2
    assert result.env_steps == 2 * 8 * 8 + result.es_env_steps  # PPO + ES transitions
    weights = load_generator(tmp_path / "run").weights
    loaded = load_policy(tmp_path / "run")
    assert loaded.env_cfg.action.params["weights"] == pytest.approx(weights)  # the checkpoint holds the generator
    assert torch.load(result.checkpoint, weights_only=True)["format_version"] == 2
    assert (tmp_path / "run" / "plots" / "etg_feet.png").stat().st_size > 10_000
    assert (tmp_path / "run" / "plots" / "etg_fitness.png").stat().st_size > 10_000

    out = tmp_path / "export"
    assert main(["etg", "export", str(tmp_path / "run"), "--out", str(out), "--table-size", "2048"]) == 0
    assert np.load(out / TABLE_FILE).shape == (2048, 12)
    meta = json.loads((out / "policy.json").read_text())
    assert meta["action"]["func"] == "stridelab.mdp.etg:etg_table_residual"
    assert meta["action"]["generator"]["table_rows"] == 2048

    policy = OnnxPolicy(out)
    backend = SimBackend(robot_of(meta), SimBackendConfig(latency_s=0.0))
    loop = ControlLoop(policy, backend, realtime=False)
    raw = []  # the action term's targets, before the safety layer's clamps
    safety_filter = loop.safety.filter_targets
    loop.safety.filter_targets = lambda target, current: (raw.append(np.array(target)), safety_filter(target, current))[1]
    train_term = make_env(type(loaded.env_cfg)(**{**loaded.env_cfg.__dict__, "num_envs": 1, "num_threads": 1})).action_term
    gaps, phases = [], []

    def on_tick(t, s, c):
        state = loop.builder.last_state
        phases.append(float(state.gait_phase[0, 0]))
        expected = train_term.generator_targets(state)[0] + train_term.act_bound * loop.last_action
        gaps.append(float(np.abs(raw[-1] - expected).max()))

    loop.reset()
    stats = loop.run(1.0, lambda t: np.array([0.5, 0.0, 0.0]), on_tick=on_tick)
    assert stats.ticks == 50 and len(raw) == 50 and not loop.safety.events
    assert max(gaps) < 1e-4  # table + residual in deployment = generator + residual in training
    assert phases[0] == 0.0 and phases[10] == pytest.approx(10 * 0.02 * 2.0)  # the clock: from phase 0, at 2 Hz
    q = np.array(raw)
    assert (q.max(axis=0) - q.min(axis=0))[[1, 2]].min() > 0.2  # the generator swings the FL thigh and calf
