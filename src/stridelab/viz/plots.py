"""Matplotlib plots of a recorded trajectory and of an evaluation (PNG, titled, with units and legends)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from stridelab.files import write_atomic


def plot_trajectory(traj, out_dir: Path) -> list[Path]:
    """Write joints_vs_targets.png, torques.png, gait.png and base_velocity.png; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = traj.time
    paths = []
    n = len(traj.joint_names)
    cols = 3 if n % 3 == 0 else 4
    rows = int(np.ceil(n / cols))

    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.2 * rows), sharex=True, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        ax.plot(t, traj.joint_pos[:, i], label="position", lw=1.2)
        ax.plot(t, traj.joint_target[:, i], label="PD target", lw=1.0, ls="--")
        ax.set_title(traj.joint_names[i], fontsize=9)
        ax.set_ylabel("angle [rad]", fontsize=8)
    axes.flat[0].legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("time [s]")
    fig.suptitle("Joint positions and PD targets")
    fig.tight_layout()
    paths.append(_save(fig, out_dir / "joints_vs_targets.png"))

    fig, ax = plt.subplots(figsize=(10, 4))
    for i, name in enumerate(traj.joint_names):
        ax.plot(t, traj.torques[:, i], lw=0.9, label=name)
    ax.set_xlabel("time [s]")
    ax.set_ylabel("torque [N m]")
    ax.set_title("Joint torques")
    ax.legend(fontsize=7, ncol=4, loc="upper right")
    fig.tight_layout()
    paths.append(_save(fig, out_dir / "torques.png"))

    fig, ax = plt.subplots(figsize=(10, 0.6 * len(traj.feet) + 1.4))
    for k, foot in enumerate(traj.feet):
        on = traj.foot_contact[:, k].astype(bool)
        ax.fill_between(t, k - 0.4, k + 0.4, where=on, step="mid", color=f"C{k}", label=foot)
    ax.set_yticks(range(len(traj.feet)), traj.feet)
    ax.set_xlabel("time [s]")
    ax.set_title("Gait diagram (bars: foot in contact)")
    fig.tight_layout()
    paths.append(_save(fig, out_dir / "gait.png"))

    fig, axes = plt.subplots(3, 1, figsize=(10, 6.5), sharex=True)
    labels = (("v_x", "forward velocity [m/s]", traj.base_lin_vel[:, 0], traj.commands[:, 0]),
              ("v_y", "lateral velocity [m/s]", traj.base_lin_vel[:, 1], traj.commands[:, 1]),
              ("w_z", "yaw rate [rad/s]", traj.base_ang_vel[:, 2], traj.commands[:, 2]))
    for ax, (name, unit, measured, command) in zip(axes, labels):
        ax.plot(t, measured, label=f"measured {name}", lw=1.2)
        ax.plot(t, command, label=f"command {name}", lw=1.2, ls="--", color="k")
        ax.set_ylabel(unit)
        ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("time [s]")
    fig.suptitle("Base velocity against command (base frame)")
    fig.tight_layout()
    paths.append(_save(fig, out_dir / "base_velocity.png"))
    if traj.foot_force is not None:
        paths.append(plot_locomotion(traj, out_dir))
    return paths


def plot_locomotion(traj, out_dir: Path) -> Path:
    """apex's panel of a walking robot (locomotion.png): base height and forward speed, foot heights,
    vertical ground reaction force per foot, and the policy's raw actions."""
    t = traj.time
    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True)
    ax = axes[0]
    ax.plot(t, traj.base_height, color="C0", lw=1.2, label="base height")
    ax.set_ylabel("base height [m]", color="C0")
    speed = ax.twinx()
    speed.plot(t, traj.base_lin_vel[:, 0], color="C1", lw=1.0, label="forward speed")
    speed.plot(t, traj.commands[:, 0], color="k", lw=1.0, ls="--", label="command")
    speed.set_ylabel("forward speed [m/s]", color="C1")
    speed.legend(fontsize=8, loc="upper right")
    for k, foot in enumerate(traj.feet):
        axes[1].plot(t, traj.foot_height[:, k], lw=1.0, label=foot, color=f"C{k}")
        axes[2].plot(t, traj.foot_force[:, k, 2], lw=1.0, label=foot, color=f"C{k}")
    axes[1].set_ylabel("foot height [m]")
    axes[1].legend(fontsize=8, ncol=len(traj.feet), loc="upper right")
    if getattr(traj, "body_weight", None):
        for share, style in ((1.0, ":"), (1.5, "--")):
            axes[2].axhline(share * traj.body_weight, color="0.4", lw=0.8, ls=style,
                            label=f"{share:g} x body weight")
    axes[2].set_ylabel("vertical ground\nreaction force [N]")
    axes[2].legend(fontsize=8, ncol=len(traj.feet), loc="upper right")
    for i, name in enumerate(traj.joint_names):
        axes[3].plot(t, traj.raw_actions[:, i], lw=0.8, label=name)
    axes[3].set_ylabel("raw action [-]")
    axes[3].legend(fontsize=6, ncol=5, loc="upper right")
    axes[3].set_xlabel("time [s]")
    fig.suptitle("Base, feet, ground reaction forces and raw actions")
    fig.tight_layout()
    return _save(fig, Path(out_dir) / "locomotion.png")


def plot_eval(result: dict, out_dir: Path) -> Path:
    """Per-command tracking errors of an evaluation as bars, with the "walks" thresholds (eval_grid.png);
    with gait metrics in ``result``, also the gait panel (gait_eval.png)."""
    if "gait" in result:
        plot_gait(result["gait"], out_dir)
    rows = result["rows"]
    labels = [f"({r['vx']:+.1f},{r['vy']:+.1f},{r['yaw_rate']:+.0f})" for r in rows]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(2, 1, figsize=(14, 6), sharex=True)
    axes[0].bar(x, [r["lin_vel_error"] for r in rows], color="C0")
    axes[0].axhline(result["criteria"]["max_lin_vel_error"], color="r", ls="--", label="walk threshold")
    axes[0].set_ylabel("lin. vel. error [m/s]")
    axes[0].legend(fontsize=8)
    axes[1].bar(x, [r["yaw_rate_error"] for r in rows], color="C1")
    axes[1].axhline(result["criteria"]["max_yaw_rate_error"], color="r", ls="--", label="walk threshold")
    axes[1].set_ylabel("yaw rate error [rad/s]")
    axes[1].set_xticks(x, labels, rotation=90, fontsize=7)
    axes[1].set_xlabel("command (vx [m/s], vy [m/s], yaw rate [rad/s])")
    axes[1].legend(fontsize=8)
    verdict = "walks" if result["walks"] else "does not walk yet"
    fig.suptitle(f"Evaluation grid: lin err {result['lin_vel_error']:.3f} m/s, yaw err "
                 f"{result['yaw_rate_error']:.3f} rad/s, falls {100 * result['fall_rate']:.1f}% -> {verdict}")
    fig.tight_layout()
    return _save(fig, Path(out_dir) / "eval_grid.png")


def plot_gait(gait: dict, out_dir: Path) -> Path:
    """Gait panel of an evaluation: per-foot duty factor, step frequency, stance and swing time, and the
    checks of a natural gait (gait_eval.png)."""
    feet = gait["feet"]
    x = np.arange(len(feet))
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    duty = np.asarray(gait["duty_factor"])
    axes[0].bar(x, duty, color=[f"C{i}" for i in x])
    axes[0].axhline(duty.mean(), color="k", ls="--", lw=1, label="mean foot")
    axes[0].fill_between([-0.5, len(feet) - 0.5], duty.mean() * 0.85, duty.mean() * 1.15, color="k", alpha=0.08,
                         label="+-15 %")
    axes[0].set_xticks(x, feet)
    axes[0].set_ylabel("duty factor (share of time in contact)")
    axes[0].legend(fontsize=8)
    axes[1].bar(x, [np.nan if f is None else f for f in gait["step_frequency_hz"]], color=[f"C{i}" for i in x])
    axes[1].set_xticks(x, feet)
    axes[1].set_ylabel("step frequency [Hz] (all moving commands)")
    w = 0.38
    axes[2].bar(x - w / 2, gait["stance_time_s"], w, label="stance")
    axes[2].bar(x + w / 2, gait["swing_time_s"], w, label="swing")
    axes[2].set_xticks(x, feet)
    axes[2].set_ylabel("mean phase length [s]")
    axes[2].legend(fontsize=8)
    steps = [np.nan if v is None else v for v in gait.get("step_length_m_at_1ms", [None] * len(feet))]
    axes[3].bar(x, steps, color=[f"C{i}" for i in x])
    axes[3].set_xticks(x, feet)
    axes[3].set_ylabel("step length at 1 m/s [m]\n(ahead of the mirror foot)")
    axes[3].set_title(f"L/R asymmetry: step length {100 * gait.get('left_right_step_length_asymmetry', np.nan):.0f} %, "
                      f"stance {100 * gait.get('left_right_stance_time_asymmetry', np.nan):.0f} %", fontsize=8)
    checks = ", ".join(f"{k} {'ok' if v else 'NO'}" for k, v in gait["checks"].items())
    fig.suptitle(f"Gait: {gait['step_frequency_hz_at_1ms']:.2f} Hz at 1 m/s, left/right asymmetry "
                 f"{100 * gait['left_right_asymmetry']:.0f} %, slip {gait['foot_slip']:.2f} m/s, all feet down at zero "
                 f"command {100 * gait['all_feet_down_at_zero_command']:.0f} %\n{checks}", fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(out_dir) / "gait_eval.png")


def plot_terrain_success(terrain: dict, out_dir: Path) -> Path:
    """Success per terrain type and level (terrain_success.png): a heatmap of types x levels with each cell's
    successes / trials, or for a course (one type, one level) bars of the success rate, the fall rate and
    the mean share of the course's distance walked."""
    types, levels = terrain["types"], terrain["levels"]
    if terrain["kind"] == "course":
        (cell,) = terrain["cells"]
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        values = [cell["success_rate"], cell["fall_rate"], min(cell["mean_distance"] / cell["required_distance"], 1.0)]
        bars = ax.bar(["crossed the finish line", "fell", "mean share of the\ndistance walked"], values,
                      color=["tab:green", "tab:red", "tab:blue"])
        for bar, text in zip(bars, [f"{cell['successes']}/{cell['trials']}", f"{100 * values[1]:.0f}%",
                                    f"{cell['mean_distance']:.1f} / {cell['required_distance']:.1f} m"]):
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 3),
                        textcoords="offset points", ha="center", fontsize=9)
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("share of trials (or of the distance)")
        title = textwrap.fill(f"course {terrain['course']['summary']}", 80)
        ax.set_title(f"{title}\nforward {terrain['speed']:g} m/s, within {terrain['duration_s']:.1f} s: success "
                     f"{100 * cell['success_rate']:.0f}%", fontsize=9)
    else:
        rates = np.array([[np.nan if v is None else v for v in row] for row in terrain["success_rate"]], dtype=float)
        fig, ax = plt.subplots(figsize=(1.3 * len(types) + 2.5, 0.55 * len(levels) + 2.2))
        image = ax.imshow(rates, cmap="RdYlGn", vmin=0.0, vmax=1.0, origin="lower", aspect="auto")
        counts = {(c["row"], types.index(c["type"])): c for c in terrain["cells"]}
        for (i, t), c in counts.items():
            ax.text(t, i, f"{100 * c['success_rate']:.0f}%\n{c['successes']}/{c['trials']}", ha="center",
                    va="center", fontsize=8)
        ax.set_xticks(range(len(types)), types, rotation=20, fontsize=8)
        ax.set_yticks(range(len(levels)), [f"{lv:.2f}" for lv in levels], fontsize=8)
        ax.set_xlabel("terrain type")
        ax.set_ylabel("difficulty level")
        fig.colorbar(image, ax=ax, label="success rate")
        ax.set_title(f"Success per terrain type and level: {100 * terrain['overall_success_rate']:.0f}% overall\n"
                     f"forward {terrain['speed']:g} m/s for {terrain['duration_s']:g} s, success = no fall and at "
                     f"least {100 * terrain['fraction']:.0f}% of the commanded distance", fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(out_dir) / "terrain_success.png")


def _save(fig, path: Path) -> Path:
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return path
