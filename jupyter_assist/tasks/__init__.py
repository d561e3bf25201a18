"""The features, one module each: wire type, prompt building, post-processing (`TASK`).

`TASKS` is what the server serves, by route name, in route order; `warm` builds the
warm-up prefills (POST /jupyter-assist/warm).
"""

from __future__ import annotations

from . import agent, chat, complete, edit, fix, generate, next_edit, warm
from .spec import Built, Task, TaskSettings

TASKS: dict[str, Task] = {t.TASK.name: t.TASK for t in (complete, chat, generate, edit, fix, next_edit, agent)}

__all__ = ["TASKS", "Built", "Task", "TaskSettings", "warm"]
