"""Inline completion: cursor in a cell + notebook context -> a short continuation.

The prompt (notebook/completion.py) is caching-aware: other cells (stable) first, the
current cell up to the cursor (volatile) last, each part on its own token budget, so
keystroke after keystroke the prompt shares a long prefix with the previous one. With a
local model the cursor line's last token is healed (prompt/heal.py): taken back out of the
prompt, regenerated under a constraint by the engine, and not part of the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..engine.types import PRIORITY_COMPLETE, GenerationParams, Request
from ..notebook import Budgets, completion_prompt, from_cells
from ..notebook.completion import Layout
from ..notebook.context import OUT_MARK
from ..prompt import heal
from ..prompt.fim import for_tokenizer
from ..prompt.tokens import for_backend
from ..wire import CompleteRequest
from .spec import Task

# The context's marks for a cut cell: `# ... (rest of cell omitted)`, `# ... 12 lines omitted ...`.
_OMISSION = re.compile(r"\s*#\s*\.\.\.\s.*\bomitted\b")


@dataclass
class CompletionSettings:
    max_tokens: int = 48
    context_tokens: int = 1536  # other cells
    prefix_tokens: int = 1024  # current cell before the cursor
    suffix_tokens: int = 256  # current cell after the cursor (FIM models)
    below_tokens: int = 256  # cells after the current one (FIM models)
    # Ablation knobs (benchmarks/quality.py): where the cells below go, token healing,
    # outputs of the cells above as comments.
    layout: Layout = "repo"
    heal: bool = True
    heal_known: bool = False  # heal also right after a whole name the notebook uses (it gets stretched)
    outputs: bool = True
    next_mark: bool = False  # repo layout: the suffix ends with the next cell's `# %%`
    marks: bool = False  # `# %%` above each context cell; False: a blank line (quality ablation)
    after_tokens: int = 64  # repo layout: the next cells' first lines after the cell's rest
    nonblank: bool = True  # on an empty cursor line the answer's first token puts text on it


def build(req: CompleteRequest, backend: Any, settings: CompletionSettings) -> Request:
    book = from_cells(req.cells)
    tok = getattr(backend, "tokenizer", None)
    fim = for_tokenizer(tok) if tok is not None else None
    budgets = Budgets(
        settings.context_tokens, settings.prefix_tokens, settings.suffix_tokens, min(128, settings.prefix_tokens // 4), settings.below_tokens
    )
    tokens = for_backend(backend)
    prompt = completion_prompt(
        book.cells,
        req.cell_index,
        req.prefix,
        req.suffix,
        tokens,
        fim,
        budgets,
        variables=req.variables,
        notes=book.notes,
        outputs=settings.outputs,
        layout=settings.layout,
        next_mark=settings.next_mark,
        marks=settings.marks,
        after=settings.after_tokens,
    )
    text, removed = prompt.text, ""
    texts = _token_texts(backend) if settings.heal else None
    if texts is not None:
        line = prompt.text[: prompt.cursor].rpartition("\n")[2]
        # Names the user sees: the prompt without the cursor's word, and the rest of the cell.
        known = heal.known_in(prompt.text[: prompt.cursor - len(heal.last_word(line))] + prompt.text[prompt.cursor :] + "\n" + req.suffix)
        removed = heal.removable(line, tokens.encode, texts.text, (lambda word: False) if settings.heal_known else known)
        if removed:
            text = heal.healed(prompt.text, prompt.cursor, removed)
    # The regenerated token counts against max_tokens like any other.
    # An empty line (as after Enter) asks for a line: the model's best one, not its guess
    # that the line stays empty (an empty answer shows nothing).
    nonblank = settings.nonblank and not req.prefix.rpartition("\n")[2].strip() and not req.suffix.split("\n", 1)[0].strip()
    params = GenerationParams(max_tokens=req.max_tokens or settings.max_tokens, stop=prompt.stops, prefix=removed, nonblank=nonblank)
    return Request(req.request_id, text, params, priority=PRIORITY_COMPLETE, inspect=prompt.report)


def _token_texts(backend: Any) -> Any:
    """The token index of a backend that can constrain an answer's start, else None."""
    if not getattr(backend, "constrains_prefix", False):
        return None
    from ..engine.constrain import token_texts

    return token_texts(backend.tokenizer)


def finish(text: str, req: CompleteRequest) -> str:
    """Post-process the raw continuation: no trailing whitespace, no echo of the suffix,
    no copied output block, no repeat of the line above an empty cursor line (small FIM
    models echo a block opener they were put under), nothing from our own omission marks
    (`# ... (rest of cell omitted)`) on."""
    text = _before_omission_mark(text.rstrip()).rstrip()
    if text.lstrip().startswith(OUT_MARK):
        return ""
    suffix_line = req.suffix.split("\n", 1)[0].strip()
    if suffix_line and text.endswith(suffix_line):
        text = text[: -len(suffix_line)].rstrip()
    if _repeats_line_above(text, req.prefix):
        return ""
    return text if text.strip() else ""


def _before_omission_mark(text: str) -> str:
    """`text` up to the first line that copies a mark the prompt put where it cut a cell."""
    lines = text.split("\n")
    cut = next((i for i, x in enumerate(lines) if _OMISSION.match(x)), len(lines))
    return "\n".join(lines[:cut])


def _repeats_line_above(text: str, prefix: str) -> bool:
    above, _, line = prefix.rpartition("\n")
    if line.strip():  # the answer continues a line that has text: no repeat to judge
        return False
    last = next((x for x in reversed(above.split("\n")) if x.strip()), "")
    return bool(last.strip()) and text.split("\n", 1)[0].strip() == last.strip()


TASK = Task(
    "complete",
    CompleteRequest,
    lambda body, model, settings: build(body, model, settings.completion),
    lambda body, done, settings: {"text": finish(done.text, body)},
)
