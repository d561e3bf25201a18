"""The features, one module each: wire type, prompt building, post-processing (`TASK`).

`TASKS` is what the server serves, by route name, in route order.
"""

from __future__ import annotations

from . import agent, chat, complete, edit, fix, generate, next_edit
from .spec import Task, TaskSettings

TASKS: dict[str, Task] = {t.TASK.name: t.TASK for t in (complete, chat, generate, edit, fix, next_edit, agent)}

__all__ = ["TASKS", "Task", "TaskSettings"]
