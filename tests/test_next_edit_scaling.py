"""Next edit on big cells: the line diff, the region and the revert check stay linear,
and give the answers the quadratic code gave (kept here as the reference)."""

from __future__ import annotations

import difflib
import gc
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_assist.notebook import from_cells
from jupyter_assist.notebook.linediff import affix, changed_blocks
from jupyter_assist.notebook.next_edit import REGION_AFTER, REGION_BEFORE, region, rename_proposals
from jupyter_assist.notebook.proposals import Proposal, UserEdit, Validator, apply, lines_of
from jupyter_assist.tasks import next_edit
from jupyter_assist.wire import NextEditRequest

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Few distinct lines, blank ones often: the repeats difflib's answer depends on.
LINE = st.sampled_from(["", "", "x = 1", "y = x", "    pass", "print(x)"])
LINES = st.lists(LINE, max_size=24)


def _old_region(current: list[str], before: str, after: str) -> tuple[int, int] | None:
    """notebook/next_edit.region before the fix (its line bounds)."""
    ops = difflib.SequenceMatcher(a=lines_of(before), b=lines_of(after), autojunk=False).get_opcodes()
    changed = [(j1, j2) for tag, _, _, j1, j2 in ops if tag != "equal"]
    if not changed:
        return None
    first, last = changed[0][0], max(changed[-1][1], changed[-1][0] + 1)
    start, end = max(0, first - REGION_BEFORE), min(len(current), last + REGION_AFTER)
    return None if start >= end else (start, end)


def _old_is_revert(source: str, p: Proposal, edits: list[UserEdit]) -> bool:
    """notebook/proposals._is_revert before the fix: a full diff per proposal."""
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


@st.composite
def edited(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """Lines before, and after one to three local edits (what a burst of typing makes)."""
    a = draw(LINES)
    b = list(a)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(b)))
        j = draw(st.integers(i, min(len(b), i + 3)))
        b[i:j] = draw(st.lists(LINE, max_size=3))
    return a, b


@PROPS
@given(edited())
def test_changed_blocks_are_difflibs_where_it_is_cheap(pair: tuple[list[str], list[str]]) -> None:
    a, b = pair
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    assert changed_blocks(a, b) == [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in ops if tag != "equal"]


@PROPS
@given(edited(), st.sampled_from([0, 50]))
def test_changed_blocks_past_the_budget_still_cover_every_difference(pair: tuple[list[str], list[str]], budget: int) -> None:
    """What lies between the blocks is equal in both, and the blocks hold b's lines."""
    a, b = pair
    rebuilt: list[str] = []
    i = j = 0
    for i1, i2, j1, j2 in changed_blocks(a, b, budget):
        assert i1 - i == j1 - j >= 0 and a[i:i1] == b[j:j1]
        rebuilt += a[i:i1] + b[j1:j2]
        i, j = i2, j2
    assert a[i:] == b[j:]
    assert rebuilt + a[i:] == b


@PROPS
@given(edited(), LINES)
def test_region_is_the_one_the_quadratic_search_found(pair: tuple[list[str], list[str]], extra: list[str]) -> None:
    a, b = pair
    before, after = "\n".join(a), "\n".join(b)
    current = "\n".join(b + extra)  # the cell kept changing after the edit
    cells = from_cells([{"cell_type": "code", "source": current}]).cells
    got = region(cells, UserEdit(0, before, after))
    want = _old_region(lines_of(current), before, after)
    assert (None if got is None else (got.start, got.end)) == want
    if got is not None:
        assert got.lines == tuple(lines_of(current)[got.start : got.end])


@st.composite
def proposal_case(draw: st.DrawFn) -> tuple[str, Proposal, list[UserEdit]]:
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        a, b = draw(edited())
        edits.append(UserEdit(draw(st.sampled_from([0, 0, 1])), "\n".join(a), "\n".join(b)))
    # The cell as the last edit left it, or a later state; the proposal often undoes part of an edit.
    lines = lines_of(draw(st.sampled_from([edits[-1].after, edits[0].after, edits[0].before])))
    back = lines_of(draw(st.sampled_from(edits)).before)
    if draw(st.booleans()):  # any lines
        start = draw(st.integers(0, len(lines)))
        end = draw(st.integers(start, min(len(lines), start + 4)))
        new = draw(st.one_of(st.lists(LINE, max_size=3), st.just(back[start : start + draw(st.integers(0, 4))])))
    else:  # lines that bring the whole cell back to an edit's `before`
        prefix, suffix = affix(lines, back, overlap=True)
        start = draw(st.integers(0, prefix))
        tail = draw(st.integers(0, min(suffix, len(lines) - start, len(back) - start)))
        end, new = len(lines) - tail, back[start : len(back) - tail]
    return "\n".join(lines), Proposal(0, start, end, tuple(lines[start:end]), tuple(new)), edits


@PROPS
@given(proposal_case())
def test_revert_check_answers_as_the_per_proposal_diff_did(case: tuple[str, Proposal, list[UserEdit]]) -> None:
    source, p, edits = case
    sources: list[str | None] = [source, "z = 0"]
    assert Validator(sources, edits).is_revert(p) == _old_is_revert(source, p, edits)


def _min_seconds(fn: Callable[[], object], reps: int = 5) -> float:
    """Fastest of `reps` runs, without the garbage collector (its passes scan the whole
    test process, whatever the size of the case)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    finally:
        gc.enable()
    return best


def _blank_separated(n: int, name: str) -> str:
    return "\n".join(f"v{i} = {name}({i})\n" for i in range(n // 2))


def test_region_search_is_linear_in_blank_lines() -> None:
    """Every other line blank, every other line changed (a find-and-replace rename): the
    quadratic search took 100x longer for 10x the lines (42 s at 20k lines)."""

    def case(n: int) -> Callable[[], object]:
        before, after = _blank_separated(n, "load"), _blank_separated(n, "read_text")
        cells = from_cells([{"cell_type": "code", "source": after}]).cells
        return lambda: region(cells, UserEdit(0, before, after))

    small, big = _min_seconds(case(2_000)), _min_seconds(case(20_000))
    assert big / max(small, 1e-4) < 40, (small, big)  # 10x the lines; quadratic: 100x


def test_revert_checks_cost_the_proposal_not_the_cell() -> None:
    """Checking every line's proposal of a cell: linear in the cell (one diff per
    request), where one diff per proposal made it quadratic."""

    def case(n: int) -> Callable[[], object]:
        source = _blank_separated(n, "read_text")
        edit = UserEdit(0, source.replace("read_text(0)", "load(0)"), source)
        lines = lines_of(source)
        # Line 0 is the one edited: no proposal may go there.
        props = [Proposal(0, k, k + 1, (x,), (x + "  # ok",)) for k, x in enumerate(lines) if x and k > 0]

        def run() -> None:
            check = Validator([source], [edit])
            assert all(check.valid(p) for p in props)

        return run

    small, big = _min_seconds(case(2_000)), _min_seconds(case(20_000))
    assert big / max(small, 1e-4) < 40, (small, big)  # 10x the lines; quadratic: 100x


def test_renames_of_a_4000_line_cell_are_capped_and_quick_to_check() -> None:
    """Every line uses the renamed name: the first MAX_PROPOSALS valid proposals, the ones
    validating them all and merging would have kept."""
    body = "\n".join(f"v{i} = load({i})" for i in range(4000))
    before = "def load(p):\n    return p\n" + body
    after = before.replace("def load", "def read_text", 1)
    req = NextEditRequest(
        request_id="big", cells=[{"cell_type": "code", "source": after}], cell_index=0, edits=[{"cell_index": 0, "before": before, "after": after}]
    )
    got = next_edit.Followed.of(req).renames
    cells = from_cells([{"cell_type": "code", "source": after}]).cells
    edits = [UserEdit(0, before, after)]
    check = Validator([after], edits)
    every = [p for p in rename_proposals(cells, edits) if check.valid(p)]
    assert len(every) == 4000 and got == every[:50]
    assert got[0].new == ("v0 = read_text(0)",)
