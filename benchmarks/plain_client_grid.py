"""docs/deploy.md's plain client (mujoco + onnxruntime + numpy, built from policy.json and robot.xml only) on the
evaluation command grid, against the run's training evaluation.

    python benchmarks/plain_client_grid.py EXPORT_DIR [--foot-friction MU] [--out FILE]

Runs every grid command of ``policy.json``'s command ranges once for 11 s from a stand (the first second not
counted) with the plain loop exactly as docs/deploy.md gives it, and reports the grid's linear and yaw-rate
tracking errors as ``stridelab eval`` computes them (:class:`stridelab.eval.metrics.GridMetrics`), and their
ratio to ``train_eval.json`` beside the export. ``--foot-friction`` sets the feet's sliding friction in the
loaded robot.xml first (what a different file would give). The check of a client written only from the
documented format (issue 37: the Go2's 1.34-1.72x); a rollout, not a timing.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from stridelab.eval.metrics import GridMetrics, command_grid
from stridelab.files import write_atomic
from stridelab.sim.math import quat_rotate_inverse

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("plain_client_grid")


def plain_controller_class() -> type:
    """The ``PlainController`` of docs/deploy.md's ``plain_loop.py`` block, imported from a temporary file."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "deploy.md").read_text(), flags=re.S)
    folder = Path(tempfile.mkdtemp())
    (folder / "plain_loop.py").write_text(next(b for b in blocks if b.startswith("# file: plain_loop.py")))
    sys.path.insert(0, str(folder))
    from plain_loop import PlainController  # noqa: E402 - the module exists only now

    return PlainController


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("export", type=Path)
    p.add_argument("--foot-friction", type=float, default=None)
    p.add_argument("--height", type=float, default=None, help="spawn height [m] (default: the robot spec's)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    c = plain_controller_class()(args.export)
    meta = c.meta
    if args.foot_friction is not None:
        from stridelab.deploy.backend import robot_of

        c.model.geom_friction[robot_of(meta).foot_geom_ids, 0] = args.foot_friction
    height = args.height
    if height is None:
        from stridelab.robots import get_robot

        robot = meta["robot"]
        height = get_robot(robot.get("registry", robot["name"]), source=robot["source"]).init_height
    dt = meta["control_dt"]
    metrics = GridMetrics(command_grid(meta["commands"]), 1)
    nf, nj = len(meta["robot"]["feet"]), len(meta["joint_names"])
    for i, command in enumerate(metrics.commands):
        c.reset(height)
        for k in range(int(round(11.0 / dt))):
            c.step(command)
            d, quat = c.data, c.data.qpos[c.base_q + 3:c.base_q + 7]
            lin = quat_rotate_inverse(quat[None], d.qvel[c.base_d:c.base_d + 3][None])
            metrics.add(np.array([i]), np.array([False]), k * dt >= 1.0, lin, d.qvel[c.base_d + 3:c.base_d + 6][None],
                        np.zeros((1, nj)), np.zeros((1, nj)), np.zeros((1, nf), bool), np.zeros((1, nf, 3)))
    result = metrics.result()
    out = {"export": str(args.export), "foot_friction": args.foot_friction,
           "lin_vel_error": result["lin_vel_error"], "yaw_rate_error": result["yaw_rate_error"]}
    train = args.export / "train_eval.json"
    if train.is_file():
        out["train_lin_vel_error"] = json.loads(train.read_text())["lin_vel_error"]
        out["ratio_lin_vel_error"] = out["lin_vel_error"] / out["train_lin_vel_error"]
    log.info("%s", json.dumps(out))
    if args.out:
        write_atomic(args.out, lambda f: f.write(json.dumps(out, indent=2)), binary=False)


if __name__ == "__main__":
    main()
