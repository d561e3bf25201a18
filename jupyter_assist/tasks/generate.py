"""Generate code for an instruction (`%%assist`): one Python block, extracted from the reply."""

from __future__ import annotations

import re
from typing import Any

from ..engine.types import PRIORITY_EDIT, Event, GenerationParams, Request
from ..notebook import from_cells, generate_prompt
from ..prompt.model import ModelText
from ..wire import GenerateRequest
from .spec import Task, TaskSettings

FENCE = re.compile(r"```[ \t]*(?:python|py|ipython)?[ \t]*\n(.*?)(?:```|\Z)", re.S)


def build(req: GenerateRequest, model: ModelText, max_tokens: int, context_tokens: int = 2048) -> Request:
    answer = req.max_tokens or max_tokens
    prompt = generate_prompt(
        from_cells(req.cells).cells,
        req.instruction,
        req.code,
        model.tokens,
        model.chat_prompt,
        model.budget(context_tokens, answer),
        answer,
        variables=req.variables,
    )
    return Request(req.request_id, prompt.text, GenerationParams(max_tokens=answer), priority=PRIORITY_EDIT, inspect=prompt.report)


def extract_code(text: str) -> str:
    """The first fenced block's body, else the whole reply: the code to review."""
    m = FENCE.search(text)
    code = m.group(1) if m else text
    return code.strip("\n").rstrip() + ("\n" if code.strip() else "")


def finish(req: GenerateRequest, done: Event, settings: TaskSettings) -> dict[str, Any]:
    return {"text": done.text, "code": extract_code(done.text)}


TASK = Task("generate", GenerateRequest, lambda body, model, settings: build(body, model, settings.generate_max_tokens), finish)
