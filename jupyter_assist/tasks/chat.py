"""Chat: message history + the notebook as context -> a streamed reply."""

from __future__ import annotations

from collections.abc import Sequence

from ..engine.types import PRIORITY_CHAT, GenerationParams, Request
from ..notebook import InstructPrompt, chat_prompt, from_cells
from ..prompt.model import ModelText
from ..wire import ChatRequest
from .spec import Built, Task, TaskSettings, fit

CONTEXT_TOKENS = 3072


def answer_tokens(req: ChatRequest, cap: int) -> int:
    """The reply's length limit: the user's, within the server's cap."""
    return min(req.max_tokens, cap) if req.max_tokens else cap


def build(req: ChatRequest, model: ModelText, settings: TaskSettings, notes: Sequence[str] = ()) -> Built[InstructPrompt]:
    answer = answer_tokens(req, settings.chat_max_tokens)
    book = from_cells(req.cells)
    messages = [{"role": m.role, "content": m.content} for m in req.messages]
    how = fit(model, settings.context(CONTEXT_TOKENS), answer, req.variables, [*notes, *book.notes])
    prompt = chat_prompt(book.cells, req.cell_index, messages, how, attachments=req.attachments, include_current=req.include_active_cell)
    return Built(Request(req.request_id, prompt.text, GenerationParams(max_tokens=answer), priority=PRIORITY_CHAT, inspect=prompt.report), prompt)


TASK = Task("chat", ChatRequest, build)
