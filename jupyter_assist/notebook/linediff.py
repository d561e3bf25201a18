"""Where two sequences (a cell's lines, its tokens) differ, in time that stays near linear.
Pure: no model, no I/O.

difflib's SequenceMatcher (autojunk off, so its answer does not depend on sizes) is exact
but superlinear in repeated elements: every copy of a blank line, `=` or `(` is paired
with every other copy, at every level of its recursion (a 4,000-line cell took 26 s on
its tokens, 20,000 lines with blank lines between them 42 s). So difflib runs only where
its worst case fits a budget: on the whole input (cells up to ~1,000 lines, as people
write them: the answer is difflib's, as before), else on what lies between the common prefix and suffix
(a local edit of a long cell: the same answer unless a run of repeated lines makes the
edit's place ambiguous), else that middle is one changed block (nothing is missed: every
difference lies inside it).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Hashable, Sequence

Block = tuple[int, int, int, int]  # a[i1:i2] became b[j1:j2]; not both empty
DIFF_BUDGET = 2_000_000  # bound on difflib's inner-loop steps (~0.3 s of one core)


def worst_steps(a: Sequence[Hashable], b: Sequence[Hashable], cap: int = DIFF_BUDGET) -> int:
    """An upper bound on SequenceMatcher's work: each longest-match search pairs every
    element of `a` with its copies in `b`, and there are at most 2*min(len)+1 searches.
    Past `cap`, some number past it."""
    if not a or not b:
        return 0
    searches = 2 * min(len(a), len(b)) + 1
    if len(a) * searches > cap:  # over the cap whatever the counts: skip counting
        return len(a) * searches
    in_b = Counter(b)
    pairs = sum(n * in_b.get(x, 0) for x, n in Counter(a).items()) + len(a)
    return pairs * searches


def _difflib(a: Sequence[Hashable], b: Sequence[Hashable], offset: int) -> list[Block]:
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    return [(i1 + offset, i2 + offset, j1 + offset, j2 + offset) for tag, i1, i2, j1, j2 in ops if tag != "equal"]


def affix(a: Sequence[Hashable], b: Sequence[Hashable], *, overlap: bool = False) -> tuple[int, int]:
    """Lengths of the longest common prefix and of the longest common suffix (one that
    does not overlap the prefix, unless `overlap`)."""
    n = min(len(a), len(b))
    p = 0
    while p < n and a[p] == b[p]:
        p += 1
    s = 0
    while s < (n if overlap else n - p) and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    return p, s


def changed_blocks(a: Sequence[Hashable], b: Sequence[Hashable], budget: int = DIFF_BUDGET) -> list[Block]:
    """The blocks that differ between `a` and `b`, in order (difflib's non-equal opcodes
    where it fits `budget`, see the module's docstring)."""
    if worst_steps(a, b, budget) <= budget:
        return _difflib(a, b, 0)
    p, s = affix(a, b)
    mid_a, mid_b = a[p : len(a) - s], b[p : len(b) - s]
    if not mid_a and not mid_b:
        return []
    if worst_steps(mid_a, mid_b, budget) <= budget:
        return _difflib(mid_a, mid_b, p)
    return [(p, len(a) - s, p, len(b) - s)]
