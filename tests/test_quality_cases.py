"""The quality benchmark's cases, scores and baseline prompts (no model, no timing)."""

from __future__ import annotations

import io
import tokenize

import pytest

from benchmarks import quality_baselines as B
from benchmarks.quality_cases import EVAL_DIR, MAGIC, MAX_TARGET, as_typed, blank_magics, candidates, draw, load_notebooks, source_text
from benchmarks.quality_score import edit_similarity, exact_match, first_line, levenshtein, paired, percentile
from jupyter_assist.prompt.fim import FORMATS

needs_data = pytest.mark.skipif(not EVAL_DIR.is_dir(), reason=f"evaluation notebooks not at {EVAL_DIR}")


@pytest.fixture(scope="module")
def notebooks() -> list:
    return load_notebooks()


# -- rules on a made-up cell --------------------------------------------------------------


def test_candidates_skip_comments_magics_strings_and_long_lines() -> None:
    src = "\n".join(
        [
            "%matplotlib inline",
            "x = 1  # a note",
            '"""a docstring',
            'over lines"""',
            'y = f(a, "s")',
            "z = " + "a" * 90,
            "!ls -l",
            "    ",
        ]
    )
    got = {(line, col, kind, target) for line, col, kind, target in candidates(src)}
    assert {line for line, *_ in got} == {4}  # only `y = f(a, "s")`
    assert (4, 0, "line_start", 'y = f(a, "s")') in got
    assert (4, 4, "mid_line", 'f(a, "s")') in got
    assert (4, 9, "mid_line", '"s")') in got  # at a string's start, never inside it
    assert not any(t == ")" for *_, t in got)  # no letter or digit: not a target


def test_cells_the_tokenizer_rejects_give_no_candidates() -> None:
    assert candidates("%%time\nx = 1") == ()  # a cell magic
    assert candidates('s = """never closed\nx = 1') == ()
    assert candidates("np.sum?\nx = 1") == ()  # help syntax: an error token
    assert blank_magics("!pip install x\ny = 2") == "\ny = 2"


# -- the draw ------------------------------------------------------------------------------


@needs_data
def test_same_seed_same_cases_other_seed_other_cases(notebooks: list) -> None:
    a, b, c = draw(notebooks, 60, 0), draw(load_notebooks(), 60, 0), draw(notebooks, 60, 1)
    assert [x.id for x in a] == [x.id for x in b]
    assert a == b
    assert len({x.id for x in a} & {x.id for x in c}) < 10
    assert draw(notebooks, 20, 0) == a[:20]  # --limit takes a prefix of the same draw


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    blanked = blank_magics(source)
    assert blanked is not None
    return list(tokenize.generate_tokens(io.StringIO(blanked).readline))


@needs_data
def test_targets_are_real_code_at_token_starts(notebooks: list) -> None:
    by_name = dict(notebooks)
    cases = draw(notebooks, 200, 3)
    assert len(cases) == 200
    for case in cases:
        source = source_text(by_name[case.notebook][case.cell])
        line = source.split("\n")[case.line]
        lines = source.split("\n")
        assert (case.prefix + case.target + case.suffix).split("\n") == [*lines[: case.line], line.rstrip(), *lines[case.line + 1 :]]
        assert 0 < len(case.target) <= MAX_TARGET and case.target == line[case.col :].rstrip()
        assert not MAGIC.match(line)
        toks = _tokens(source)
        row = case.line + 1
        starts = {t.start for t in toks if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)}
        assert (row, case.col) in starts, case.id
        assert not any(t.type == tokenize.COMMENT and t.start[0] == row for t in toks), case.id
        for t in toks:  # no token spanning lines (docstrings...) touches the target's line
            if t.type == tokenize.STRING:
                assert t.start[0] == t.end[0] or not t.start[0] <= row <= t.end[0], case.id
        last = case.prefix.rsplit("\n", 1)[-1]
        assert (last.strip() == "") == (case.kind == "line_start"), case.id


@needs_data
def test_kinds_balanced_and_notebooks_take_turns(notebooks: list) -> None:
    cases = draw(notebooks, 120, 0)
    for n in (1, 7, 26, 51, 120):
        kinds = [c.kind for c in cases[:n]]
        assert abs(kinds.count("line_start") - kinds.count("mid_line")) <= 1, n
    eligible = sorted({c.notebook for c in cases})
    assert len(eligible) >= 20
    k = len(eligible)
    assert [c.notebook for c in cases[:k]] == eligible  # one from each, in order
    assert [c.notebook for c in cases[k : 2 * k]] == eligible
    # the same notebook alternates kinds from one round to the next
    assert all(cases[i].kind != cases[i + k].kind for i in range(k))


@needs_data
def test_current_cell_has_no_outputs_others_keep_theirs(notebooks: list) -> None:
    by_name = dict(notebooks)
    for case in draw(notebooks, 30, 0):
        orig = by_name[case.notebook]
        typed = as_typed(orig, case)
        assert typed[case.cell]["source"] == case.prefix + case.suffix
        assert typed[case.cell]["outputs"] == []
        for i, cell in enumerate(orig):
            if i != case.cell and cell.get("cell_type") == "code":
                assert typed[i]["outputs"] == cell.get("outputs", [])
                assert typed[i]["source"] == source_text(cell)
    kept = [c for c in as_typed(orig, case) if c["outputs"]]
    assert kept, "a notebook without any saved outputs would not test this"


# -- scores ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a,b,sim",
    [
        ("abc", "abc", 1.0),
        ("", "", 1.0),
        ("kitten", "sitting", 1 - 3 / 7),
        ("  x = 1 ", "x = 1", 1.0),
        ("abc", "", 0.0),
        (" as plt", ".pyplot as plt", 1 - 8 / 14),
        ("(y)", "y", 1 - 2 / 3),
    ],
)
def test_edit_similarity_on_known_pairs(a: str, b: str, sim: float) -> None:
    assert edit_similarity(a, b) == pytest.approx(sim)
    assert edit_similarity(b, a) == pytest.approx(sim)


def test_levenshtein_exact_match_first_line_percentile() -> None:
    assert levenshtein("flaw", "lawn") == 2
    assert levenshtein("", "abc") == 3
    assert exact_match(" x.mean() ", "x.mean()") and not exact_match("x.mean", "x.mean()")
    assert first_line("a = 1\nb = 2") == "a = 1" and first_line("") == ""
    assert percentile([4, 1, 3, 2], 50) == 2.5 and percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    ours = [{"exact": 1.0, "similarity": 1.0}, {"exact": 0.0, "similarity": 0.2}, {"exact": 0.0, "similarity": 0.5}]
    base = [{"exact": 0.0, "similarity": 0.5}, {"exact": 1.0, "similarity": 1.0}, {"exact": 0.0, "similarity": 0.5}]
    assert paired(ours, base) == {"exact_match": {"wins": 1, "losses": 1}, "edit_similarity": {"wins": 1, "losses": 1}}


# -- baseline prompts ------------------------------------------------------------------------


def test_notebook_fim_budgets_nearest_cells_markdown_and_outputs_as_comments() -> None:
    fim = FORMATS[0]
    count = lambda s: len(s.split())  # noqa: E731 - one token a word
    cells = [{"cell_type": "code", "source": f"a{i} = {i}", "outputs": []} for i in range(2000)]
    cells[1998] = {"cell_type": "markdown", "source": "Plot it\nnow"}
    cells[1997]["outputs"] = [{"output_type": "stream", "text": "hello\n"}, {"output_type": "display_data", "data": {"image/png": ""}}]
    prompt = B.notebook_fim(cells, 1999, "x = ", "\ny = 2", fim, count)
    before, after = prompt.removeprefix(fim.prefix).split(fim.suffix)
    assert before.endswith("a1997 = 1997\n# hello\n\n# Plot it\n# now\n\nx = ")
    assert count(before) - count("x = ") <= B.BEFORE_TOKENS and "a0 = 0" not in before
    assert "a1500 = 1500" in before  # the budget is filled (3 words a cell), not just the last cell
    assert after == "\ny = 2" + fim.middle
    bare = B.notebook_fim(cells, 1999, "x = ", "", fim, count, outputs=False)
    assert "# hello" not in bare
    mid = B.notebook_fim(cells, 5, "x = ", "", fim, count)
    tail = mid.split(fim.suffix)[1].removesuffix(fim.middle)
    assert tail.startswith("\n\na6 = 6\n\na7 = 7") and count(tail) <= B.AFTER_TOKENS
    assert B.cell_fim("a", "b", fim) == f"{fim.prefix}a{fim.suffix}b{fim.middle}"
