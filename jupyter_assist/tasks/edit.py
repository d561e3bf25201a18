"""Edit a cell: instruction + cell -> the whole rewritten cell, then diff hunks.

The model writes the full new cell (models are bad at writing diffs), the original is the
speculative-edit draft (most of it is copied), and we compute the hunks ourselves.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from ..engine.types import PRIORITY_EDIT, Event, GenerationParams, Request
from ..notebook import InstructPrompt, edit_prompt, from_cells
from ..prompt.model import ModelText
from ..wire import EditRequest, NotebookCell, WarmRequest
from .spec import Built, Task, TaskSettings, fit
from .unreached import keep_unreached

OPEN = "```python\n"
# Tokens the instructions, the chat template and the fences take besides the cell (about
# 170 with the tiny test model's tokenizer), with a margin: a user's limit is clipped to it.
REWRITE_OVERHEAD = 256
CONTEXT_TOKENS = 3072  # edit and fix


def rewrite_answer(model: ModelText, source: str, requested: int | None, asked: str = "") -> int:
    """Tokens a rewrite of `source` may take: twice the cell (it may grow) plus 64, or
    `requested` (the settings page's limit), clipped to what the model's context leaves next
    to the cell and `asked` (the instruction, the traceback). A cell too long for even a
    rewrite of its own length (or of the smaller limit asked for) is a clear error (400),
    not a negative budget."""
    cell = len(model.encode(source))
    window = model.window
    room = window - cell - REWRITE_OVERHEAD - (len(model.encode(asked)) if asked else 0)
    answer = min(requested or 2 * cell + 64, room)
    if answer < min(requested or cell + 16, cell + 16):
        raise ValueError(
            f"The cell is too long for this model to rewrite: {cell} tokens, and the rewrite "
            f"needs {'up to ' + str(requested) if requested else 'about as many'} more, but the "
            f"model's context holds {window} tokens. Select part of the cell, or split it, and try again."
        )
    return answer


def rewrite_request(request_id: str, prompt: InstructPrompt, answer: int, draft: str) -> Request:
    """The engine request of a rewrite (edit, fix, next edit). The answer's fence is part of
    the prompt, so the model starts with the code itself and the original (`draft`, the
    speculative draft) lines up from the first token."""
    params = GenerationParams(max_tokens=answer, stop=("```",), loop_guard=False)
    return Request(request_id, prompt.text + OPEN, params, priority=PRIORITY_EDIT, draft=draft, inspect=prompt.report)


def rewrite_built(request_id: str, prompt: InstructPrompt, answer: int, source: str, limited: bool = False) -> Built[InstructPrompt]:
    """A rewrite of the cell `source`, finished as the new cell and its hunks. `limited`: the
    answer's length is the user's own limit (the settings page's), which can cut it short."""

    def finish(done: Event) -> dict[str, Any]:
        # Cut off by the user's limit: the lines it did not reach stay, so Accept all never
        # deletes them. (Cut at the default size, twice the cell, it wrote past the cell's
        # length: all of that is in the diff.)
        text = keep_unreached(done.text, source) if limited and done.finish_reason == "length" else done.text
        return rewrite(source, text)

    return Built(rewrite_request(request_id, prompt, answer, source), prompt, finish)


def build(req: EditRequest, model: ModelText, settings: TaskSettings, notes: Sequence[str] = ()) -> Built[InstructPrompt]:
    cells = list(req.cells)
    index = req.cell_index
    if index is None or index >= len(cells):  # no notebook given: the cell alone
        cells, index = [*cells, NotebookCell(source=req.source)], len(cells)
    else:  # what the user sees now, not a stale copy
        cells[index] = cells[index].model_copy(update={"source": req.source})
    book = from_cells(cells)
    answer = rewrite_answer(model, req.source, req.max_tokens, req.instruction)
    how = fit(model, settings.context(CONTEXT_TOKENS), answer, req.variables, [*notes, *book.notes])
    return rewrite_built(req.request_id, edit_prompt(book.cells, index, req.instruction, how), answer, req.source, req.max_tokens is not None)


def warm(req: WarmRequest, model: ModelText, settings: TaskSettings) -> Request:
    """The edit prompt of the cell at `cell_index` with the instruction still empty, to
    prefill while the user types it. The instruction comes last in the prompt, so the
    edit request then reuses everything before it: only the instruction is left to feed."""
    if req.cell_index is None:  # (an index past the cells is refused by the wire type)
        raise ValueError("An edit warm-up needs cell_index: the cell whose edit prompt to prefill.")
    context = req.model_dump(include={"cells", "cell_index", "variables"})
    edit = EditRequest(**context, request_id=req.request_id, instruction=" ", source=req.cells[req.cell_index].source)
    return build(edit, model, settings).request


def new_source(text: str, original: str) -> str:
    """The rewritten cell, with the original's trailing newline convention."""
    body = text.rstrip("\n")
    return body + "\n" if original.endswith("\n") else body


def hunks(old: str, new: str) -> list[dict[str, Any]]:
    """Changed regions, 0-based line ranges into old and new, with the lines themselves."""
    a, b = old.splitlines(), new.splitlines()
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            out.append({"old_start": i1, "old_end": i2, "new_start": j1, "new_end": j2, "old": a[i1:i2], "new": b[j1:j2]})
    return out


def rewrite(original: str, text: str) -> dict[str, Any]:
    """The `done` payload of a rewrite of `original`: the new cell and its hunks."""
    new = new_source(text, original)
    return {"text": new, "hunks": hunks(original, new)}


TASK = Task("edit", EditRequest, build)
