"""What an identification writes: ``params.yaml``, ``trace.json`` and ``report.png`` (measured against simulated
signals before and after, and the optimization trace)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from stridelab.files import write_atomic
from stridelab.sysid.dynamics import write_dynamics
from stridelab.sysid.fit import FitResult


def write_results(out: Path, robot: str, replay, fits: list[FitResult], nominal: np.ndarray, log_path: str) -> Path:
    """``params.yaml`` (the last fit's values), ``trace.json`` (every fit) and ``report.png`` into ``out``."""
    out = Path(out)
    best = fits[-1]
    substep = float(replay.robot.model.opt.timestep)
    values = {n: {"value": float(v), "std": None if not np.isfinite(s) else float(s), "unit": u, "nominal": float(m)}
              for (n, entry), v, s, m in zip(best.as_dict().items(), best.values, best.std, nominal)
              for u in [entry["unit"]]}
    path = write_dynamics(out / "params.yaml", robot, best.method, values, substep, {
        "log": log_path, "cost": {"before": best.cost_before, "after": best.cost_after},
        "windows": {"count": int(replay.num_windows), "length_steps": int(replay.length)}})
    traces = [{"method": f.method, "seconds": round(f.seconds, 2), "evaluations": f.evaluations,
               "cost_before": f.cost_before, "cost_after": f.cost_after, "values": dict(zip(f.names, map(float, f.values))),
               "trace": f.trace} for f in fits]
    write_atomic(out / "trace.json", lambda f: f.write(json.dumps(traces, indent=2)), binary=False)
    plot_report(out / "report.png", replay, nominal, [f.values for f in fits], [f.method for f in fits], fits)
    return path


def plot_report(path: Path, replay, nominal: np.ndarray, fitted: list[np.ndarray], methods: list[str],
                fits: list[FitResult]) -> Path:
    """Three joints' positions and torques over the first window, measured against simulated with the nominal and
    the fitted values, and each fit's cost per iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = np.stack([nominal, *fitted])
    sim = replay.simulate(rows)
    real = replay.logged()
    t = (np.arange(replay.length) + 1) * replay.log.dt
    joints = [0, 1, 2] if sim["joint_pos"].shape[-1] >= 3 else list(range(sim["joint_pos"].shape[-1]))
    names = replay.log.joint_names
    channels = ["joint_pos"] + (["joint_torque"] if "joint_torque" in real else ["joint_vel"])
    fig, axes = plt.subplots(len(channels) + 1, len(joints), figsize=(4 * len(joints), 3 * (len(channels) + 1)),
                             squeeze=False)
    labels = ["nominal", *[f"fitted ({m})" for m in methods]]
    units = {"joint_pos": "rad", "joint_torque": "N m", "joint_vel": "rad/s"}
    for r, channel in enumerate(channels):
        for c, j in enumerate(joints):
            ax = axes[r, c]
            ax.plot(t, real[channel][0, :, j], "k.", ms=3, label="measured")
            for k, label in enumerate(labels):
                ax.plot(t, sim[channel][k, 0, :, j], lw=1.2, label=label)
            ax.set_title(f"{names[j]}: {channel.replace('_', ' ')} [{units[channel]}]", fontsize=8)
            ax.set_xlabel("time in window [s]", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    for c in range(len(joints)):
        ax = axes[-1, c]
        if c < len(fits) and fits[c].trace:
            ax.semilogy([e["cost"] for e in fits[c].trace], "o-", ms=3)
            ax.set_title(f"{fits[c].method}: cost per {'iteration' if fits[c].method == 'least_squares' else 'generation'}",
                         fontsize=8)
        else:
            ax.axis("off")
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return path
