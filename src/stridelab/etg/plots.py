"""ETG's figures: the generator's foot trajectories before and after evolution, and fitness per generation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stridelab.mdp.etg_generator import foot_offsets
from stridelab.files import write_atomic

LEG_NAMES = ("FL", "FR", "RL", "RR")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_foot_trajectories(before: np.ndarray, after: np.ndarray, width: float, kin: Any, path: Path | str,
                           duty: float = 0.5, title: str = "") -> Path:
    """Foot offset loops (dx, dz) over one cycle and the front-left leg's joint targets over the phase.

    Args:
        before, after: generator weights [m]. Shape: (2 H,).
        width: RBF width [cycles].
        kin: the robot's :class:`~stridelab.mdp.leg_kinematics.LegKinematics` (joint targets via its IK).
        duty: stance fraction (stance drawn thick).
    """
    plt = _pyplot()
    phase = np.linspace(0.0, 1.0, 401)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for weights, label, color in ((before, "before evolution", "tab:gray"), (after, "after evolution", "tab:red")):
        w = np.asarray(weights, dtype=np.float64).reshape(-1, 2)
        off = foot_offsets(phase[None, :], w, width)[0]
        stance = phase < duty
        axes[0].plot(100 * off[:, 0], 100 * off[:, 1], color=color, lw=1.2, label=label)
        axes[0].plot(100 * off[stance, 0], 100 * off[stance, 1], color=color, lw=3.0, alpha=0.6)
        p = np.repeat(kin.default_foot[None], len(phase), axis=0)
        p[:, :, 0] += off[:, None, 0]
        p[:, :, 2] += off[:, None, 1]
        q = kin.ik(p)[:, 0]  # front-left leg
        for j, (style, joint) in enumerate(zip(("-", "--", ":"), ("abduction", "thigh", "calf"))):
            axes[1].plot(phase, q[:, j], style, color=color, label=f"{joint}, {label}")
    axes[0].set(xlabel="forward offset dx [cm]", ylabel="vertical offset dz [cm]",
                title="foot path over one cycle (thick: stance)")
    axes[0].axis("equal")
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[1].axvspan(0.0, duty, color="0.9", zorder=0)
    axes[1].set(xlabel="foot phase [cycles] (grey: stance)", ylabel="joint target [rad]",
                title=f"{LEG_NAMES[0]} leg joint targets (inverse kinematics)")
    axes[1].grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, plt, path)


def plot_fitness(history: list[dict], path: Path | str, selections: list[dict] | None = None, title: str = "") -> Path:
    """Fitness per ES generation: best and mean candidate and the incumbent, the phase-end selections
    (the three options over a third of a batch each; a star marks the one chosen); dashed lines start phases.

    Args:
        history: :class:`~stridelab.etg.evolve.Generation` records as dicts.
        selections: :class:`~stridelab.etg.evolve.Selection` records as dicts.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 4.2))
    if history:
        g = np.array([h["generation"] for h in history])
        ax.plot(g, [h["best"] for h in history], "o-", ms=3, color="tab:red", label="best candidate")
        ax.plot(g, [h["mean"] for h in history], "-", color="tab:blue", label="candidate mean")
        ax.plot(g, [h["incumbent"] for h in history], "s-", ms=3, color="k", label="incumbent (same batch)")
        phases = sorted({h["phase"] for h in history})
        for p in phases[1:]:
            ax.axvline(min(h["generation"] for h in history if h["phase"] == p) - 0.5, ls="--", color="0.6")
    colors = {"incumbent": "k", "mean": "tab:blue", "best": "tab:red"}
    for i, sel in enumerate(selections or []):
        x = sel["after_generation"] + 0.3
        for name, value in sel["fitness"].items():
            chosen = name == sel["chosen"]
            ax.plot(x, value, "*" if chosen else "x", ms=11 if chosen else 6, color=colors[name],
                    label=("selection at the phase end (star: chosen)" if i == 0 and chosen else None))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="ES generation (dashed: a new ES phase after PPO iterations)",
           ylabel="fitness: mean episode return", title=title or "ETG fitness per generation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig, plt, path: Path | str) -> Path:
    path = write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return path
