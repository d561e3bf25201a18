"""Next edit, pure parts: rename detection and propagation, model-answer parsing and
validation, the prompt. No model, no server."""

from __future__ import annotations

import pytest

from jupyter_assist.notebook import Fit, from_cells
from jupyter_assist.notebook.next_edit import edits_diff, next_edit_prompt, region, rename_proposals
from jupyter_assist.notebook.proposals import MAX_LINES, Proposal, UserEdit, apply, from_rewrite, lines_of, merge, valid
from jupyter_assist.notebook.renames import Rename, chain, detect, line_edits, names
from jupyter_assist.prompt.tokens import counter_for

DEF_BEFORE = "def load(path):\n    return open(path).read()"
DEF_AFTER = "def read_text(path):\n    return open(path).read()"


def _cells(*sources: str, kinds: tuple[str, ...] = ()) -> list:
    return from_cells([{"cell_type": kinds[i] if i < len(kinds) else "code", "source": s} for i, s in enumerate(sources)]).cells


def _apply_all(cells: list, proposals: list[Proposal]) -> list[str]:
    """Apply proposals bottom-up per cell (line numbers stay valid), as accepting all would."""
    out = [c.source for c in cells]
    for p in sorted(proposals, key=lambda p: (p.cell_index, -p.start_line)):
        out[p.cell_index] = apply(out[p.cell_index], p)
    return out


# --- rename detection -------------------------------------------------------------------


def test_rename_in_def_is_detected() -> None:
    assert detect(DEF_BEFORE, DEF_AFTER) == [Rename("load", "read_text", None, None)]
    # Made at a binding of cell 0: follows below it (its body, the cells below).
    assert detect(DEF_BEFORE, DEF_AFTER, 0) == [Rename("load", "read_text", None, 0, 1)]


@pytest.mark.parametrize(
    "before,after",
    [
        ("x = 1\nprint(x)", "x = 1\nprint(x)"),  # nothing changed
        ("a = 1\nb = 2\nprint(a)", "a = 1\nb = 2\nprint(b)"),  # pointed at another existing name: no rename
        ("s = 'load'", "s = 'read'"),  # a string changed
        ("x = 1  # load it", "x = 1  # read it"),  # a comment changed
        ("f(a)", "f(a, b)"),  # an argument added, nothing replaced
        ("x = 1", "for = 1"),  # a keyword is not a name
    ],
)
def test_no_rename(before: str, after: str) -> None:
    assert detect(before, after) == []


def test_rename_of_an_attribute_keeps_its_base() -> None:
    assert detect("self.load()", "self.read()") == [Rename("load", "read", "self", None)]


def test_parameter_rename_is_bound_to_its_cell() -> None:
    assert detect("def f(path):\n    return path", "def f(src):\n    return path", 3) == [Rename("path", "src", None, 3, 1, 2)]


def test_partial_code_does_not_raise() -> None:
    # Mid-typing: an open string, an open bracket, a bad dedent.
    for src in ('x = "abc', "y = f(load(", "if x:\n    a = 1\n  b = 2", 'z = """', "\x00\\"):
        names(src)
        detect(src, src + "q")
    assert detect("y = f(load(", "y = f(read(") == [Rename("load", "read", None, None)]


def test_chain_folds_successive_renames() -> None:
    assert chain([Rename("a", "b", None, None), Rename("b", "c", None, None)]) == [Rename("a", "c", None, None)]
    assert chain([Rename("a", "b", None, None), Rename("b", "a", None, None)]) == []


# --- propagation ---------------------------------------------------------------------------


def test_rename_in_def_propagates_to_call_sites_in_other_cells() -> None:
    cells = _cells(DEF_AFTER, 'data = load("a.txt")\nprint(load("b.txt"))', "# load\nx = 1")
    props = rename_proposals(cells, [UserEdit(0, DEF_BEFORE, DEF_AFTER)])
    assert [(p.cell_index, p.start_line, p.end_line) for p in props] == [(1, 0, 1), (1, 1, 2)]
    assert props[0].old == ('data = load("a.txt")',) and props[0].new == ('data = read_text("a.txt")',)
    assert _apply_all(cells, props)[1] == 'data = read_text("a.txt")\nprint(read_text("b.txt"))'
    assert all(valid(p, [c.source for c in cells]) for p in props)


def test_strings_comments_attributes_and_keywords_untouched() -> None:
    r = [Rename("load", "read_text", None, None)]
    src = 'print("load")  # load\nobj.load(1)\nf(load=2)\nx = f"{load}"\nload()'
    assert line_edits(src, r, 0) == [(4, "load()", "read_text()")]


def test_attribute_rename_follows_the_same_base_only() -> None:
    r = [Rename("load", "read", "self", None)]
    assert line_edits("self.load()\nother.load()\nload()", r, 0) == [(0, "self.load()", "self.read()")]


def test_parameter_rename_stays_in_its_cell() -> None:
    before, after = "def f(path):\n    return open(path)", "def f(src):\n    return open(path)"
    cells = _cells(after, "path = 'x'\nf(path)")
    props = rename_proposals(cells, [UserEdit(0, before, after)])
    assert [(p.cell_index, p.new) for p in props] == [(0, ("    return open(src)",))]


def test_several_occurrences_on_one_line_in_one_proposal() -> None:
    cells = _cells("def g(): pass", "g(); g(g)")
    props = rename_proposals(cells, [UserEdit(0, "def f(): pass", "def g(): pass")])
    assert props == []  # f -> g, but no f is left anywhere: nothing to follow
    cells = _cells("def g(): pass", "f(); f(f)  # f")
    props = rename_proposals(cells, [UserEdit(0, "def f(): pass", "def g(): pass")])
    assert [p.new for p in props] == [("g(); g(g)  # f",)]


def test_never_touches_a_line_without_the_old_identifier() -> None:
    cells = _cells(DEF_AFTER, "loader = 1\nunload(x)\nx.load\n'load'\nload_all()\n# load", "loaded = load")
    props = rename_proposals(cells, [UserEdit(0, DEF_BEFORE, DEF_AFTER)])
    assert [(p.cell_index, p.old, p.new) for p in props] == [(2, ("loaded = load",), ("loaded = read_text",))]


def test_unparseable_cells_get_proposals_only_before_the_error() -> None:
    cells = _cells(DEF_AFTER, 'load(1)\ns = """\nload(2)', "load(3)\nif x:\n    a\n  load(4)")
    props = rename_proposals(cells, [UserEdit(0, DEF_BEFORE, DEF_AFTER)])
    assert [(p.cell_index, p.start_line) for p in props] == [(1, 0), (2, 0)]


def test_markdown_cells_get_no_proposals() -> None:
    cells = _cells(DEF_AFTER, "load the data", kinds=("code", "markdown"))
    assert rename_proposals(cells, [UserEdit(0, DEF_BEFORE, DEF_AFTER)]) == []


# --- model answers: parsing and validation ----------------------------------------------------


SRC = "import os\n\ndef read_text(path):\n    return open(path).read()\n\nx = load('a')\ny = load('b')"


def test_rewrite_becomes_one_proposal_per_hunk() -> None:
    lines = lines_of(SRC)
    rewritten = "\n".join(lines[4:]).replace("load", "read_text")
    props = from_rewrite(0, 4, lines[4:], rewritten, "model")
    assert [(p.start_line, p.end_line, p.new) for p in props] == [(5, 7, ("x = read_text('a')", "y = read_text('b')"))]
    assert all(valid(p, [SRC], syntax=True) for p in props)


def test_rewrite_cut_short_does_not_delete_the_tail() -> None:
    lines = lines_of(SRC)
    props = from_rewrite(0, 4, lines[4:], "\nx = read_text('a')\n", "model")
    assert [(p.start_line, p.end_line) for p in props] == [(5, 6)]


@pytest.mark.parametrize(
    "proposal,why",
    [
        (Proposal(0, 5, 6, ("x = load('a')",), ("x = load('a')",)), "no-op"),
        (Proposal(0, 5, 6, ("x = load('a')",), ("x = load('a')   ",)), "trailing whitespace only"),
        (Proposal(0, 5, 6, ("x = load('A')",), ("x = 2",)), "old lines not there"),
        (Proposal(0, 7, 8, ("z",), ("w",)), "past the end"),
        (Proposal(0, 6, 5, (), ("w",)), "negative range"),
        (Proposal(1, 0, 1, ("x",), ("y",)), "no such cell"),
        (Proposal(0, 5, 6, ("x = load('a')",), ("x = load(",)), "breaks the syntax"),
        (Proposal(0, 5, 6, ("x = load('a')",), ("a\nb",)), "newline inside a line"),
        (Proposal(0, 2, 3, ("def read_text(path):",), ("def load(path):",)), "reverts the user's edit"),
        (Proposal(0, 0, 0, (), ("x = 1",) * (MAX_LINES + 1)), "too large"),
    ],
)
def test_invalid_model_proposals_are_dropped(proposal: Proposal, why: str) -> None:
    before = SRC.replace("def read_text", "def load")
    assert not valid(proposal, [SRC], [UserEdit(0, before, SRC)], syntax=True), why


def test_valid_insertion_and_markdown_target() -> None:
    assert valid(Proposal(0, 0, 0, (), ("import sys",)), [SRC], syntax=True)
    assert not valid(Proposal(0, 0, 0, (), ("import sys",)), [None])


def test_gibberish_answers_give_nothing_or_valid_proposals() -> None:
    lines = lines_of(SRC)
    for answer in ("", "```", "}}}{{{", "x = (", "\n\n\n", "def (:\n  ]", lines[5] + "\n" + "print(1)"):
        for p in from_rewrite(0, 4, lines[4:], answer, "model"):
            if valid(p, [SRC], syntax=True):
                assert apply(SRC, p) != SRC


def test_merge_dedupes_and_earlier_groups_win() -> None:
    a = Proposal(1, 0, 1, ("x",), ("y",), "rename")
    b = Proposal(1, 0, 2, ("x", "z"), ("q",), "model")
    c = Proposal(0, 3, 3, (), ("w",), "model")
    assert merge([a], [a, b, c]) == [c, a]


# --- the prompt ------------------------------------------------------------------------------


def test_prompt_shows_the_diff_and_the_region() -> None:
    cells = _cells(DEF_AFTER, "x = load(1)")
    edit = UserEdit(0, DEF_BEFORE, DEF_AFTER)
    where = region(cells, edit)
    assert where is not None and where.cell_index == 0 and where.start == 0 and where.end == 2
    diff = edits_diff([edit])
    assert "-def load(path):" in diff and "+def read_text(path):" in diff
    prompt = next_edit_prompt(cells, [edit], where, Fit(counter_for(lambda t: len(t) // 4 + 1), None, 2000, 100, cache=None))
    assert "+def read_text(path):" in prompt.text and "x = load(1)" in prompt.text
    assert prompt.text.index("x = load(1)") < prompt.text.index("-def load(path):")  # notebook first (cached), request last


def test_no_region_when_nothing_changed() -> None:
    assert region(_cells("x = 1"), UserEdit(0, "x = 1", "x = 1")) is None
    assert region(_cells("x", kinds=("markdown",)), UserEdit(0, "a", "x")) is None


# --- never fights the user (issue 18): the edited lines, reverts, confidence -------------

PRICES_BEFORE = 'prices = [1, 2]\nprint("hi")\ntotal = sum(prices)'
PRICES_AFTER = 'costs = [1, 2]\nprint("hi")\ntotal = sum(prices)'
PRICES_REQ = {
    "request_id": "p",
    "cells": [{"cell_type": "code", "source": PRICES_AFTER}],
    "edits": [{"cell_index": 0, "before": PRICES_BEFORE, "after": PRICES_AFTER}],
}
# The answer that turned a user's rename into `# Original` on Tab: it rewrites the line
# just typed (and follows the rename on the last line).
ORIGINAL = '# Original\nprint("hi")\ntotal = sum(costs)'


def _req() -> object:
    from jupyter_assist.wire import NextEditRequest

    return NextEditRequest.model_validate(PRICES_REQ)


def test_no_proposal_inside_the_lines_just_typed() -> None:
    from jupyter_assist.tasks import next_edit

    found = next_edit.Followed.of(_req()).finish(ORIGINAL, logprob=-0.01)["proposals"]
    # The rename follows to line 2; the model's rewrite of line 0 (being typed) is dropped.
    assert [(p["start_line"], p["new"]) for p in found] == [(2, ["total = sum(costs)"])]
    edit = UserEdit(0, PRICES_BEFORE, PRICES_AFTER)
    typed = Proposal(0, 0, 1, ("costs = [1, 2]",), ("# Original",))
    assert valid(Proposal(0, 1, 2, ('print("hi")',), ('print("ho")',)), [PRICES_AFTER], [edit])  # the line below: fine
    assert not valid(typed, [PRICES_AFTER], [edit])
    assert not valid(Proposal(0, 1, 1, (), ("x = 1",)), [PRICES_AFTER], [edit])  # inserted right under it
    # Only the last edit is where the user types: an earlier one's lines take proposals.
    other = UserEdit(0, PRICES_AFTER, PRICES_AFTER + "\n")
    assert valid(typed, [PRICES_AFTER + "\n"], [edit, other])


def test_deleting_lines_protects_the_lines_either_side() -> None:
    before, after = "a = 1\nb = 2\nc = 3\nd = 4", "a = 1\nc = 3\nd = 4"
    edit = UserEdit(0, before, after)
    assert not valid(Proposal(0, 0, 1, ("a = 1",), ("a = 2",)), [after], [edit])
    assert not valid(Proposal(0, 1, 2, ("c = 3",), ("c = 4",)), [after], [edit])
    assert valid(Proposal(0, 2, 3, ("d = 4",), ("d = 5",)), [after], [edit])


def test_no_proposal_brings_back_a_renamed_name() -> None:
    before, after = "prices = [1]\nn = len(prices)\n\n\nm = max(costs_x)", "costs = [1]\nn = len(costs)\n\n\nm = max(costs_x)"
    edit = UserEdit(0, before, after)
    # Far from the typed lines, but `costs` back to `prices`: an undo of the rename.
    assert not valid(Proposal(0, 4, 5, ("m = max(costs_x)",), ("m = max(prices)",)), [after], [edit])
    assert valid(Proposal(0, 4, 5, ("m = max(costs_x)",), ("m = max(costs)",)), [after], [edit])
    # In another cell too.
    assert not valid(Proposal(1, 0, 1, ("y = costs",), ("y = prices",)), [after, "y = costs"], [edit])


def test_model_proposals_need_confidence() -> None:
    from jupyter_assist.tasks import next_edit

    answer = 'costs = [1, 2]\nprint("hello")\ntotal = sum(prices)'  # one change beside the rename
    model = (1, ['print("hello")'])

    def got(logprob: float | None, **kw: float) -> list[tuple[int, list[str]]]:
        return [(p["start_line"], p["new"]) for p in next_edit.Followed.of(_req()).finish(answer, logprob, **kw)["proposals"]]

    rename = (2, ["total = sum(costs)"])
    assert got(-0.05) == [model, rename]
    assert got(-2.5) == [rename]  # unsure: only what analysis found
    assert got(None) == [rename]  # the backend did not say: the same
    assert got(-2.5, min_logprob=-3.0) == [model, rename]  # the server's threshold
    assert next_edit.confident(next_edit.MIN_LOGPROB) and not next_edit.confident(next_edit.MIN_LOGPROB - 1e-6)
    assert next_edit.Followed.of(_req()).finish(answer, -0.05)["logprob"] == -0.05  # reported in `done`
