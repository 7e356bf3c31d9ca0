"""``stridelab play RUN [RUN ...]``: video and plots through a command tour, or the interactive viewer."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import tyro

from stridelab.app.options import check_seconds
from stridelab.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Args:
    """Render an mp4 and plots of a run through a command tour; --viewer for the interactive viewer.

    Several runs play as one ensemble: the mean of their policies' actions.

    Attributes:
        target: run directory or checkpoint file.
        out: output directory (default: the run directory; for an ensemble its ensemble/ folder).
        video: render video.mp4 (--no-video: plots only).
        duration: length of the command tour [s].
        viewer: open the interactive MuJoCo viewer instead (needs a display).
        ensemble: further runs or checkpoints: play the ensemble of all the policies given (their actions
            averaged; they must read the same observations).
    """

    target: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN")]
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    video: bool = True
    duration: float = 15.0
    viewer: bool = False
    ensemble: Annotated[tyro.conf.Positional[tuple[str, ...]], tyro.conf.arg(metavar="[RUN ...]")] = ()

    def __post_init__(self) -> None:
        check_seconds("duration", self.duration)


def run(args: Args) -> int:
    """Record video and plots of a run, or open the interactive viewer."""
    targets = [Path(t) for t in (args.target, *args.ensemble)]
    if args.viewer:
        if len(targets) > 1:
            raise ConfigError("--viewer plays one policy; give one run, or drop --viewer to record the ensemble's "
                              "video and plots.")
        from stridelab.learn.policy import load_policy
        from stridelab.viz.viewer import run_viewer

        loaded = load_policy(targets[0])
        return run_viewer(loaded.policy, loaded.env_cfg)
    from stridelab.eval.report import play_run

    out = play_run(targets, Path(args.out) if args.out else None, video=args.video, duration_s=args.duration)
    what = f"the ensemble of {len(targets)} policies" if len(targets) > 1 else "the policy"
    print(f"wrote plots{' and video.mp4' if args.video else ''} of {what} to {out}")
    return 0
