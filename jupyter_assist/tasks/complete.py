"""Inline completion: cursor in a cell + notebook context -> a short continuation.

Prompt layout is caching-aware: earlier cells (stable) first, the current cell's prefix
(volatile) last, so keystroke after keystroke the prompt shares a long token prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..engine.types import PRIORITY_COMPLETE, GenerationParams, Request
from ..notebook.context import as_code, joined, split_around
from ..prompt.fim import FimFormat, detect
from ..wire import CompleteRequest

Encode = Callable[[str], list[int]]


@dataclass
class CompletionSettings:
    max_tokens: int = 48
    context_tokens: int = 1536  # earlier cells
    prefix_tokens: int = 1024  # current cell before the cursor
    suffix_tokens: int = 256


def _tail_within(text: str, budget: int, encode: Encode) -> str:
    """The longest suffix of `text`, in whole lines, that fits `budget` tokens."""
    if len(encode(text)) <= budget:
        return text
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        n = len(encode(line))
        if used + n > budget:
            break
        kept.append(line)
        used += n
    return "".join(reversed(kept))


def _head_within(text: str, budget: int, encode: Encode) -> str:
    if len(encode(text)) <= budget:
        return text
    kept, used = [], 0
    for line in text.splitlines(keepends=True):
        n = len(encode(line))
        if used + n > budget:
            break
        kept.append(line)
        used += n
    return "".join(kept)


def build(req: CompleteRequest, backend: Any, settings: CompletionSettings) -> Request:
    encode: Encode = backend.encode
    above, _ = split_around(req.cells, req.cell_index)
    context = _tail_within(joined(as_code(c) for c in above), settings.context_tokens, encode)
    prefix = _tail_within(req.prefix, settings.prefix_tokens, encode)
    suffix = _head_within(req.suffix, settings.suffix_tokens, encode)
    head = context + "\n\n" if context else ""
    fim: FimFormat | None = detect(backend.tokenizer.get_vocab()) if hasattr(backend, "tokenizer") else None
    # Mid-line: finish the line. At a line end: the statement or block, up to a blank line.
    mid_line = bool(req.suffix.split("\n", 1)[0].strip())
    stops: tuple[str, ...] = ("\n",) if mid_line else ("\n\n", "\n# In[", "\n```")
    if fim is not None:
        prompt = fim.render(head + prefix, suffix)
        stops += fim.stops
    else:
        prompt = head + prefix
    params = GenerationParams(max_tokens=req.max_tokens or settings.max_tokens, stop=stops)
    return Request(req.request_id, prompt, params, priority=PRIORITY_COMPLETE)


def finish(text: str, req: CompleteRequest) -> str:
    """Post-process the raw continuation: no trailing whitespace, no echo of the suffix."""
    text = text.rstrip()
    suffix_line = req.suffix.split("\n", 1)[0].strip()
    if suffix_line and text.endswith(suffix_line):
        text = text[: -len(suffix_line)].rstrip()
    return text if text.strip() else ""
