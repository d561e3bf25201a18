"""A task's request from a notebook file, without a server: the CLI's prompt inspector and
the golden tests build the wire body the frontend would send and hand it to the task's own
`build`, as the server does, so what they show is what the server would send."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ..notebook import Notebook, split_cursor
from ..prompt.fim import FimFormat
from ..prompt.model import DEFAULT_WINDOW, Messages, ModelText, chat_template, plain_chat
from ..prompt.tokens import Tokens
from ..wire import ChatRequest, CompleteRequest, EditRequest, FixRequest
from . import TASKS
from .spec import Built, TaskSettings

TASKS_OFFLINE = ("complete", "edit", "chat", "fix")  # the tasks a cell position and words make a request of


def wire_cells(book: Notebook) -> list[dict[str, Any]]:
    """The notebook's cells as the frontend would send them."""
    return [{"cell_type": c.kind, "source": c.source, "outputs": list(c.outputs), "execution_count": c.execution_count} for c in book.cells]


def model_text(
    tokens: Tokens,
    tokenizer: Any = None,
    template: Callable[[Messages], str] | None = None,
    fim: FimFormat | None = None,
    window: int = DEFAULT_WINDOW,
) -> ModelText:
    """A served model's text view from a tokenizer alone (no weights): `tokens` count,
    `template` (default: the tokenizer's, else `plain_chat`), the given window; no token
    healing (nothing decodes)."""
    chat = template or (chat_template(tokenizer) if tokenizer is not None else plain_chat)
    return ModelText(tokens, tokens.encode, chat, fim, lambda: window)


def request(task: str, book: Notebook, cell: int, *, line: int = 0, col: int = 0, instruction: str = "", answer: int = 0) -> BaseModel:
    """The body the frontend would send for `task` with the cursor at (`line`, `col`) of
    `cell` (complete), the user's `instruction` (chat, edit) and, for a rewrite (edit,
    fix), `answer` tokens (0: the task's own)."""
    base: dict[str, Any] = {"request_id": "offline", "cells": wire_cells(book), "cell_index": cell}
    source = book.cells[cell].source
    if task == "complete":
        prefix, suffix = split_cursor(source, line, col)
        return CompleteRequest.model_validate({**base, "prefix": prefix, "suffix": suffix})
    if task == "chat":
        return ChatRequest.model_validate({**base, "messages": [{"role": "user", "content": instruction or "Explain the current cell."}]})
    if task == "edit":
        return EditRequest.model_validate(
            {**base, "instruction": instruction or "Improve this cell.", "source": source, "max_tokens": answer or None}
        )
    if task == "fix":
        return FixRequest.model_validate({**base, "max_tokens": answer or None})
    raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS_OFFLINE)}.")


def build(
    task: str,
    book: Notebook,
    cell: int,
    model: ModelText,
    settings: TaskSettings,
    *,
    line: int = 0,
    col: int = 0,
    instruction: str = "",
    answer: int = 0,
) -> Built[Any]:
    """What the server builds for `request`'s body, with what reading the notebook file
    skipped or repaired in the map."""
    body = request(task, book, cell, line=line, col=col, instruction=instruction, answer=answer)
    return TASKS[task].build(body, model, settings, book.notes)
