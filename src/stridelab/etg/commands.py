"""``stridelab etg``: dual training, pretraining and export (options: :class:`stridelab.cli.EtgArgs`)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from stridelab.errors import ConfigError
from stridelab.files import write_atomic

log = logging.getLogger("stridelab")


def etg_config(opts: Any):
    """The :class:`~stridelab.etg.config.ETGConfig` of the command line (a bad value: one-sentence ConfigError)."""
    from stridelab.etg.config import ETGConfig
    from stridelab.etg.generator import GeneratorSettings

    generator = GeneratorSettings(num_rbf=opts.num_rbf, step_length=opts.step_length, foot_height=opts.foot_height)
    return ETGConfig(alg=opts.alg, popsize=opts.popsize, sigma=opts.sigma, envs_per_member=opts.envs_per_member,
                     episode_s=opts.es_episode_s, es_generations=opts.es_generations, rl_iterations=opts.rl_iterations,
                     act_bound=opts.act_bound, gait=opts.gait, frequency=opts.frequency, generator=generator,
                     **({"table_size": opts.table_size} if opts.table_size is not None else {}))


def _check_etg_path(path: str) -> None:
    if path.lower() != "none":
        from stridelab.etg.generator import load_generator

        load_generator(path)  # a missing or corrupt file fails here, before anything is built


def run_etg(opts: Any) -> int:
    if opts.what == "export":
        if opts.workers or opts.ray_address is not None:
            raise ConfigError("`stridelab etg export` runs no ES; drop --workers and --ray-address.")
        return _export(opts)
    from stridelab.commands import ray_options, reserve_run_dir
    from stridelab.tasks import get_task

    pretrain = opts.what == "pretrain"
    task = opts.target if pretrain else opts.what
    get_task(task)  # an unknown task: the registry's sentence
    cfg = etg_config(opts)
    _check_etg_path(opts.etg_path)
    env_over = {"num_envs": opts.num_envs} if opts.num_envs is not None else {}
    if pretrain:
        from stridelab.etg.dual import pretrain_generator

        run_dir = reserve_run_dir(Path(opts.log_dir) / "etg-pretrain" / task)
        result = pretrain_generator(task, cfg, run_dir, opts.generations, seed=opts.seed, etg_path=opts.etg_path,
                                    max_minutes=opts.max_minutes or 0.0, env_overrides=env_over,
                                    ray=ray_options(opts))
        info = json.loads((run_dir / "etg_log.json").read_text())
        print(f"evolved the generator of {task} for {result.generations} generations ({result.es_env_steps:,} env steps, "
              f"{result.seconds:.0f} s): fitness {info['fitness_before']:.2f} before, {info['fitness_after']:.2f} after "
              f"(one batch, same commands); wrote {result.generator} and plots/etg_fitness.png, plots/etg_feet.png in "
              f"{run_dir}")
        return 130 if result.stopped_because == "interrupted" else 0
    from stridelab.commands import run_eval
    from stridelab.etg.dual import train_etg

    train_over: dict[str, Any] = {}
    if opts.max_iterations is not None:
        train_over["max_iterations"] = opts.max_iterations
    if opts.max_minutes is not None:
        train_over["max_minutes"] = opts.max_minutes
    run_dir = reserve_run_dir(Path(opts.log_dir) / f"{task}-etg")
    log.info("ETG training of %s (%s, act bound %.2f rad) in %s", task, cfg.alg, cfg.act_bound, run_dir)
    result = train_etg(task, cfg, run_dir, seed=opts.seed, etg_path=opts.etg_path, env_overrides=env_over,
                       train_overrides=train_over, show_progress=sys.stderr.isatty(), ray=ray_options(opts))
    if result.walk_checks:
        (run_dir / "walk_checks.json").write_text(json.dumps(result.walk_checks, indent=2))
    info = json.loads((run_dir / "etg_log.json").read_text())
    print(f"stopped ({result.stopped_because}) after {result.iterations} PPO iterations and {result.generations} ES "
          f"generations: {result.env_steps:,} env steps ({result.es_env_steps:,} in ES), {result.seconds:.0f} s; "
          f"generator fitness with the final policy {info['fitness_before']:.2f} before evolution, "
          f"{info['fitness_after']:.2f} after; checkpoint {result.checkpoint}, generator {result.generator}")
    if result.stopped_because == "interrupted":
        return 130
    if opts.eval:
        report = run_eval(run_dir)
        terrain = report.get("terrain") or {}
        success = (f"; terrain success {100 * terrain['overall_success_rate']:.0f}%"
                   if "overall_success_rate" in terrain else "")
        print(f"eval: lin vel error {report['lin_vel_error']:.3f} m/s, yaw rate error {report['yaw_rate_error']:.3f} "
              f"rad/s, falls {100 * report['fall_rate']:.1f}% -> "
              + ("WALKS" if report["walks"] else "does not walk yet") + f"{success}; results in {run_dir}")
    return 0


def _export(opts: Any) -> int:
    """Export policy.onnx/.pt/.json, robot.xml and etg_table.npy; check the ONNX parity and the table."""
    from stridelab.config import override
    from stridelab.deploy.export import check_parity, export_policy
    from stridelab.learn.policy import load_policy
    from stridelab.mdp.etg import TABLE_FILE, etg_residual, etg_table_residual
    from stridelab.registry import make_env

    loaded = load_policy(Path(opts.target))
    if loaded.env_cfg.action.func.rpartition(":")[2] != "etg_residual":
        raise ConfigError(f"run {opts.target!r} was not trained with ETG (its action is {loaded.env_cfg.action.func!r}); "
                          f"export it with `stridelab export RUN`.")
    env_cfg = loaded.env_cfg
    if opts.table_size is not None:
        env_cfg = override(env_cfg, action={"params": {"table_size": opts.table_size}})
    out = export_policy(Path(opts.target), Path(opts.out) if opts.out else None)
    env = make_env(override(env_cfg, num_envs=1, num_threads=1))
    term: etg_residual = env.action_term
    if opts.table_size is not None:  # export_policy wrote the run's table size; write the requested one
        term.export_files(out)
        meta_path = out / "policy.json"
        meta = json.loads(meta_path.read_text())
        meta["action"] = term.describe()
        write_atomic(meta_path, lambda f: f.write(json.dumps(meta, indent=2)), binary=False)
    err = check_parity(out)
    table_err = table_error(term, etg_table_residual(term.default.tolist(), out / TABLE_FILE, term.joint_foot.tolist(),
                                                     term.act_bound, term.min_command))
    print(f"exported policy.onnx, policy.pt, policy.json and {TABLE_FILE} ({term.table_size} phases) to {out} "
          f"(torch/onnxruntime max difference {err:.1e}; table/generator max difference {table_err:.1e} rad)")
    return 0


def table_error(term, table_term, samples: int = 4096, seed: int = 0) -> float:
    """Max |table - generator| joint target [rad] over random foot phases (the configured generator, moving)."""
    from stridelab.mdp.state import RobotState

    rng = np.random.default_rng(seed)
    j = term.size
    phase = rng.random((samples, term.kin.num_legs))
    s = RobotState(base_quat=np.tile([1.0, 0, 0, 0], (samples, 1)), base_ang_vel=np.zeros((samples, 3)),
                   projected_gravity=np.tile([0.0, 0, -1], (samples, 1)), joint_pos=np.zeros((samples, j)),
                   joint_vel=np.zeros((samples, j)), default_joint_pos=term.default, actions=np.zeros((samples, j)),
                   commands=np.tile([0.5, 0.0, 0.0], (samples, 1)), gait_phase=phase)
    return float(np.abs(term.generator_targets(s) - table_term.generator_targets(s)).max())
