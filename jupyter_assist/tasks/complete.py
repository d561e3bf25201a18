"""Inline completion: cursor in a cell + notebook context -> a short continuation.

The prompt (notebook/completion.py) is caching-aware: other cells (stable) first, the
current cell up to the cursor (volatile) last, each part on its own token budget, so
keystroke after keystroke the prompt shares a long prefix with the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine.types import PRIORITY_COMPLETE, GenerationParams, Request
from ..notebook import Budgets, completion_prompt, from_cells
from ..notebook.context import OUT_MARK
from ..prompt.fim import for_tokenizer
from ..prompt.tokens import for_backend
from ..wire import CompleteRequest


@dataclass
class CompletionSettings:
    max_tokens: int = 48
    context_tokens: int = 1536  # other cells
    prefix_tokens: int = 1024  # current cell before the cursor
    suffix_tokens: int = 256  # current cell after the cursor and cells below (FIM models)


def build(req: CompleteRequest, backend: Any, settings: CompletionSettings) -> Request:
    book = from_cells(req.cells)
    tok = getattr(backend, "tokenizer", None)
    fim = for_tokenizer(tok) if tok is not None else None
    budgets = Budgets(settings.context_tokens, settings.prefix_tokens, settings.suffix_tokens, min(128, settings.prefix_tokens // 4))
    prompt = completion_prompt(
        book.cells, req.cell_index, req.prefix, req.suffix, for_backend(backend), fim, budgets,
        variables=req.variables, notes=book.notes,
    )
    params = GenerationParams(max_tokens=req.max_tokens or settings.max_tokens, stop=prompt.stops)
    return Request(req.request_id, prompt.text, params, priority=PRIORITY_COMPLETE, inspect=prompt.report)


def finish(text: str, req: CompleteRequest) -> str:
    """Post-process the raw continuation: no trailing whitespace, no echo of the suffix,
    no copied output block."""
    text = text.rstrip()
    if text.lstrip().startswith(OUT_MARK):
        return ""
    suffix_line = req.suffix.split("\n", 1)[0].strip()
    if suffix_line and text.endswith(suffix_line):
        text = text[: -len(suffix_line)].rstrip()
    return text if text.strip() else ""
