"""A rewrite cut off by its token limit keeps the original lines it did not reach (the
server's `done` text, what Accept writes), as the frontend's Stop does (stopKeep.spec.ts)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from jupyter_assist.engine.types import Event
from jupyter_assist.tasks.edit import rewrite_built
from jupyter_assist.tasks.unreached import keep_unreached

ORIGINAL = "".join(f"x{i} = {i}\n" for i in range(30))
LINES = ORIGINAL.splitlines()


def test_keeps_the_30_line_cell_a_cut_rewrite_had_reached_3_lines_into() -> None:
    kept = keep_unreached("x0 = 0  # zero\nx1 = 1  # one\nx2 = ", ORIGINAL)
    assert kept == "\n".join(["x0 = 0  # zero", "x1 = 1  # one", *LINES[2:]]) + "\n"


def test_an_inserted_line_does_not_eat_an_original_one() -> None:
    assert keep_unreached("import math\nx0 = 0\nx1 = 1\nx2", ORIGINAL) == "import math\n" + ORIGINAL


def test_a_deleted_line_before_the_last_copied_one_stays_deleted() -> None:
    assert keep_unreached("x0 = 0\nx2 = 2\nx3 = 3\n", ORIGINAL) == "\n".join(["x0 = 0", "x2 = 2", *LINES[3:]]) + "\n"


def test_nothing_generated_yet_is_the_original() -> None:
    assert keep_unreached("", ORIGINAL) == ORIGINAL
    assert keep_unreached("x0 = 0  # cut sh", ORIGINAL) == ORIGINAL


def test_a_cell_without_a_trailing_newline_stays_so() -> None:
    assert keep_unreached("a = 2\nb", "a = 1\nb = 1\nc = 1") == "a = 2\nb = 1\nc = 1"


def _done(text: str, reason: Any) -> Event:
    return Event("done", text=text, finish_reason=reason)


def test_the_rewrite_finish_keeps_the_tail_only_when_cut_off() -> None:
    prompt: Any = SimpleNamespace(text="", report=None)
    finish = rewrite_built("r", prompt, 10, ORIGINAL, limited=True).finish
    cut = finish(_done("x0 = 0  # zero\nx1 = ", "length"))
    assert cut["text"] == "\n".join(["x0 = 0  # zero", *LINES[1:]]) + "\n"
    assert [(h["old"], h["new"]) for h in cut["hunks"]] == [(["x0 = 0"], ["x0 = 0  # zero"])]
    # A rewrite that ended on its own is the cell the model wrote, deletions included.
    whole = finish(_done("x0 = 0\n", "stop"))
    assert whole["text"] == "x0 = 0\n" and whole["hunks"][0]["old"] == LINES[1:]
    # Cut at the default size (twice the cell, no user limit): what it wrote, all in the diff.
    unlimited = rewrite_built("r", prompt, 10, ORIGINAL).finish(_done("x0 = 0  # zero\nx1 = ", "length"))
    assert unlimited["text"] == "x0 = 0  # zero\nx1 = \n"
