"""``stridelab sysid LOG --robot SPEC``: fit the simulator's physical parameters to a robot's log.

Replays the logged PD targets from logged states, in short windows, for many candidate parameter sets in one
batched simulation, and finds the parameters that reproduce the log: with MuJoCo's bounded nonlinear least
squares (``--method least-squares``), CMA-ES (``es``, on Ray workers with ``--workers``), or both in turn.
Writes ``params.yaml`` (``stridelab train TASK --dynamics params.yaml`` centres the randomization on it),
``report.png`` and ``trace.json``. ``--self-test`` makes a log with hidden parameters and checks that they are
recovered; it also writes the hidden ones as ``hidden.yaml`` (``stridelab eval RUN --dynamics hidden.yaml``
evaluates a policy in that "real" simulator). The log format is :mod:`stridelab.deploy.robot_log` (``docs/sysid.md``).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Annotated, Literal

import tyro

from stridelab.app.options import check
from stridelab.distributed.options import RayOptions

log = logging.getLogger("stridelab")

DEFAULT_PARAMS = "friction,damping,armature,motor_strength,kp,kd,latency,base_mass"
#: the self-test's tolerance on the continuous parameters (the latency must be exact)
SELF_TEST_TOLERANCE = 0.05
#: the self-test's stand holds the base this far above the robot's standing height [m]
STAND_CLEARANCE = 0.3


@dataclasses.dataclass(frozen=True)
class Args:
    """Identify the simulator's dynamics from a robot's log (or check the identification with --self-test).

    Attributes:
        log: the robot's log (.npz as stridelab deploy --log writes it, or a .csv with named columns).
        robot: the robot: a registered name or a RobotSpec YAML file (default: the log's meta.robot).
        params: the parameters to identify, comma-separated (docs/sysid.md lists them).
        method: least-squares (MuJoCo's mujoco.minimize), es (CMA-ES), or both (ES, then least squares from it).
        window_s: length of a replay window [s].
        windows: number of windows spread over the log.
        generations: ES generations.
        popsize: ES candidates per generation.
        self_test: make a log from the simulator with hidden parameters and sensor noise, identify them, and
            print each parameter's recovery error (exit 1 if any is more than 5 % off or the latency is not exact);
            writes the hidden values as hidden.yaml too.
        seconds: length of the self-test's log [s].
        ground: the self-test's robot stands on the floor instead of a test stand (the feet's contacts make the
            replay less exact: docs/sysid.md).
        out: output directory (default: runs/sysid/<timestamp>).
        seed: seed of the self-test's log and of the ES.
        threads: physics threads (0: all cores).
        ray: ES populations on Ray workers.
    """

    log: Annotated[tyro.conf.Positional[str | None], tyro.conf.arg(metavar="LOG")] = None
    robot: Annotated[str | None, tyro.conf.arg(metavar="SPEC")] = None
    params: str = DEFAULT_PARAMS
    method: Literal["least-squares", "es", "both"] = "least-squares"
    window_s: float = 0.2
    windows: int = 96
    generations: int = 60
    popsize: int = 16
    self_test: bool = False
    seconds: float = 20.0
    ground: bool = False
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    seed: int = 0
    threads: int = 0
    ray: Annotated[RayOptions, tyro.conf.OmitArgPrefixes] = dataclasses.field(default_factory=RayOptions)

    def __post_init__(self) -> None:
        from stridelab.sysid.params import parse_params

        parse_params(self.params)
        check(self.self_test or self.log is not None, "`stridelab sysid` needs a robot log: stridelab sysid LOG "
                                                      "--robot SPEC, or --self-test.")
        check(self.window_s > 0 and self.windows >= 1, f"--window-s {self.window_s} and --windows {self.windows} must "
                                                       f"be positive.")
        check(self.generations >= 1 and self.popsize >= 4, f"--generations {self.generations} and --popsize "
                                                           f"{self.popsize}: give 1 or more generations of 4 or more.")
        check(self.seconds > 0, f"--seconds {self.seconds} is out of range; give a positive length.")


def run(args: Args) -> int:
    import numpy as np

    from stridelab.deploy.robot_log import load_log, log_from_csv, save_log
    from stridelab.learn.rundir import reserve_run_dir
    from stridelab.robots import get_robot, load_robot
    from stridelab.sysid.params import parse_params
    from stridelab.sysid.selftest import HIDDEN, synthetic_log

    names = parse_params(args.params)
    out = Path(args.out) if args.out else reserve_run_dir(Path("runs") / "sysid")
    out.mkdir(parents=True, exist_ok=True)
    if args.self_test:
        spec = get_robot(args.robot or "quadruped")
        # on a test stand 0.3 m above standing height: the legs swing free (docs/sysid.md: why)
        robot = load_robot(spec, stand_height=None if args.ground else spec.init_height + STAND_CLEARANCE)
        hidden = {n: HIDDEN[n] for n in names if n in HIDDEN}
        names = tuple(hidden)  # the self-test identifies what it hid
        robot_log = synthetic_log(robot, hidden, seconds=args.seconds, seed=args.seed)
        log_path = str(save_log(out / "log.npz", robot_log))
    else:
        spec_name = args.robot
        if str(args.log).endswith(".csv"):
            if spec_name is None:
                from stridelab.errors import ConfigError

                raise ConfigError("converting a CSV log needs the robot: add --robot SPEC.")
            spec = get_robot(spec_name)
            robot_log = log_from_csv(args.log, spec.name, list(spec.joint_names), feet=list(spec.feet))
            log_path = str(save_log(out / "log.npz", robot_log))
        else:
            robot_log = load_log(args.log)
            log_path = str(args.log)
            spec = get_robot(spec_name or robot_log.meta.get("robot", ""))
        robot = load_robot(spec, stand_height=robot_log.stand_height)
        from stridelab.deploy.robot_log import check_log

        check_log(robot_log, log_path, list(robot.spec.joint_names))
    fits, replay = identify(robot, robot_log, names, args)
    from stridelab.sysid.report import write_results

    nominal = replay.writer.nominal_values()
    write_results(out, robot.spec.name, replay, fits, nominal, log_path)
    if args.self_test:  # the "real" simulator's dynamics: `stridelab eval RUN --dynamics hidden.yaml`
        from stridelab.sysid.dynamics import write_dynamics
        from stridelab.sysid.params import PARAMS

        write_dynamics(out / "hidden.yaml", robot.spec.name, "hidden", {
            n: {"value": float(robot_log.meta["hidden"][n]), "std": None, "unit": PARAMS[n].unit, "nominal": float(m)}
            for n, m in zip(names, nominal)}, float(robot.model.opt.timestep))
    best = fits[-1]
    print(f"identified {', '.join(names)} from {robot_log.duration:.0f} s of log ({replay.num_windows} windows of "
          f"{args.window_s:g} s): cost {best.cost_before:.4g} -> {best.cost_after:.4g}; "
          + "; ".join(f"{f.method} {f.seconds:.0f} s" for f in fits) + f"; wrote {out / 'params.yaml'}, "
          f"{out / 'report.png'}")
    for n, v, s in zip(best.names, best.values, best.std):
        print(f"  {n:<15} {v:.4g}" + (f" +- {s:.2g}" if np.isfinite(s) else ""))
    if not args.self_test:
        return 0
    return verdict(best, robot_log.meta["hidden"])


def identify(robot, robot_log, names: tuple[str, ...], args: Args) -> tuple[list, object]:
    """Run the chosen optimizer(s) on the log; returns the fits (in order) and the replay."""
    from stridelab.sysid.fit import fit_es, fit_least_squares
    from stridelab.sysid.params import PARAMS
    from stridelab.sysid.replay import Replay, windows

    length = max(2, int(round(args.window_s / robot_log.dt)))
    starts = windows(robot_log, length, args.windows)
    latency_options = int(PARAMS["latency"].bounds[1]) + 1 if "latency" in names else 0
    replay = Replay(robot, robot_log, names, starts, length, capacity=max(2 * len(names), latency_options),
                    num_threads=args.threads)
    x0 = replay.writer.nominal_values()
    fits = []
    if args.method in ("es", "both"):
        fits.append(fit_es(robot_log, robot.spec, names, starts, length, x0, generations=args.generations,
                           popsize=args.popsize, seed=args.seed, ray=args.ray if args.ray.distributed else None,
                           num_threads=args.threads))
        x0 = fits[-1].values
    if args.method in ("least-squares", "both"):
        fits.append(fit_least_squares(replay, x0))
    return fits, replay


def verdict(fit, hidden: dict[str, float]) -> int:
    """The self-test's one-line verdict: each parameter's recovery error; 0 if every one is within 5 % and the
    latency exact."""
    from stridelab.sysid.params import PARAMS

    parts, ok = [], True
    for name, value in zip(fit.names, fit.values):
        true = float(hidden[name])
        if PARAMS[name].integer:
            good = round(value) == round(true)
            parts.append(f"{name} {round(true)} -> {round(value)} ({'exact' if good else 'WRONG'})")
        else:
            err = (value - true) / abs(true) if true else value
            good = abs(err) <= SELF_TEST_TOLERANCE
            parts.append(f"{name} {true:g} -> {value:.4g} ({100 * err:+.1f}%)")
        ok &= good
    print(f"self-test ({fit.method}): " + ", ".join(parts) + (" -> RECOVERED (every parameter within 5 %, latency "
                                                              "exact)" if ok else " -> NOT RECOVERED"))
    return 0 if ok else 1
