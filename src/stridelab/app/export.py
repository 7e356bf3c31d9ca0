"""``stridelab export RUN [RUN ...]``: policy.onnx, policy.pt, policy.json and robot.xml for a robot."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import tyro


@dataclasses.dataclass(frozen=True)
class Args:
    """Write policy.onnx, policy.pt and policy.json (and robot.xml) for a robot.

    Several runs export as one ensemble: one model averaging their policies' actions.

    Attributes:
        target: run directory or checkpoint file.
        out: output directory (default: RUN_DIR/export, for an ensemble RUN_DIR/export_ensemble).
        ensemble: further runs or checkpoints: export the ensemble of all the policies given (they must read
            the same observations; recurrent members carry their own state).
    """

    target: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN")]
    out: Annotated[str | None, tyro.conf.arg(metavar="DIR")] = None
    ensemble: Annotated[tyro.conf.Positional[tuple[str, ...]], tyro.conf.arg(metavar="[RUN ...]")] = ()


def run(args: Args) -> int:
    """Export a run's policy and check torch/onnxruntime parity."""
    from stridelab.deploy.export import check_parity, export_policy

    targets = [Path(t) for t in (args.target, *args.ensemble)]
    out = export_policy(targets if len(targets) > 1 else targets[0], Path(args.out) if args.out else None)
    err = check_parity(out)
    what = f" (an ensemble of {len(targets)} policies)" if len(targets) > 1 else ""
    print(f"exported policy.onnx, policy.pt and policy.json{what} to {out} (torch/onnxruntime max difference "
          f"{err:.1e})")
    return 0
