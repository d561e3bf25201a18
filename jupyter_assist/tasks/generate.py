"""Generate code for an instruction (`%%assist`): one Python block, extracted from the reply."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..engine.types import PRIORITY_EDIT, Event, GenerationParams, Request
from ..notebook import InstructPrompt, from_cells, generate_prompt
from ..prompt.model import ModelText
from ..wire import GenerateRequest
from .spec import Built, Task, TaskSettings, fit

FENCE = re.compile(r"```[ \t]*(?:python|py|ipython)?[ \t]*\n(.*?)(?:```|\Z)", re.S)
CONTEXT_TOKENS = 2048


def build(req: GenerateRequest, model: ModelText, settings: TaskSettings, notes: Sequence[str] = ()) -> Built[InstructPrompt]:
    answer = req.max_tokens or settings.generate_max_tokens
    book = from_cells(req.cells)
    how = fit(model, settings.context(CONTEXT_TOKENS), answer, req.variables, [*notes, *book.notes])
    prompt = generate_prompt(book.cells, req.instruction, req.code, how)
    request = Request(req.request_id, prompt.text, GenerationParams(max_tokens=answer), priority=PRIORITY_EDIT, inspect=prompt.report)
    return Built(request, prompt, finish)


def extract_code(text: str) -> str:
    """The first fenced block's body, else the whole reply: the code to review."""
    m = FENCE.search(text)
    code = m.group(1) if m else text
    return code.strip("\n").rstrip() + ("\n" if code.strip() else "")


def finish(done: Event) -> dict[str, Any]:
    return {"text": done.text, "code": extract_code(done.text)}


TASK = Task("generate", GenerateRequest, build)
