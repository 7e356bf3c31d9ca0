"""Cost of one PPO mini-batch step (actor + critic forward, backward, Adam) for candidate network sizes on the CPU.

    python benchmarks/update_cost.py                    # the flat task, the rough teacher's old and new networks
    python benchmarks/update_cost.py --samples 6144 --reps 20

The update dominates training on 2 cores once the env runs near the physics limit (docs/benchmarks.md,
sections 2 and 7), and it scales with network size x samples: this measures the per-mini-batch time of each
candidate without training anything. Input sizes are the tasks' own: the actor reads ``policy`` (the teacher
also ``extero``, the 187-point scan), the critic also ``privileged``. 6,144 samples is one of 4 mini-batches
of 512 envs x 24 steps, doubled by mirror augmentation. Random inputs and a dummy loss: the arithmetic is the
update's.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

import stridelab

SCAN = 187


def mlp(inputs: int, hidden: tuple[int, ...], outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(inputs, h), nn.ELU()]
        inputs = h
    return nn.Sequential(*layers, nn.Linear(inputs, outputs))


def step_ms(actor_in: int, critic_in: int, hidden: tuple[int, ...], samples: int, reps: int,
            encoder: tuple[int, ...] | None = None) -> float:
    """Mean time of one mini-batch step [ms]; ``encoder`` puts an MLP (187 -> ... -> last) before each network."""
    enc_out = encoder[-1] if encoder else SCAN
    actor = mlp(actor_in - SCAN + enc_out, hidden, 12)
    critic = mlp(critic_in - SCAN + enc_out, hidden, 1)
    modules = [actor, critic]
    if encoder:
        enc_a, enc_c = mlp(SCAN, encoder[:-1], enc_out), mlp(SCAN, encoder[:-1], enc_out)
        modules += [enc_a, enc_c]
    opt = torch.optim.Adam([p for m in modules for p in m.parameters()], lr=1e-3)
    xa, xc = torch.randn(samples, actor_in), torch.randn(samples, critic_in)

    def one() -> None:
        if encoder:
            a = actor(torch.cat([xa[:, :-SCAN], enc_a(xa[:, -SCAN:])], dim=1))
            c = critic(torch.cat([xc[:, :-SCAN], enc_c(xc[:, -SCAN:])], dim=1))
        else:
            a, c = actor(xa), critic(xc)
        loss = a.pow(2).mean() + c.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        one()
    t0 = time.perf_counter()
    for _ in range(reps):
        one()
    return 1000 * (time.perf_counter() - t0) / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=6144)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = {}
    for task in ("quadruped-flat", "quadruped-rough"):
        obs = stridelab.make(task, num_envs=1, num_threads=1).get_observations()
        sizes[task] = {group: int(obs[group].shape[1]) for group in obs.keys()}
    flat, rough = sizes["quadruped-flat"], sizes["quadruped-rough"]
    flat_a, flat_c = flat["policy"], flat["policy"] + flat["privileged"]
    rough_a, rough_c = rough["policy"] + rough["extero"], rough["policy"] + rough["extero"] + rough["privileged"]
    cases = {
        "flat 3x128": (flat_a, flat_c, (128, 128, 128), None),
        "rough 512-256-128": (rough_a, rough_c, (512, 256, 128), None),
        "rough 256-128-64": (rough_a, rough_c, (256, 128, 64), None),
        "rough 3x128": (rough_a, rough_c, (128, 128, 128), None),
        "rough encoder 64-32 + 3x128": (rough_a, rough_c, (128, 128, 128), (64, 32)),
    }
    result = {name: step_ms(a, c, h, args.samples, args.reps, e) for name, (a, c, h, e) in cases.items()}
    print(json.dumps({"samples": args.samples, "threads": args.threads, "input_sizes": sizes,
                      "ms_per_minibatch": result}, indent=2))


if __name__ == "__main__":
    main()
