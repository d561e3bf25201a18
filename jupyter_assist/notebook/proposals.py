"""Next-edit proposals: line-range replacements in a cell, validated before anyone sees
them. Pure: no model.

A proposal replaces lines [start_line, end_line) of the cell's CURRENT source (0-based,
lines split on "\\n" as the editor counts them) holding `old` with `new`. Model answers
are untrusted: whatever does not pass `valid` is dropped, never an error.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

MAX_LINES = 20  # lines one proposal may replace or write
MAX_PROPOSALS = 50  # per request, all sources together


@dataclass(frozen=True)
class Proposal:
    cell_index: int
    start_line: int
    end_line: int  # exclusive
    old: tuple[str, ...]
    new: tuple[str, ...]
    reason: str = field(default="", compare=False)

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["old"], d["new"] = list(self.old), list(self.new)
        return d


@dataclass(frozen=True)
class UserEdit:
    cell_index: int
    before: str
    after: str


def lines_of(source: str) -> list[str]:
    return source.split("\n")


def apply(source: str, p: Proposal) -> str:
    lines = lines_of(source)
    return "\n".join(lines[: p.start_line] + list(p.new) + lines[p.end_line :])


def _parses(source: str) -> bool:
    try:
        ast.parse(source)  # parse only: model output is never compiled or run
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _is_revert(source: str, p: Proposal, edits: Sequence[UserEdit]) -> bool:
    """Undoes (part of) what the user just did in that cell."""
    for e in edits:
        if e.cell_index != p.cell_index:
            continue
        a, b = lines_of(e.before), lines_of(e.after)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
            if tag != "equal" and tuple(b[j1:j2]) == p.old and tuple(a[i1:i2]) == p.new:
                return True
        if apply(source, p) == e.before:
            return True
    return False


def valid(p: Proposal, sources: Sequence[str | None], edits: Sequence[UserEdit] = (), *, syntax: bool = False) -> bool:
    """`sources[i]`: cell i's current source, None for cells that take no proposals
    (markdown, raw). `syntax`: a cell that parsed must still parse after the change (the
    filter for model proposals)."""
    if not 0 <= p.cell_index < len(sources) or sources[p.cell_index] is None:
        return False
    source = sources[p.cell_index]
    assert source is not None
    lines = lines_of(source)
    if not 0 <= p.start_line <= p.end_line <= len(lines):
        return False
    if p.end_line - p.start_line > MAX_LINES or len(p.new) > MAX_LINES:
        return False
    if tuple(lines[p.start_line : p.end_line]) != p.old or any("\n" in x for x in p.new):
        return False
    if [x.rstrip() for x in p.old] == [x.rstrip() for x in p.new]:  # no-op (or whitespace only at line ends)
        return False
    if _is_revert(source, p, edits):
        return False
    if syntax and _parses(source) and not _parses(apply(source, p)):
        return False
    return True


def _overlaps(a: Proposal, b: Proposal) -> bool:
    if a.cell_index != b.cell_index:
        return False
    if a.start_line == a.end_line or b.start_line == b.end_line:  # insertions: same place
        return a.start_line == b.start_line or a.start_line < b.end_line and b.start_line < a.end_line
    return a.start_line < b.end_line and b.start_line < a.end_line


def merge(*groups: Iterable[Proposal]) -> list[Proposal]:
    """Earlier groups win: a later proposal overlapping a kept one is dropped. Sorted by
    cell, then line; at most MAX_PROPOSALS."""
    kept: list[Proposal] = []
    for group in groups:
        for p in group:
            if not any(p == k or _overlaps(p, k) for k in kept):
                kept.append(p)
    kept.sort(key=lambda p: (p.cell_index, p.start_line, p.end_line))
    return kept[:MAX_PROPOSALS]


def from_rewrite(cell_index: int, region_start: int, region: Sequence[str], rewritten: str, reason: str) -> list[Proposal]:
    """Proposals from a model's rewrite of `region` (lines from `region_start`): one per
    changed hunk. The region's tail beyond the rewrite's end is kept, not deleted: that is
    what a rewrite cut short by the token budget looks like."""
    new = lines_of(rewritten.rstrip("\n"))
    old = list(region)
    while old and not old[-1].strip() and len(old) > len(new):  # the region's trailing blank lines
        old.pop()
    out: list[Proposal] = []
    ops = difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            continue
        if k == len(ops) - 1 and i2 == len(old) and i2 - i1 > j2 - j1:
            if j1 == j2:
                continue
            i2 = i1 + (j2 - j1)  # the rewrite's last lines pair with as many of the region's
        out.append(Proposal(cell_index, region_start + i1, region_start + i2, tuple(old[i1:i2]), tuple(new[j1:j2]), reason))
    return out
