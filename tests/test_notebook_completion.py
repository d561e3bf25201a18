"""The completion prompt: keystroke stability, FIM sentinels intact, budgets respected."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_assist.notebook import Budgets, completion_prompt, from_cells, split_cursor
from jupyter_assist.notebook.completion import BELOW_FILE, CURRENT_FILE, REPO, Layout
from jupyter_assist.notebook.context import CELL_MARK
from jupyter_assist.prompt import cl100k
from jupyter_assist.prompt.fim import FORMATS, FimFormat

TOK = cl100k()
QWEN = FORMATS[0]
CELLS = from_cells(
    [{"cell_type": "markdown", "source": "# Analysis"}]
    + [
        {
            "cell_type": "code",
            "source": f"import os\nvalue_{i} = os.getcwd() + '{i}'",
            "execution_count": i,
            "outputs": [{"output_type": "stream", "text": f"/home/{i}\n"}],
        }
        for i in range(1, 30)
    ]
    + [{"cell_type": "code", "source": "(current cell)"}, {"cell_type": "code", "source": "below = value_3 * 2"}]
).cells
CURRENT = 30
SMALL = Budgets(context=300, prefix=120, suffix=60, line=30)


def build(prefix: str, suffix: str, fim: FimFormat | None = QWEN, budgets: Budgets = SMALL, layout: Layout = "repo") -> Any:
    return completion_prompt(CELLS, CURRENT, prefix, suffix, TOK, fim, budgets, layout=layout)


line_text = st.text(alphabet="abc_ ()=:.'0123\t", max_size=30)
cell_lines = st.lists(line_text, min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(lines=cell_lines, data=st.data())
def test_typing_at_or_after_the_cursor_line_keeps_the_prompt_before_it(lines: list[str], data: st.DataObject) -> None:
    row = data.draw(st.integers(0, len(lines) - 1))
    col = data.draw(st.integers(0, len(lines[row])))
    fim = data.draw(st.sampled_from([None, *FORMATS]))
    # Any edit from the start of the cursor's line onwards: type, delete, add lines below.
    edited_tail = data.draw(st.lists(line_text, min_size=1, max_size=40))
    edited = lines[:row] + edited_tail
    new_row = data.draw(st.integers(row, len(edited) - 1))
    new_col = data.draw(st.integers(0, len(edited[new_row]))) if new_row > row else data.draw(st.integers(0, len(edited[row])))
    a = build(*split_cursor("\n".join(lines), row, col), fim)
    b = build(*split_cursor("\n".join(edited), new_row, new_col), fim)
    if new_row == row:  # typing on the cursor's line, or below it
        assert a.stable == b.stable
        assert a.text.startswith(a.stable) and b.text.startswith(a.stable)
    else:  # the cursor moved down: the other cells' part (below and above) still holds
        others = a.stable[: len(a.stable) - len(a.segments["above"].text)]
        assert b.text.startswith(others) and a.segments["context"].text in others
    # Lines above the cursor line never depend on what follows them.
    c = build(*split_cursor("\n".join(lines[:row] + [""]), row, 0), fim)
    assert c.stable == a.stable


def test_stable_part_is_the_context_and_the_lines_above() -> None:
    p = build("def f(x):\n    y = x\n    return y", " + 1\n\nprint(f(2))")
    assert p.stable.endswith("def f(x):\n    y = x\n") and p.text.startswith(p.stable)
    assert p.stable.startswith("<|repo_name|>") and "<|fim_prefix|>" in p.stable and "value_29" in p.stable
    assert "below = value_3" in p.stable  # the cell below is context before the current cell


def test_a_keystroke_8_characters_later_shares_everything_up_to_the_current_cell() -> None:
    # Caching-aware layout: the cells below sit before the cursor's cell, so the next
    # keystroke's prompt re-prefills only the current cell from the cursor's line on.
    cell = "import os\nresult = os.path.join(value_1, value_2)"
    for fim in FORMATS:
        early = build(cell[:-8], "", fim, Budgets())
        late = build(cell, "", fim, Budgets())
        shared = os.path.commonprefix([early.text, late.text])  # noqa: RUF071  (a text prefix, not a path)
        assert "below = value_3 * 2" in shared and "value_29" in shared
        assert shared.endswith(f"{CELL_MARK}\nimport os\nresult = os.path.join(value_1, ")
        assert late.text[late.cursor :] == fim.suffix + fim.middle  # nothing but the (empty) rest of the cell


def test_the_next_cell_never_glues_onto_the_cursor_line() -> None:
    # Finding: with nothing after the cursor in its cell, the cell below followed the
    # suffix sentinel on the cursor's own line (`x = <|fim_suffix|># %%`).
    for suffix in ("", " + 1", " + 1\ny = 2"):
        p = build("x = ", suffix, QWEN, layout="suffix")
        after = p.text[p.text.index(QWEN.suffix) + len(QWEN.suffix) : -len(QWEN.middle)]
        assert after.startswith(suffix) and after[len(suffix) :].startswith(f"\n{CELL_MARK}\nbelow = value_3")
        repo = build("x = ", suffix, QWEN)
        assert repo.text[repo.cursor :] == QWEN.suffix + suffix + QWEN.middle
        marked = completion_prompt(CELLS, CURRENT, "x = ", suffix, TOK, QWEN, SMALL, next_mark=True)
        assert marked.text[marked.cursor :] == f"{QWEN.suffix}{suffix}\n{CELL_MARK}\n{QWEN.middle}"


@pytest.mark.parametrize("fim", FORMATS, ids=[f.family for f in FORMATS])
def test_fim_templates_keep_sentinels_whole_at_any_budget(fim: FimFormat) -> None:
    for total in (8, 40, 200, 2000):
        budgets = Budgets.split(total)
        p = build("x = 1\n" * 50 + "y = ", " + 2\n" + "z = 3\n" * 50, fim, budgets)
        for sentinel in (fim.prefix, fim.suffix, fim.middle):
            assert p.text.count(sentinel) == 1
        assert p.text.endswith(fim.middle)
        assert p.text.index(fim.prefix) < p.text.index(fim.suffix) < p.text.index(fim.middle)
        files = "".join(fim.files(REPO, [(BELOW_FILE, "")], CURRENT_FILE))
        sentinels = TOK.count(fim.prefix + fim.suffix + fim.middle + files) + TOK.count("# %%\n")
        assert p.tokens <= total + sentinels + 6  # + a few tokens where segments meet


def test_codellama_spacing() -> None:
    p = build("a = ", "\nb = 2", FORMATS[3])
    assert p.text.startswith("# next_cells.py\n") and "<PRE> # notebook.py\n" in p.text
    assert p.text.endswith("a =  <SUF>\nb = 2 <MID>")


def test_cells_below_go_before_the_current_cell_or_into_the_suffix() -> None:
    repo = build("x = ", "", QWEN)
    suffix = build("x = ", "", QWEN, layout="suffix")
    plain = build("x = ", "", None)
    assert "below = value_3 * 2" in repo.text.split("<|fim_prefix|>")[0]
    assert "below = value_3 * 2" in suffix.text.split("<|fim_suffix|>")[1]
    assert "below = value_3" not in plain.text and plain.text.endswith("x = ")


def test_plain_prompt_ends_with_the_prefix_and_stops_at_cell_marks() -> None:
    p = build("for i in range(3):\n    ", "", None, Budgets())
    assert p.text.endswith("# %%\nfor i in range(3):\n    ")
    assert "\n# %%" in p.stops and "# Out:" in p.stops and "\n\n" in p.stops  # a block under its opener
    assert build("print(", ")", None).stops[0] == "\n"  # mid-line: finish the line
    assert build("x = 1\n", "", None).stops[0] == "\n"  # an empty line not under an opener: one line
    assert build("x = f(", "", None).stops[0] == "\n"  # the end of a line: finish it
    assert "<|endoftext|>" in build("x", "", QWEN).stops


def test_a_monster_line_is_cut_on_its_left() -> None:
    p = build("x = '" + "a" * 20_000, "'", None)
    assert p.text.endswith("aaaa") and TOK.count(p.text) < 700


def test_split_cursor_clamps() -> None:
    assert split_cursor("ab\ncd", 1, 1) == ("ab\nc", "d")
    assert split_cursor("ab\ncd", 9, 9) == ("ab\ncd", "")
    assert split_cursor("", 0, 3) == ("", "")


def test_report_lists_segments_and_nodes() -> None:
    rows = build("x", "").report()
    names = [r["name"] for r in rows]
    assert "[context]" in names and "[above]" in names and "[suffix]" in names
    assert any(n.startswith("context/cell ") for n in names)


def test_without_marks_cells_are_joined_by_blank_lines() -> None:
    # Quality finding (benchmarks/quality.py): with `# %%` above every cell the 0.5B model
    # answered `# %% [markdown]` on an empty line; plain notebook prompts join cells by a
    # blank line and render markdown as comments.
    p = completion_prompt(CELLS, CURRENT, "x = 1\n", "", TOK, QWEN, SMALL, marks=False)
    assert CELL_MARK not in p.text
    assert "\n\n# Analysis\n" in p.text or "# Analysis" not in p.text  # markdown as comments, if kept
    assert "value_29 = os.getcwd() + '29'\n# Out:\n# /home/29\n\nx = 1\n" in p.text  # outputs, a blank line, the cell
    assert "\nbelow = value_3 * 2\n" in p.text.split(QWEN.prefix)[0]  # the cell below, still before the cursor's cell


def test_after_puts_the_next_cells_first_lines_after_the_rest_of_the_cell() -> None:
    for suffix in ("", " + 1", " + 1\ny = 2\n"):
        base = completion_prompt(CELLS, CURRENT, "x = ", suffix, TOK, QWEN, SMALL, marks=False)
        p = completion_prompt(CELLS, CURRENT, "x = ", suffix, TOK, QWEN, SMALL, marks=False, after=16)
        assert p.stable == base.stable and p.text[: p.cursor] == base.text[: base.cursor]  # only what follows the cursor
        rest = p.text[p.cursor :].removeprefix(QWEN.suffix).removesuffix(QWEN.middle)
        assert rest.startswith(suffix) and rest[len(suffix) :].lstrip("\n").startswith("below = value_3 * 2")
        assert "\n" in rest[len(suffix) :].split("below", 1)[0]  # the next cell on a line of its own
    big = completion_prompt(CELLS, CURRENT, "x = ", "", TOK, QWEN, SMALL, marks=False, after=2)
    assert "below" not in big.text[big.cursor :]  # a line that does not fit is left out whole
