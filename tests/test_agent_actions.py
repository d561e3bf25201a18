"""The agent's action parser: well-formed, drifting, malformed and adversarial answers.
Always an Action (never an exception); what fits no action is a clear `error` action."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_assist.notebook.agent_actions import Action, parse_action
from jupyter_assist.tasks.agent import answer_text

KINDS = {"code", "edit", "markdown", "ask", "done", "error"}
F = "```"


@pytest.mark.parametrize(
    ("answer", "kind", "source", "index"),
    [
        (f"ACTION: code\n{F}python\nprint(df.shape)\n{F}\n", "code", "print(df.shape)\n", None),
        (f"ACTION: code\nFirst I load the file.\n{F}python\nimport pandas as pd\n{F}\nThen we look.", "code", "import pandas as pd\n", None),
        (f"ACTION: edit 2\n{F}python\nx = 1\ny = 2\n{F}", "edit", "x = 1\ny = 2\n", 1),
        (f"**Action:** Edit cell 1\n{F}py\nx\n{F}", "edit", "x\n", 0),
        (f"action - fix [3]\n{F}\nz = 3\n{F}", "edit", "z = 3\n", 2),
        (f"ACTION: edit_cell(3)\n{F}python\nz\n{F}", "edit", "z\n", 2),
        (f"## ACTION: python\n{F}python\n  indented()\n{F}", "code", "  indented()\n", None),
        (f"ACTION: code\n{F}python\ndf = load()\n", "code", "df = load()\n", None),  # cut at max_tokens
        (
            f"ACTION: code\n{F}python\n# action: done (a comment, not a header)\nprint(1)\n{F}",
            "code",
            "# action: done (a comment, not a header)\nprint(1)\n",
            None,
        ),
        ("ACTION: code\n~~~python\nprint(2)\n~~~", "code", "print(2)\n", None),
        (f"ACTION: code\n````python\ns = '{F}'\n````", "code", f"s = '{F}'\n", None),  # a longer fence holds a shorter one
        ("ACTION: code\nprint(3)", "code", "print(3)\n", None),  # no fence: the body is the code
        (f"ACTION: print\n{F}python\nprint(4)\n{F}", "code", "print(4)\n", None),
        (f"ACTION: solve it\n{F}python\nprint(5)\n{F}", "code", "print(5)\n", None),  # unknown kind, python block: code
        (f"{F}python\nimport numpy as np\n{F}", "code", "import numpy as np\n", None),  # no header at all
        (f"ACTION:\n{F}python\nx = 2\n{F}", "code", "x = 2\n", None),  # header without its kind
        ("ACTION: markdown\nThe median price is 12.5.", "markdown", "The median price is 12.5.\n", None),
        (f"ACTION: note\n{F}markdown\n# Found\nNorth leads.\n{F}", "markdown", "# Found\nNorth leads.\n", None),
        ("ACTION: ask\nWhich column holds the price?", "ask", "", None),
        ("ACTION: done\nThe answer is 42.", "done", "", None),
        ("Action: Finish\n\n42 rows.", "done", "", None),
        ("ACTION: done\nok\nACTION: code\nprint(1)", "done", "", None),  # only the first action
        ("\r\nACTION: DONE\r\nAll good.\r\n", "done", "", None),
    ],
)
def test_well_formed_and_drifting_answers(answer: str, kind: str, source: str, index: int | None) -> None:
    a = parse_action(answer, n_cells=3)
    assert (a.kind, a.source, a.cell_index) == (kind, source, index), a


def test_prose_fields() -> None:
    assert parse_action(f"ACTION: code\nLoad it.\n{F}python\nx\n{F}", 1).text == "Load it."
    assert parse_action("ACTION: ask\nWhich column holds the price?", 1).text == "Which column holds the price?"
    assert parse_action("ACTION: done\nThe answer is 42.", 1).text == "The answer is 42."
    assert "more action" in " ".join(parse_action("ACTION: done\nok\nACTION: code\nx", 1).notes)
    # A header after a closed fence is a second action (dropped); inside the fence it is code.
    a = parse_action(f"ACTION: code\n{F}python\nx\n{F}\nACTION: done\nok", 1)
    assert (a.kind, a.source, a.text) == ("code", "x\n", "") and "more action" in " ".join(a.notes)


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        ("I think the answer is probably 42.", "fits no action"),
        ("ACTION: dance\nwhee", "Unknown action"),
        (f"ACTION: edit\n{F}python\nx\n{F}", "must name its cell"),
        (f"ACTION: edit 9\n{F}python\nx\n{F}", "does not exist"),
        (f"ACTION: edit 0\n{F}python\nx\n{F}", "does not exist"),
        (f"ACTION: edit 99999999999999999999\n{F}python\nx\n{F}", "does not exist"),
        (f"ACTION: code\n{F}python\n{F}", "no code"),
        (f"ACTION: code\n{F}python\n   \n\n{F}", "no code"),
        ("ACTION: ask\n", "needs its question"),
        ("ACTION: markdown\n", "needs its text"),
        (f"ACTION: code\n{F}python\n" + "x = 1\n" * 5000 + F, "too long"),
        (f"{F}text\nnot code\n{F}", "fits no action"),
        (F * 40, "fits no action"),
    ],
)
def test_malformed_answers_are_a_clear_error(answer: str, says: str) -> None:
    a = parse_action(answer, n_cells=3)
    assert a.kind == "error" and says in a.text, a
    assert (a.source, a.cell_index) == ("", None)


@pytest.mark.parametrize(
    "answer",
    [
        "ACTION: " + "a " * 200_000,  # a header-like line that could make the regex backtrack
        "ACTION: code\n" + F + "python\n" + "\n".join(f"{F}" * (i % 5) for i in range(20_000)),
        "action:" * 100_000,
        "\x00\x01\x1b[31mACTION: code\x1b[0m\n" + F + "python\nx\n" + F,
        "ACTION: code\n" + F + "python\n\ud800 lone surrogate\n" + F,
        "ACTION: edit \u0663\n" + F + "python\nx\n" + F,  # an Arabic-Indic digit
        "A" * 1_000_000,
    ],
)
def test_adversarial_answers_finish_fast(answer: str) -> None:
    t0 = time.perf_counter()
    a = parse_action(answer, n_cells=3)
    assert time.perf_counter() - t0 < 2.0
    assert isinstance(a, Action) and a.kind in KINDS


def test_the_prompt_header_is_put_back_once() -> None:
    assert answer_text(" done\nok") == "ACTION: done\nok"
    assert answer_text("done\nok") == "ACTION: done\nok"
    assert answer_text("\nACTION: done\nok") == "\nACTION: done\nok"  # the model repeated it
    assert parse_action(answer_text(f" code\n{F}python\nx\n{F}"), 1).source == "x\n"


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(), st.integers(0, 20))
def test_any_text_gives_an_action(answer: str, n_cells: int) -> None:
    a = parse_action(answer, n_cells)
    assert a.kind in KINDS
    if a.kind == "error":
        assert a.text and not a.source
    if a.kind == "edit":
        assert a.cell_index is not None and 0 <= a.cell_index < n_cells
    if a.kind in ("code", "edit"):
        assert a.source.strip() and a.source.endswith("\n")


PIECES = st.sampled_from(["ACTION:", "action: code", "ACTION: edit 1", "ACTION: done", F, F + "python", "~~~", "\n", " ", "x = 1", "#", "**"])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(PIECES, max_size=30).map("".join), st.integers(0, 3))
def test_format_shaped_noise_gives_an_action(answer: str, n_cells: int) -> None:
    a = parse_action(answer, n_cells)
    assert a.kind in KINDS and (a.kind != "error" or a.text)


CODE_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40).filter(lambda s: not s.lstrip().startswith(("`", "~")))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(CODE_LINE, min_size=1, max_size=8), st.sampled_from(["code", "edit 2"]))
def test_canonical_code_round_trips(lines: list[str], header: str) -> None:
    code = "\n".join(lines)
    a = parse_action(f"ACTION: {header}\n{F}python\n{code}\n{F}\n", n_cells=2)
    if not code.strip():
        assert a.kind == "error"
        return
    assert a.kind == header.split()[0]
    assert a.source == code.strip("\n").rstrip() + "\n"
