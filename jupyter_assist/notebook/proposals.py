"""Next-edit proposals: line-range replacements in a cell, validated before anyone sees
them. Pure: no model.

A proposal replaces lines [start_line, end_line) of the cell's CURRENT source (0-based,
lines split on "\\n" as the editor counts them) holding `old` with `new`. Model answers
are untrusted: whatever does not pass `valid` is dropped, never an error.
"""

from __future__ import annotations

import ast
import difflib
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from . import renames as R
from .linediff import affix, changed_blocks

MAX_LINES = 20  # lines one proposal may replace or write
MAX_PROPOSALS = 50  # per request, all sources together
# The syntax check parses the whole cell, holding the interpreter for its length (a
# 4,000-line cell: ~0.5 s in which no other thread, the server's loop included, runs):
# in a bigger cell, proposals that need it (the model's) are dropped.
MAX_PARSED_CHARS = 20_000


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

    @functools.cached_property
    def renames(self) -> list[R.Rename]:
        """The renames this edit makes, found once per edit (proposals and their checks
        both read them; tokenizing is pure Python, ~3 us a character)."""
        return R.detect(self.before, self.after, self.cell_index)


def lines_of(source: str) -> list[str]:
    return source.split("\n")


def edited_lines(edit: UserEdit) -> list[tuple[int, int]]:
    """The lines the user is editing: the edit's changed blocks, in its `after`'s lines
    (the cell's current source). A deletion marks the lines on either side of it, where the
    cursor is."""
    out = []
    for _, _, j1, j2 in changed_blocks(lines_of(edit.before), lines_of(edit.after)):
        out.append((j1, j2) if j2 > j1 else (max(0, j1 - 1), j1 + 1))
    return out


def _touches(p: Proposal, lines: tuple[int, int]) -> bool:
    a, b = lines
    if p.start_line == p.end_line:  # an insertion: also right above or below the lines
        return a <= p.start_line <= b
    return p.start_line < b and a < p.end_line


def _count(name: str, lines: Sequence[str]) -> int:
    return sum(len(re.findall(rf"(?<![\w]){re.escape(name)}(?![\w])", x)) for x in lines)


def apply(source: str, p: Proposal) -> str:
    lines = lines_of(source)
    return "\n".join(lines[: p.start_line] + list(p.new) + lines[p.end_line :])


def _parses(source: str) -> bool:
    try:
        ast.parse(source)  # parse only: model output is never compiled or run
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


class Validator:
    """`valid` for many proposals against one request: each cell's lines, and what undoing
    each of the user's edits looks like, are worked out once (a check costs the size of
    the proposal, not of the cell: a 4,000-line rename made 4,000 full diffs).

    `sources[i]`: cell i's current source, None for cells that take no proposals
    (markdown, raw)."""

    def __init__(self, sources: Sequence[str | None], edits: Sequence[UserEdit] = ()) -> None:
        self.sources = sources
        self.edits = [e for e in edits if 0 <= e.cell_index < len(sources) and sources[e.cell_index] is not None]
        self._lines: dict[int, list[str]] = {}
        self._parses: dict[int, bool] = {}
        self._undo: dict[int, set[tuple[tuple[str, ...], tuple[str, ...]]]] = {}  # cell -> {(after, before)}
        self._back: dict[int, list[tuple[list[str], int, int]]] = {}  # cell -> [(before's lines, prefix, suffix)]
        # Where the user is typing (the last edit's lines): no proposal goes there.
        last = self.edits[-1] if self.edits and self.edits[-1] == edits[-1] else None
        self.editing: tuple[int, list[tuple[int, int]]] | None = (last.cell_index, edited_lines(last)) if last else None
        self._renamed: list[R.Rename] | None = None

    def lines(self, cell: int) -> list[str]:
        if cell not in self._lines:
            self._lines[cell] = lines_of(self.sources[cell] or "")
        return self._lines[cell]

    def _revert_index(self, cell: int) -> None:
        undo: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
        back: list[tuple[list[str], int, int]] = []
        current = self.lines(cell)
        for e in self.edits:
            if e.cell_index != cell:
                continue
            a, b = lines_of(e.before), lines_of(e.after)
            for i1, i2, j1, j2 in changed_blocks(a, b):
                if j2 - j1 <= MAX_LINES and i2 - i1 <= MAX_LINES:  # longer ones match no valid proposal
                    undo.add((tuple(b[j1:j2]), tuple(a[i1:i2])))
            back.append((a, *affix(current, a, overlap=True)))
        self._undo[cell], self._back[cell] = undo, back

    def in_edited_region(self, p: Proposal) -> bool:
        """Touches the lines of the user's last edit (the lines just typed)."""
        if self.editing is None or self.editing[0] != p.cell_index:
            return False
        return any(_touches(p, lines) for lines in self.editing[1])

    def undoes_rename(self, p: Proposal) -> bool:
        """Brings back a name the user renamed away (`costs` back to `prices`), anywhere."""
        if self._renamed is None:
            self._renamed = R.chain(r for e in self.edits for r in e.renames)
        return any(_count(r.old, p.new) > _count(r.old, p.old) for r in self._renamed)

    def is_revert(self, p: Proposal) -> bool:
        """Undoes (part of) what the user just did in that cell: replaces a block the edit
        changed with what it was, or brings the whole cell back to an edit's `before`."""
        if p.cell_index not in self._undo:
            self._revert_index(p.cell_index)
        if (p.old, p.new) in self._undo[p.cell_index]:
            return True
        lines = self.lines(p.cell_index)
        tail = len(lines) - p.end_line
        for before, prefix, suffix in self._back[p.cell_index]:
            # apply(source, p) == before, without building it: the lines around the
            # proposal are before's own, and before holds p.new in between.
            if (
                len(before) == p.start_line + len(p.new) + tail
                and p.start_line <= prefix
                and tail <= suffix
                and tuple(before[p.start_line : p.start_line + len(p.new)]) == p.new
            ):
                return True
            if before == [""] and not p.new and p.start_line == 0 and tail == 0:  # no lines left: "" as well
                return True
        return False

    def _cell_parses(self, cell: int) -> bool:
        if cell not in self._parses:
            self._parses[cell] = _parses(self.sources[cell] or "")
        return self._parses[cell]

    def valid(self, p: Proposal, *, syntax: bool = False) -> bool:
        """`syntax`: a cell that parsed must still parse after the change (the filter for
        model proposals)."""
        if not 0 <= p.cell_index < len(self.sources) or self.sources[p.cell_index] is None:
            return False
        lines = self.lines(p.cell_index)
        if not 0 <= p.start_line <= p.end_line <= len(lines):
            return False
        if p.end_line - p.start_line > MAX_LINES or len(p.new) > MAX_LINES:
            return False
        if tuple(lines[p.start_line : p.end_line]) != p.old or any("\n" in x for x in p.new):
            return False
        if [x.rstrip() for x in p.old] == [x.rstrip() for x in p.new]:  # no-op (or whitespace only at line ends)
            return False
        if self.in_edited_region(p) or self.is_revert(p) or self.undoes_rename(p):
            return False
        source = self.sources[p.cell_index] or ""
        if syntax and len(source) > MAX_PARSED_CHARS:
            return False
        # A proposal must not break a cell that parses now.
        return not (syntax and self._cell_parses(p.cell_index) and not _parses(apply(source, p)))


def valid(p: Proposal, sources: Sequence[str | None], edits: Sequence[UserEdit] = (), *, syntax: bool = False) -> bool:
    """One proposal checked on its own (see `Validator`, which checks many for the cost of
    one)."""
    return Validator(sources, edits).valid(p, syntax=syntax)


def _overlaps(a: Proposal, b: Proposal) -> bool:
    if a.cell_index != b.cell_index:
        return False
    if a.start_line == a.end_line or b.start_line == b.end_line:  # insertions: same place
        return a.start_line == b.start_line or (a.start_line < b.end_line and b.start_line < a.end_line)
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
