"""``stridelab list``: the registered tasks and robots."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Args:
    """List the registered tasks and robots."""


def run(args: Args) -> int:
    from stridelab.robots import ROBOTS
    from stridelab.tasks import list_tasks

    print("tasks:")
    for task in list_tasks():
        print(f"  {task.name:<22} {task.description}")
    print("robots:")
    for name, spec in sorted(ROBOTS.items()):
        print(f"  {name:<22} {spec.source}")
    return 0
