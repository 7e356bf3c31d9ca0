"""``stridelab robot check SPEC``: what stridelab made of a robot, and whether it stands in its default pose."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Literal

import tyro

from stridelab.app.options import check_seconds


@dataclasses.dataclass(frozen=True)
class Args:
    """Check a robot: joints, limits, gains, masses and feet; whether it stands in its default pose.

    ``stridelab robot check SPEC`` is the first thing to run on a new robot (exit 1 if it does not stand).

    Attributes:
        action: what to do (check).
        spec: a registered robot name or a RobotSpec YAML file.
        out: PNG of the pose after holding it.
        seconds: how long the default pose is held under the PD controllers [s].
    """

    action: Annotated[tyro.conf.Positional[Literal["check"]], tyro.conf.arg(metavar="check")]
    spec: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="SPEC")]
    out: Annotated[str, tyro.conf.arg(metavar="PNG")] = "robot_check.png"
    seconds: float = 5.0

    def __post_init__(self) -> None:
        check_seconds("seconds", self.seconds)


def run(args: Args) -> int:
    """Print what stridelab made of the robot and whether it stands (exit 1 if it does not)."""
    from stridelab.robots.check import check_robot

    report = check_robot(spec_name=args.spec, seconds=args.seconds, image=Path(args.out))
    print("\n".join(report.lines))
    return 0 if report.stands else 1
