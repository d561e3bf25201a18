"""Next edit: from the user's recent edits, the follow-up edits. Pure: no model, no I/O.

Two sources (tasks/next_edit.py merges them): renames found by `renames` (exact, no
model), and the model's rewrite of a region around the last edit, whose prompt is built
here (notebook as a cached isolate in the system message, the edits as a diff and the
region in the request, like the other chat-style prompts in instruct.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from . import renames as R
from .cells import Cell
from .instruct import Fit, InstructPrompt, fenced, one_request
from .linediff import changed_blocks
from .proposals import Proposal, UserEdit, lines_of

NEXT = (
    "You make the follow-up edits after a user's change in a Jupyter notebook cell. "
    "Reply with the rewritten lines in a single ```python block and nothing else."
)
REGION_BEFORE = 3  # lines above the last change the model may rewrite
REGION_AFTER = 8  # and below it
MAX_DIFF_LINES = 60  # per edit, in the prompt
# More than the model's answer (next_edit_max_tokens) could ever rewrite: the rest of a
# longer region stays as it is (proposals keep a region's tail the rewrite did not reach).
MAX_REGION_LINES = 200
# Rename analysis reads cells up to this size (the wire's cap on an edit's snapshots);
# bigger cells get no rename proposals, and the renames found stop at this many
# characters read in all (tokenizing is pure Python, ~3 us a character).
MAX_ANALYSED_CHARS = 100_000
MAX_SCANNED_CHARS = 500_000


@dataclass(frozen=True)
class Region:
    cell_index: int
    start: int
    end: int  # exclusive
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def code_sources(cells: Sequence[Cell]) -> list[str | None]:
    """Each cell's source, None where proposals never go (markdown, raw)."""
    return [c.source if c.kind == "code" else None for c in cells]


def rename_candidates(cells: Sequence[Cell], edits: Sequence[UserEdit]) -> Iterator[Proposal]:
    """Every line, in every code cell, where a rename the user made has yet to follow, in
    cell and line order, found lazily (the caller stops once it has enough). Cells over
    MAX_ANALYSED_CHARS are not analysed: they neither give renames nor take proposals;
    nor are cells once MAX_SCANNED_CHARS have been read."""
    found = R.chain(r for e in edits if _analysed(e.before) and _analysed(e.after) for r in e.renames)
    if not found:
        return
    scanned = 0
    for cell in cells:
        if cell.kind != "code" or not _analysed(cell.source):
            continue
        if any(r.old in cell.source for r in found):  # else line_edits reads nothing
            scanned += len(cell.source)
            if scanned > MAX_SCANNED_CHARS:
                return
        for line, old, new in R.line_edits(cell.source, found, cell.index):
            names = ", ".join(f"{r.old} -> {r.new}" for r in found if r.old in old)
            yield Proposal(cell.index, line, line + 1, (old,), (new,), f"rename {names}")


def rename_proposals(cells: Sequence[Cell], edits: Sequence[UserEdit]) -> list[Proposal]:
    return list(rename_candidates(cells, edits))


def _analysed(source: str) -> bool:
    return len(source) <= MAX_ANALYSED_CHARS


def region(cells: Sequence[Cell], edit: UserEdit) -> Region | None:
    """The lines around the last edit's changes, in the cell's current source."""
    if not 0 <= edit.cell_index < len(cells) or cells[edit.cell_index].kind != "code":
        return None
    current = lines_of(cells[edit.cell_index].source)
    changed = [(j1, j2) for _, _, j1, j2 in changed_blocks(lines_of(edit.before), lines_of(edit.after))]
    if not changed:
        return None
    first, last = changed[0][0], max(changed[-1][1], changed[-1][0] + 1)
    start = max(0, first - REGION_BEFORE)
    end = min(len(current), last + REGION_AFTER, start + MAX_REGION_LINES)
    if start >= end:
        return None
    return Region(edit.cell_index, start, end, tuple(current[start:end]))


def edits_diff(edits: Sequence[UserEdit]) -> str:
    parts = []
    for e in edits:
        diff = list(
            difflib.unified_diff(
                lines_of(e.before), lines_of(e.after), f"cell {e.cell_index + 1} (before)", f"cell {e.cell_index + 1} (after)", n=2, lineterm=""
            )
        )
        if len(diff) > MAX_DIFF_LINES:
            diff = diff[:MAX_DIFF_LINES] + [f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
        parts.append("\n".join(diff))
    return "\n".join(p for p in parts if p)


def next_edit_prompt(cells: Sequence[Cell], edits: Sequence[UserEdit], where: Region, fit: Fit) -> InstructPrompt:
    ask = (
        f"The user just made this change:\n```diff\n{edits_diff(edits)}\n```\n\n"
        f"Lines {where.start + 1}-{where.end} of cell {where.cell_index + 1} now read:\n{fenced(where.text)}\n\n"
        "Rewrite these lines with the edits that should follow from the change (other uses of a renamed "
        "name, call sites of a changed signature, the same change to a repeated pattern). "
        "If nothing else needs to change, repeat them unchanged."
    )
    return one_request(NEXT, ask, cells, where.cell_index, False, fit)
