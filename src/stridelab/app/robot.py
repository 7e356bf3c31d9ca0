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

    ``stridelab robot check SPEC`` is the first thing to run on a new robot. It exits 1 if the robot does not
    stand; a biped that stands only with its balance assisted passes with the verdict "needs a policy to stand".

    Attributes:
        action: what to do (check).
        spec: a registered robot name or a RobotSpec YAML file.
        out: the PNG of the pose after holding it: a .png file, or a folder for <robot>_check.png (default: beside
            a YAML spec, as <spec>_check.png; none for a registered robot).
        seconds: how long the default pose is held under the PD controllers [s].
    """

    action: Annotated[tyro.conf.Positional[Literal["check"]], tyro.conf.arg(metavar="check")]
    spec: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="SPEC")]
    out: Annotated[str | None, tyro.conf.arg(metavar="PNG|DIR")] = None
    seconds: float = 5.0

    def __post_init__(self) -> None:
        check_seconds("seconds", self.seconds)


def image_path(spec: str, out: str | None, robot: str) -> Path | None:
    """Where the pose PNG goes: ``out`` (a .png file, or a folder for ``<robot>_check.png``), else beside a YAML
    spec file as ``<spec stem>_check.png``; ``None`` (no image) for a registered robot without ``out``."""
    if out is not None:
        return Path(out) if out.lower().endswith(".png") else Path(out) / f"{robot}_check.png"
    if spec.endswith((".yaml", ".yml")):
        return Path(spec).with_name(f"{Path(spec).stem}_check.png")
    return None


def run(args: Args) -> int:
    """Print what stridelab made of the robot and whether it stands (exit 1 if it does not, 0 for a biped that
    needs a policy to stand)."""
    from stridelab.robots.check import check_robot
    from stridelab.robots.loader import load_robot
    from stridelab.robots.registry import get_robot

    robot = load_robot(get_robot(args.spec))
    image = image_path(args.spec, args.out, robot.spec.name)
    report = check_robot(robot, seconds=args.seconds, image=image)
    print("\n".join(report.lines))
    if image is None:
        print("no pose image: give --out PNG to write one")
    return 0 if report.passes else 1
