"""Fix this error: the failing cell and its traceback -> a rewritten cell, reviewed as a diff.

Same decoding as a cell edit (the original cell is the speculative draft: a fix usually
changes a line or two).
"""

from __future__ import annotations

from typing import Any

from ..engine.types import PRIORITY_EDIT, Event, GenerationParams, Request
from ..notebook import InstructPrompt, Notebook, fix_prompt, from_cells
from ..prompt.model import ModelText
from ..wire import FixRequest
from .edit import OPEN, rewrite, rewrite_answer
from .spec import Task, TaskSettings


def prompt_of(req: FixRequest, model: ModelText, context_tokens: int = 3072, book: Notebook | None = None) -> tuple[InstructPrompt, int]:
    """The fix prompt of `req` and the answer's token budget (`book`: its cells already read)."""
    # cell_index < len(cells) is checked by the wire type.
    book = book or from_cells(req.cells)
    source = req.cells[req.cell_index].source
    answer = rewrite_answer(model, source, req.max_tokens)
    prompt = fix_prompt(
        book.cells,
        req.cell_index,
        model.tokens,
        model.chat_prompt,
        model.budget(context_tokens, answer),
        answer,
        variables=req.variables,
        notes=book.notes,
    )
    return prompt, answer


def build(req: FixRequest, model: ModelText, context_tokens: int = 3072) -> Request:
    source = req.cells[req.cell_index].source
    prompt, answer = prompt_of(req, model, context_tokens)
    params = GenerationParams(max_tokens=answer, stop=("```",), loop_guard=False)
    return Request(req.request_id, prompt.text + OPEN, params, priority=PRIORITY_EDIT, draft=source, inspect=prompt.report)


def finish(req: FixRequest, done: Event, settings: TaskSettings) -> dict[str, Any]:
    return rewrite(req.cells[req.cell_index].source, done.text)


TASK = Task("fix", FixRequest, lambda body, model, settings: build(body, model), finish)
