"""The features, one module each: wire type, prompt building, post-processing (`TASK`).

`TASKS` is what the server serves, by route name, in route order.
"""

from __future__ import annotations

from typing import Any

from ..engine.types import Event
from ..wire import AgentRequest, CompleteRequest, NextEditRequest
from . import agent, chat, complete, edit, fix, generate, next_edit
from .spec import Task, TaskSettings

# The specs of complete, next edit and agent live here until those modules (under other
# work now) take their own TASK, as chat, edit, fix and generate do.
COMPLETE = Task(
    "complete",
    CompleteRequest,
    lambda body, model, settings: complete.build(body, model, settings.completion),
    lambda body, done, settings: {"text": complete.finish(done.text, body)},
)


def _next_edit_finish(body: NextEditRequest, done: Event, settings: TaskSettings) -> dict[str, Any]:
    return next_edit.finish(body, done.text, done.logprob, settings.next_edit_min_logprob)


NEXT_EDIT = Task(
    "next-edit",
    NextEditRequest,
    lambda body, model, settings: next_edit.build(body, model, settings.next_edit_max_tokens),
    _next_edit_finish,
    head=next_edit.head,
)
AGENT = Task(
    "agent", AgentRequest, lambda body, model, settings: agent.build(body, model), lambda body, done, settings: agent.finish(body, done.text)
)

TASKS: dict[str, Task] = {t.name: t for t in (COMPLETE, chat.TASK, generate.TASK, edit.TASK, fix.TASK, NEXT_EDIT, AGENT)}

__all__ = ["TASKS", "Task", "TaskSettings"]
