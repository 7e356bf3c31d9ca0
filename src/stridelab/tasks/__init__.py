"""Tasks: one small file per task family (``quadruped``, ``rough``, ``biped``, ``courses``), each declaring its
``TASKS``; :mod:`stridelab.tasks.registry` collects them. The registry's functions are re-exported here:
``get_task``, ``list_tasks``, ``make_env_cfg``, ``make``, ``register_task``.
"""

from typing import Any

__all__ = ["TASKS", "TaskEntry", "get_task", "list_tasks", "make", "make_env_cfg", "make_gym", "register_task"]


def __getattr__(name: str) -> Any:
    # imported on first use, so that importing one task module does not load every task family
    if name == "TaskEntry":
        from stridelab.tasks.entry import TaskEntry

        return TaskEntry
    if name in __all__:
        from stridelab.tasks import registry

        return getattr(registry, name)
    raise AttributeError(name)
