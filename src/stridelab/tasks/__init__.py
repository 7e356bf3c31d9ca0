"""Tasks: one small file per task family, each registering named tasks in :mod:`stridelab.registry`.

``stridelab.make(name, **overrides)`` builds one; the names below are re-exported for convenience.
"""

from stridelab.registry import (TASKS, TaskEntry, get_task, list_tasks, make, make_env, make_env_cfg,
                                register_task)

register = register_task

__all__ = ["TASKS", "TaskEntry", "get_task", "list_tasks", "make", "make_env", "make_env_cfg", "register",
           "register_task"]
