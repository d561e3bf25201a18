"""Chat: message history + the notebook as context -> a streamed reply."""

from __future__ import annotations

from typing import Any

from ..engine.types import PRIORITY_CHAT, GenerationParams, Request
from ..notebook import chat_prompt, from_cells
from ..prompt.tokens import for_backend
from ..wire import ChatRequest

DEFAULT_WINDOW = 8192


def context_window(backend: Any) -> int:
    """The served model's context length in tokens (DEFAULT_WINDOW when it does not say)."""
    config = getattr(getattr(backend, "model", None), "config", None)
    n = getattr(config, "max_position_embeddings", None)
    return n if isinstance(n, int) and n > 0 else DEFAULT_WINDOW


def prompt_budget(backend: Any, context_tokens: int, answer: int) -> int:
    """Prompt plus answer, within the model's window."""
    return min(context_window(backend), context_tokens + answer)


def build(req: ChatRequest, backend: Any, max_tokens: int, context_tokens: int = 3072) -> Request:
    book = from_cells(req.cells)
    messages = [{"role": m.role, "content": m.content} for m in req.messages]
    prompt = chat_prompt(
        book.cells, req.cell_index, messages, for_backend(backend), backend.chat_prompt,
        prompt_budget(backend, context_tokens, max_tokens), max_tokens, variables=req.variables, notes=book.notes,
        attachments=req.attachments, include_current=req.include_active_cell,
    )
    return Request(req.request_id, prompt.text, GenerationParams(max_tokens=max_tokens), priority=PRIORITY_CHAT, inspect=prompt.report)
