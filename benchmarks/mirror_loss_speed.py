"""Training speed of a recurrent policy with and without the sequence mirror loss (env steps per second, end to end).

    python benchmarks/mirror_loss_speed.py --out benchmarks/results/mirror_loss_speed.json
    python benchmarks/mirror_loss_speed.py --task biped-flat --layers 2 --iterations 6 --rounds 2

Three settings of the same LSTM run (the task's defaults otherwise), each trained ``--iterations`` iterations per
round, the rounds alternating the settings so that a drifting machine affects them alike:

- ``off``: no mirror loss (the speed to match);
- ``twin``: the mirror loss as trained (``learn/mirror.py``): PPO's own forward pass as the first term, one
  pass over the mirrored trajectories of ``mirror_loss_fraction`` of each mini-batch from the mirror twin states;
- ``zero-state``: the earlier loss, two passes of their own from zero states on the same share
  (:func:`stridelab.learn.mirror.recurrent_mirror_loss`), for comparison.

Env steps per second are counted from the end of each run's first iteration (which builds and warms up) to its
last. Run it alone on the machine: a second job on 2 cores makes torch many times slower.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

from stridelab.config import override
from stridelab.envs.throughput import machine_description
from stridelab.files import write_atomic
from stridelab.learn.mirror import RecurrentMirrorLoss, recurrent_mirror_loss
from stridelab.learn.trainer import Trainer
from stridelab.tasks import get_task, make_env_cfg

SETTINGS = ("off", "twin", "zero-state")


class NoTwin:
    """No mirror twin states in the rollouts (the earlier loss did not need them)."""

    state = None

    def begin_step(self, *args) -> None: ...

    def end_step(self, *args) -> None: ...

    def reset(self, *args) -> None: ...


class ZeroStateMirrorLoss(RecurrentMirrorLoss):
    """The earlier loss: two zero-state passes of its own on ``fraction`` of the trajectories, no twin."""

    def begin_update(self, *args) -> None: ...

    def augment_batch(self, *args) -> None: ...

    def compute_loss(self, actor, batch, original_batch_size):
        return recurrent_mirror_loss(actor, batch.observations, batch.masks, self.mirror, self.fraction)


def one_run(task: str, setting: str, layers: int, iterations: int, seed: int) -> dict:
    train_cfg = override(get_task(task).train_cfg(), rnn_type="lstm", rnn_num_layers=layers,
                         symmetry="off" if setting == "off" else "loss", max_iterations=iterations,
                         stop_when_walks=False, check_every_s=1e9)
    env_cfg = make_env_cfg(task, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(env_cfg, train_cfg, Path(tmp), seed=seed)
        if setting == "zero-state":
            twin = trainer.runner.alg.symmetry
            trainer.runner.alg.symmetry = ZeroStateMirrorLoss.__new__(ZeroStateMirrorLoss)
            trainer.runner.alg.symmetry.__dict__.update(twin.__dict__, twin=NoTwin())
        marks: list[float] = []
        hook = trainer.runner.on_iteration

        def timed(completed: int) -> None:
            hook(completed)
            if completed > len(marks):
                marks.append(time.perf_counter())

        trainer.runner.on_iteration = timed
        try:
            trainer.train(show_progress=False)
        finally:
            trainer.close()
    steps = train_cfg.num_steps_per_env * env_cfg.num_envs * (len(marks) - 1)
    return {"setting": setting, "env_steps_per_s": steps / (marks[-1] - marks[0]), "iterations": len(marks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="biped-flat")
    parser.add_argument("--layers", type=int, default=2, help="LSTM layers (HasRL: 2)")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runs = []
    for _ in range(args.rounds):
        for setting in SETTINGS:
            runs.append(one_run(args.task, setting, args.layers, args.iterations, args.seed))
            logging.info("%-10s %.0f env steps/s", setting, runs[-1]["env_steps_per_s"])
    speed = {s: statistics.median(r["env_steps_per_s"] for r in runs if r["setting"] == s) for s in SETTINGS}
    result = {"machine": machine_description(), "task": args.task, "lstm_layers": args.layers,
              "iterations": args.iterations, "rounds": args.rounds, "runs": runs, "median_env_steps_per_s": speed,
              "twin_vs_off": speed["twin"] / speed["off"], "zero_state_vs_off": speed["zero-state"] / speed["off"]}
    logging.info("median: off %.0f, twin %.0f (%.3f of off), zero-state %.0f (%.3f of off)", speed["off"],
                 speed["twin"], result["twin_vs_off"], speed["zero-state"], result["zero_state_vs_off"])
    if args.out:
        write_atomic(args.out, lambda f: f.write(json.dumps(result, indent=2).encode()))


if __name__ == "__main__":
    main()
