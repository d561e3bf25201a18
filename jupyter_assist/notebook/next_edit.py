"""Next edit: from the user's recent edits, the follow-up edits. Pure: no model, no I/O.

Two sources (tasks/next_edit.py merges them): renames found by `renames` (exact, no
model), and the model's rewrite of a region around the last edit, whose prompt is built
here (notebook as a cached isolate in the system message, the edits as a diff and the
region in the request, like the other chat-style prompts in instruct.py).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Sequence

from ..prompt.renderer import DEFAULT_CACHE, ChatTemplate, RenderCache
from ..prompt.tokens import Tokens
from . import renames as R
from .cells import Cell
from .instruct import InstructPrompt, _fenced, _one_request
from .proposals import Proposal, UserEdit, lines_of

NEXT = (
    "You make the follow-up edits after a user's change in a Jupyter notebook cell. "
    "Reply with the rewritten lines in a single ```python block and nothing else."
)
REGION_BEFORE = 3  # lines above the last change the model may rewrite
REGION_AFTER = 8  # and below it
MAX_DIFF_LINES = 60  # per edit, in the prompt


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


def rename_proposals(cells: Sequence[Cell], edits: Sequence[UserEdit]) -> list[Proposal]:
    """Every line, in every code cell, where a rename the user made has yet to follow."""
    found = R.chain(r for e in edits for r in R.detect(e.before, e.after, e.cell_index))
    out: list[Proposal] = []
    if not found:
        return out
    for cell in cells:
        if cell.kind != "code":
            continue
        for line, old, new in R.line_edits(cell.source, found, cell.index):
            names = ", ".join(f"{r.old} -> {r.new}" for r in found if r.old in old)
            out.append(Proposal(cell.index, line, line + 1, (old,), (new,), f"rename {names}"))
    return out


def region(cells: Sequence[Cell], edit: UserEdit) -> Region | None:
    """The lines around the last edit's changes, in the cell's current source."""
    if not 0 <= edit.cell_index < len(cells) or cells[edit.cell_index].kind != "code":
        return None
    current = lines_of(cells[edit.cell_index].source)
    ops = difflib.SequenceMatcher(a=lines_of(edit.before), b=lines_of(edit.after), autojunk=False).get_opcodes()
    changed = [(j1, j2) for tag, _, _, j1, j2 in ops if tag != "equal"]
    if not changed:
        return None
    first, last = changed[0][0], max(changed[-1][1], changed[-1][0] + 1)
    start, end = max(0, first - REGION_BEFORE), min(len(current), last + REGION_AFTER)
    if start >= end:
        return None
    return Region(edit.cell_index, start, end, tuple(current[start:end]))


def edits_diff(edits: Sequence[UserEdit]) -> str:
    parts = []
    for e in edits:
        diff = list(
            difflib.unified_diff(lines_of(e.before), lines_of(e.after), f"cell {e.cell_index + 1} (before)", f"cell {e.cell_index + 1} (after)", n=2, lineterm="")
        )
        if len(diff) > MAX_DIFF_LINES:
            diff = diff[:MAX_DIFF_LINES] + [f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
        parts.append("\n".join(diff))
    return "\n".join(p for p in parts if p)


def next_edit_prompt(
    cells: Sequence[Cell],
    edits: Sequence[UserEdit],
    where: Region,
    tokens: Tokens,
    template: ChatTemplate | None,
    budget: int,
    answer: int,
    *,
    variables: Sequence[Any] = (),
    cache: RenderCache | None = DEFAULT_CACHE,
    notes: Sequence[str] = (),
) -> InstructPrompt:
    ask = (
        f"The user just made this change:\n```diff\n{edits_diff(edits)}\n```\n\n"
        f"Lines {where.start + 1}-{where.end} of cell {where.cell_index + 1} now read:\n{_fenced(where.text)}\n\n"
        "Rewrite these lines with the edits that should follow from the change (other uses of a renamed "
        "name, call sites of a changed signature, the same change to a repeated pattern). "
        "If nothing else needs to change, repeat them unchanged."
    )
    return _one_request(NEXT, ask, cells, where.cell_index, False, tokens, template, budget, answer, variables, cache, notes)
