"""Fix this error: the failing cell and its traceback -> a rewritten cell, reviewed as a diff.

Same decoding as a cell edit (the original cell is the speculative draft: a fix usually
changes a line or two).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..notebook import InstructPrompt, fix_prompt, from_cells
from ..notebook.outputs import error_text, last_error
from ..prompt.model import ModelText
from ..wire import FixRequest
from .edit import CONTEXT_TOKENS, rewrite_answer, rewrite_built
from .spec import Built, Task, TaskSettings, fit


def build(req: FixRequest, model: ModelText, settings: TaskSettings, notes: Sequence[str] = ()) -> Built[InstructPrompt]:
    # cell_index < len(cells) is checked by the wire type.
    book = from_cells(req.cells)
    source = req.cells[req.cell_index].source
    err = last_error(book.cells[req.cell_index].outputs)  # quoted in the prompt as fix_prompt does
    answer = rewrite_answer(model, source, req.max_tokens, error_text(err, max_lines=30, max_chars=4000) if err else "")
    how = fit(model, settings.context(CONTEXT_TOKENS), answer, req.variables, [*notes, *book.notes])
    return rewrite_built(req.request_id, fix_prompt(book.cells, req.cell_index, how), answer, source, req.max_tokens is not None)


TASK = Task("fix", FixRequest, build)
