"""Chat: message history + the notebook as context -> a streamed reply."""

from __future__ import annotations

from ..engine.types import PRIORITY_CHAT, GenerationParams, Request
from ..notebook import InstructPrompt, Notebook, chat_prompt, from_cells
from ..prompt.model import ModelText
from ..wire import ChatRequest
from .spec import Task


def prompt_budget(model: ModelText, context_tokens: int, answer: int) -> int:
    """Prompt plus answer, within the model's window (kept for the tasks that still import
    it from here: `model.budget` is the one place)."""
    return model.budget(context_tokens, answer)


def prompt_of(req: ChatRequest, model: ModelText, max_tokens: int, context_tokens: int = 3072, book: Notebook | None = None) -> InstructPrompt:
    """The chat prompt of `req` (`book`: its cells already read, e.g. from an .ipynb with its notes)."""
    book = book or from_cells(req.cells)
    messages = [{"role": m.role, "content": m.content} for m in req.messages]
    return chat_prompt(
        book.cells,
        req.cell_index,
        messages,
        model.tokens,
        model.chat_prompt,
        model.budget(context_tokens, max_tokens),
        max_tokens,
        variables=req.variables,
        notes=book.notes,
        attachments=req.attachments,
        include_current=req.include_active_cell,
    )


def build(req: ChatRequest, model: ModelText, max_tokens: int, context_tokens: int = 3072) -> Request:
    prompt = prompt_of(req, model, max_tokens, context_tokens)
    return Request(req.request_id, prompt.text, GenerationParams(max_tokens=max_tokens), priority=PRIORITY_CHAT, inspect=prompt.report)


def answer_tokens(req: ChatRequest, cap: int) -> int:
    """The reply's length limit: the user's, within the server's cap."""
    return min(req.max_tokens, cap) if req.max_tokens else cap


TASK = Task("chat", ChatRequest, lambda body, model, settings: build(body, model, answer_tokens(body, settings.chat_max_tokens)))
