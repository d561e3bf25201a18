"""Next edit: the user's recent edits -> proposed follow-up edits in this and other cells.

Renames propagate without the model (exact, sent at once: `head`); the model rewrites a
region around the last edit (the region is the speculative draft, most of it is copied),
and its answer becomes proposals only if the model was sure of its change (the mean
log-probability of the generated tokens where the rewrite differs from the region at least
`min_logprob`: the copied rest is near-certain whether the change is right or not; without
per-token figures, of all its tokens; a backend that does not say gives none) and they
pass `proposals.valid` (`finish`). No proposal of either kind touches the lines of the last
edit or undoes it (`Validator`): next edit follows the user, never argues with them.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ..engine.types import Event
from ..notebook import InstructPrompt, Notebook, from_cells
from ..notebook.next_edit import Region, code_sources, next_edit_prompt, region, rename_candidates
from ..notebook.proposals import MAX_PROPOSALS, Proposal, UserEdit, Validator, from_rewrite, merge
from ..prompt.model import ModelText
from ..wire import NextEditRequest
from .edit import rewrite_request
from .spec import Built, Task, TaskSettings, fit

MAX_CANDIDATES = 10 * MAX_PROPOSALS  # rename candidates checked per request (most pass)
# The model's rewrite is shown only when the mean log-probability of its changed tokens
# reaches this (the server's next_edit_min_logprob). Over all its tokens the mean said
# nothing: a rewrite is mostly copied, and every calibration rewrite, right or wrong, was in
# [-0.18, -0.013] (benchmarks/results/next_edit_calibration.json).
MIN_LOGPROB = -0.3  # the default of next_edit_min_logprob
CONTEXT_TOKENS = 2048


@dataclass(frozen=True)
class Followed:
    """What one request's edits call for, worked out once from its body: the cells, the
    edits, the region the model rewrites, the checks proposals pass (one `Validator`: each
    cell's lines and each edit's renames are read once) and the rename proposals."""

    book: Notebook
    edits: list[UserEdit]
    where: Region
    check: Validator
    renames: list[Proposal]

    @classmethod
    def of(cls, req: NextEditRequest) -> Followed:
        """ValueError (a 400) for edits that name no cell or change no code cell."""
        n = len(req.cells)
        for k, e in enumerate(req.edits):
            if e.cell_index >= n:
                raise ValueError(f"edits.{k}.cell_index {e.cell_index} is out of range: the notebook has {n} cells.")
        book = from_cells(req.cells)
        edits = [UserEdit(e.cell_index, e.before, e.after) for e in req.edits]
        where = region(book.cells, edits[-1])
        if where is None:
            raise ValueError("The last edit changes no code cell: nothing to follow up.")
        check = Validator(code_sources(book.cells), edits)
        # Capped before they are checked: candidates come in cell and line order and never
        # overlap, so the first MAX_PROPOSALS valid ones are what merging them all would
        # keep. At most MAX_CANDIDATES are looked at.
        found = (p for p in islice(rename_candidates(book.cells, edits), MAX_CANDIDATES) if check.valid(p))
        return cls(book, edits, where, check, merge(islice(found, MAX_PROPOSALS)))

    def head(self) -> dict[str, Any]:
        """The first stream event: the rename proposals, before the model has said a word."""
        return {"type": "proposals", "source": "rename", "proposals": [p.as_json() for p in self.renames]}

    def model_proposals(self, text: str) -> list[Proposal]:
        """The model's rewrite of the region as proposals; what fails validation is dropped."""
        w = self.where
        return [p for p in from_rewrite(w.cell_index, w.start, w.lines, text, "model") if self.check.valid(p, syntax=True)]

    def finish(
        self, text: str, logprob: float | None = None, min_logprob: float = MIN_LOGPROB, token_logprobs: Sequence[tuple[int, float]] | None = None
    ) -> dict[str, Any]:
        """The `done` event's payload: every proposal, renames first where they overlap; the
        model's only when it was `confident` of its change: the mean log-probability of the
        tokens where its rewrite differs from the region (`token_logprobs`: where each
        token's text ends in `text`, its log-probability), or without those, of every token
        (`logprob`)."""
        judged = logprob if token_logprobs is None else change_logprob(self.where.text, text, token_logprobs)
        model = self.model_proposals(text) if confident(judged, min_logprob) else []
        return {"text": text, "logprob": logprob, "change_logprob": judged, "proposals": [p.as_json() for p in merge(self.renames, model)]}


def changed_spans(region: str, text: str) -> list[tuple[int, int]]:
    """The character ranges of `text` (a rewrite of `region`) that differ from it: within
    each changed line hunk, the characters replaced or inserted (for a deletion, the
    character after it)."""
    new_lines = text.split("\n")
    starts = [0]
    for line in new_lines:
        starts.append(starts[-1] + len(line) + 1)
    out: list[tuple[int, int]] = []
    lines = difflib.SequenceMatcher(a=region.split("\n"), b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in lines.get_opcodes():
        if tag == "equal":
            continue
        if j1 == j2:  # lines deleted: judged by the token where they were
            out.append((starts[j1], starts[j1] + 1))
            continue
        old, new, base = "\n".join(region.split("\n")[i1:i2]), "\n".join(new_lines[j1:j2]), starts[j1]
        for t, _, _, b1, b2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
            if t != "equal":
                out.append((base + b1, base + max(b2, b1 + 1)))  # a deletion: the character after it
    return out


def change_logprob(region: str, text: str, token_logprobs: Sequence[tuple[int, float]]) -> float | None:
    """Mean log-probability of the generated tokens whose text overlaps what the rewrite
    changed (a rewrite is mostly copied, and copied tokens are near-certain whether the
    change is right or not); None when it changed nothing."""
    spans = changed_spans(region, text)
    picked, start = [], 0
    for end, lp in token_logprobs:
        if end > start and any(a < end and start < b for a, b in spans):
            picked.append(lp)
        start = max(start, end)
    return sum(picked) / len(picked) if picked else None


def confident(logprob: float | None, min_logprob: float = MIN_LOGPROB) -> bool:
    """Whether a rewrite of this mean token log-probability may become proposals."""
    return logprob is not None and logprob >= min_logprob


def build(req: NextEditRequest, model: ModelText, settings: TaskSettings, notes: Sequence[str] = ()) -> Built[InstructPrompt]:
    found = Followed.of(req)
    where = found.where
    answer = req.max_tokens or min(settings.next_edit_max_tokens, 2 * len(model.encode(where.text)) + 32)
    how = fit(model, settings.context(CONTEXT_TOKENS), answer, req.variables, [*notes, *found.book.notes])
    prompt = next_edit_prompt(found.book.cells, found.edits, where, how)
    min_logprob = settings.next_edit_min_logprob

    def finish(done: Event) -> dict[str, Any]:
        return found.finish(done.text, done.logprob, min_logprob, done.token_logprobs)

    return Built(rewrite_request(req.request_id, prompt, answer, where.text + "\n"), prompt, finish, found.head())


TASK = Task("next-edit", NextEditRequest, build)
