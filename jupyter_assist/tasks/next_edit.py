"""Next edit: the user's recent edits -> proposed follow-up edits in this and other cells.

Renames propagate without the model (exact, sent at once: `head`); the model rewrites a
region around the last edit (the region is the speculative draft, most of it is copied),
and its answer becomes proposals only if the model was sure of it (its mean token
log-probability at least `min_logprob`; a backend that does not say gives none) and they
pass `proposals.valid` (`finish`). No proposal of either kind touches the lines of the last
edit or undoes it (`Validator`): next edit follows the user, never argues with them.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from ..engine.types import PRIORITY_EDIT, Event, GenerationParams, Request
from ..notebook import from_cells
from ..notebook.cells import Cell
from ..notebook.next_edit import Region, code_sources, next_edit_prompt, region, rename_candidates
from ..notebook.proposals import MAX_PROPOSALS, Proposal, UserEdit, Validator, from_rewrite, merge
from ..prompt.tokens import for_backend
from ..wire import NextEditRequest
from .chat import prompt_budget
from .edit import OPEN
from .spec import Task, TaskSettings

MAX_CANDIDATES = 10 * MAX_PROPOSALS  # rename candidates checked per request (most pass)
# The model's rewrite is shown only when its mean token log-probability reaches this (the
# server's next_edit_min_logprob): a rewrite is mostly copied, so an unsure one is mostly
# noise around the copy (the random test model: about -10; a rewrite that copies the
# region back unchanged: near 0).
MIN_LOGPROB = -0.3  # the default of next_edit_min_logprob


def _edits(req: NextEditRequest) -> list[UserEdit]:
    return [UserEdit(e.cell_index, e.before, e.after) for e in req.edits]


def _cells(req: NextEditRequest) -> list[Cell]:
    return from_cells(req.cells).cells


def check(req: NextEditRequest) -> Region:
    """The region the model rewrites; ValueError (a 400) for edits that name no cell."""
    n = len(req.cells)
    for k, e in enumerate(req.edits):
        if e.cell_index >= n:
            raise ValueError(f"edits.{k}.cell_index {e.cell_index} is out of range: the notebook has {n} cells.")
    where = region(_cells(req), _edits(req)[-1])
    if where is None:
        raise ValueError("The last edit changes no code cell: nothing to follow up.")
    return where


def build(req: NextEditRequest, backend: Any, max_tokens: int, context_tokens: int = 2048) -> Request:
    where = check(req)
    book = from_cells(req.cells)
    answer = req.max_tokens or min(max_tokens, 2 * len(backend.encode(where.text)) + 32)
    prompt = next_edit_prompt(
        book.cells,
        _edits(req),
        where,
        for_backend(backend),
        backend.chat_prompt,
        prompt_budget(backend, context_tokens, answer),
        answer,
        variables=req.variables,
        notes=book.notes,
    )
    params = GenerationParams(max_tokens=answer, stop=("```",), loop_guard=False)
    return Request(req.request_id, prompt.text + OPEN, params, priority=PRIORITY_EDIT, draft=where.text + "\n", inspect=prompt.report)


def renames(req: NextEditRequest) -> list[Proposal]:
    """The rename proposals, capped before they are checked: candidates come in cell and
    line order and never overlap, so the first MAX_PROPOSALS valid ones are what merging
    them all would keep. At most MAX_CANDIDATES are looked at."""
    cells, edits = _cells(req), _edits(req)
    check = Validator(code_sources(cells), edits)
    found = (p for p in islice(rename_candidates(cells, edits), MAX_CANDIDATES) if check.valid(p))
    return merge(islice(found, MAX_PROPOSALS))


def confident(logprob: float | None, min_logprob: float = MIN_LOGPROB) -> bool:
    """Whether a rewrite of this mean token log-probability may become proposals."""
    return logprob is not None and logprob >= min_logprob


def model_proposals(req: NextEditRequest, text: str) -> list[Proposal]:
    """The model's rewrite of the region as proposals; what fails validation is dropped."""
    cells, edits = _cells(req), _edits(req)
    where = region(cells, edits[-1])
    if where is None:
        return []
    check = Validator(code_sources(cells), edits)
    found = from_rewrite(where.cell_index, where.start, where.lines, text, "model")
    return [p for p in found if check.valid(p, syntax=True)]


def head(req: NextEditRequest) -> dict[str, Any]:
    """The first stream event: the rename proposals, before the model has said a word."""
    return {"type": "proposals", "source": "rename", "proposals": [p.as_json() for p in renames(req)]}


def finish(req: NextEditRequest, text: str, logprob: float | None = None, min_logprob: float = MIN_LOGPROB) -> dict[str, Any]:
    """The `done` event's payload: every proposal, renames first where they overlap; the
    model's only when it was `confident` (`logprob`: its mean token log-probability)."""
    model = model_proposals(req, text) if confident(logprob, min_logprob) else []
    return {"text": text, "logprob": logprob, "proposals": [p.as_json() for p in merge(renames(req), model)]}


def _finish(body: NextEditRequest, done: Event, settings: TaskSettings) -> dict[str, Any]:
    return finish(body, done.text, done.logprob, settings.next_edit_min_logprob)


TASK = Task("next-edit", NextEditRequest, lambda body, model, settings: build(body, model, settings.next_edit_max_tokens), _finish, head=head)
