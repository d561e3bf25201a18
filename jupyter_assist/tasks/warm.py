"""Warm-ups: a prompt prefilled before its request, so the request finds it in the KV cache.

On cell focus the cell's completion context; while an edit's instruction is typed, the
edit prompt with the instruction still empty (`edit.warm`). Warm-ups run after every
other request and generate nothing.
"""

from __future__ import annotations

from ..engine.types import PRIORITY_WARM, Request
from ..prompt.model import ModelText
from ..wire import CompleteRequest, WarmRequest
from . import complete, edit
from .spec import TaskSettings


def build(body: WarmRequest, model: ModelText, settings: TaskSettings) -> Request:
    if body.task == "edit":
        req = edit.warm(body, model, settings)
    else:
        req = complete.build(CompleteRequest(**body.model_dump(exclude={"task"})), model, settings).request
    req.kind, req.priority = "warm", PRIORITY_WARM
    return req
