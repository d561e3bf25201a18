"""A task's prompt from a notebook file, without a server: the CLI's prompt inspector and the
golden tests build it through the task's own `prompt_of`, as a request would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..notebook import Notebook
from ..prompt.fim import FimFormat
from ..prompt.model import DEFAULT_WINDOW, Messages, ModelText, chat_template, plain_chat
from ..prompt.tokens import Tokens


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
    `template` (default: the tokenizer's, else `plain_chat`), the given window."""
    chat = template or (chat_template(tokenizer) if tokenizer is not None else plain_chat)
    return ModelText(tokens, tokens.encode, chat, fim, lambda: window, tokenizer)
