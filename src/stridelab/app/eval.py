"""``stridelab eval RUN``: the command grid (and, on terrain, success per terrain type and level); eval.json."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import tyro

from stridelab.app.options import check, check_seconds
from stridelab.eval.metrics import GRID_DURATION_S, GRID_ENVS_PER_COMMAND


@dataclasses.dataclass(frozen=True)
class Args:
    """Evaluate a run on the command grid; writes eval.json and eval_grid.png. On a task with terrain
    (quadruped-rough, the ETG-RL courses) also the success per terrain type and level (eval.json's
    "terrain", terrain_success.png; see docs/terrain.md).

    Attributes:
        target: run directory or checkpoint file.
        envs_per_command: envs per grid command.
        duration: seconds each command is held (and each terrain-grid trial lasts).
        out: output directory (default: the run directory).
        terrain_trials: trials per terrain type and level.
        terrain_speed: forward command of the terrain trials [m/s].
        terrain_fraction: share of the commanded distance a terrain trial must walk (legged_gym's 0.5);
            a course's trial must cross the finish line within distance / (fraction x speed) seconds.
        dynamics: params.yaml (of `stridelab sysid`, or the hidden.yaml its --self-test writes): evaluate in a
            simulator with exactly these dynamics, e.g. the "real" one (default --out: RUN/eval_<file name>).
    """

    target: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN")]
    envs_per_command: int = GRID_ENVS_PER_COMMAND
    duration: float = GRID_DURATION_S
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    terrain_trials: int = 8
    terrain_speed: float = 0.5
    terrain_fraction: float = 0.5
    dynamics: Annotated[str | None, tyro.conf.arg(metavar="PARAMS_YAML")] = None

    def __post_init__(self) -> None:
        check(self.envs_per_command >= 1, f"--envs-per-command {self.envs_per_command} is out of range; use 1 or more.")
        check(self.terrain_trials >= 1, f"--terrain-trials {self.terrain_trials} is out of range; use 1 or more.")
        check(self.terrain_speed > 0, f"--terrain-speed {self.terrain_speed} is out of range; give a speed > 0 m/s.")
        check(0 < self.terrain_fraction <= 1,
              f"--terrain-fraction {self.terrain_fraction} is out of range; give a share in (0, 1].")
        check_seconds("duration", self.duration)


def print_report(report: dict, run_dir: Path) -> None:
    """The verdicts of an evaluation: tracking and falls ("walks"), the gait, and success per terrain."""
    verdict = "WALKS" if report["walks"] else "does not walk yet"
    print(f"eval: lin vel error {report['lin_vel_error']:.3f} m/s, yaw rate error {report['yaw_rate_error']:.3f} rad/s, "
          f"falls {100 * report['fall_rate']:.1f}% -> the policy {verdict} "
          f"(criteria: <= 0.15 m/s, <= 0.2 rad/s, <= 2% falls); results in {run_dir}")
    gait = report.get("gait")
    if gait:
        missed = [name for name, ok in gait["checks"].items() if not ok]
        print(f"gait: {gait['step_frequency_hz_at_1ms']:.2f} Hz at 1 m/s, duty factors "
              f"{', '.join(f'{d:.2f}' for d in gait['duty_factor'])}, left/right asymmetry "
              f"{100 * gait['left_right_asymmetry']:.0f}%, all feet down at zero command "
              f"{100 * gait['all_feet_down_at_zero_command']:.0f}%, slip {gait['foot_slip']:.2f} m/s -> "
              + ("natural" if gait["natural"] else "not natural: " + ", ".join(missed)) + " (see gait_eval.png)")
    if "terrain" in report:
        from stridelab.eval.terrain import terrain_lines

        print("\n".join(terrain_lines(report["terrain"])) + " (see terrain_success.png)")


def run(args: Args) -> int:
    """Evaluate a run; print the headline metrics as JSON (and the success per terrain)."""
    from stridelab.eval.report import evaluate_run

    out, change = Path(args.out) if args.out else None, None
    if args.dynamics:
        from stridelab.learn.checkpoint import run_dir_of
        from stridelab.sysid.dynamics import centred_env_cfg, load_dynamics

        dynamics = load_dynamics(args.dynamics)
        target = Path(args.target)
        out = out or (target if target.is_dir() else run_dir_of(target)) / f"eval_{Path(args.dynamics).stem}"

        def change(env_cfg):
            return centred_env_cfg(env_cfg, dynamics, "exact")
    report = evaluate_run(Path(args.target), args.envs_per_command, args.duration, out,
                          terrain_trials=args.terrain_trials, terrain_speed=args.terrain_speed,
                          terrain_fraction=args.terrain_fraction, env_change=change)
    print(json.dumps({k: report[k] for k in ("lin_vel_error", "yaw_rate_error", "fall_rate", "power", "foot_slip",
                                             "walks")}, indent=2))
    if "terrain" in report:
        from stridelab.eval.terrain import terrain_lines

        print("\n".join(terrain_lines(report["terrain"])))
    if "student" in report:
        from stridelab.eval.student import side_by_side_lines

        print("\n".join(side_by_side_lines(report["student"])))
    return 0
