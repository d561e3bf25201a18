"""Completion post-processing (tasks/complete.finish) and where an answer may end."""

from __future__ import annotations

from jupyter_assist.notebook.completion import block_start
from jupyter_assist.tasks.complete import finish
from jupyter_assist.wire import CompleteRequest


def req(prefix: str, suffix: str = "") -> CompleteRequest:
    return CompleteRequest(request_id="f", prefix=prefix, suffix=suffix)


def test_an_answer_repeating_the_line_above_an_empty_cursor_line_is_dropped() -> None:
    # Small FIM models under a block opener often echo it instead of writing the body.
    assert finish("for x in xs:\n        y = x", req("def f(xs):\n    for x in xs:\n        ")) == ""
    assert finish("    for x in xs:", req("for x in xs:\n\n    ")) == ""  # blank lines between: still the line above
    assert finish("total += x", req("for x in xs:\n    ")) == "total += x"
    # On a line that has text the answer continues it: no repeat to judge.
    assert finish("x = 1", req("x = 1\nx = ")) == "x = 1"


def test_suffix_echo_and_output_copies_are_cut() -> None:
    assert finish("foo(a))", req("print(", ")")) == "foo(a)"
    assert finish("# Out:\n# 3", req("x\n")) == ""


def test_a_copy_of_our_omission_marks_is_dropped() -> None:
    # The context cuts long cells with these marks; a model that copies one shows nothing.
    assert finish("# ... (rest of cell omitted)", req("import numpy as np\n")) == ""
    assert finish("x = 1\n# ... 12 lines omitted ...\ny = 2", req("")) == "x = 1"
    assert finish("  # ... (rest of cell omitted)", req("    ")) == ""
    assert finish(' "spam")]  # ... (rest of cell omitted)', req("for a in [(")) == ' "spam")]'
    assert finish("# ... and more", req("")) == "# ... and more"  # a user's own comment stays


def test_blocks_only_after_a_block_opener() -> None:
    assert block_start("def mean(xs):\n    ", "")
    assert block_start("if a:  # why\n", "\nrest")
    assert not block_start("x = 1\n", "")
    assert not block_start("def mean(xs):\n    ret", "")
    assert not block_start("def mean(xs):\n    ", "return 1")
