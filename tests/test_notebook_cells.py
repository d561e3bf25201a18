"""Reading notebooks and outputs never crashes: odd input becomes a note or a placeholder."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_assist.notebook import from_cells, from_ipynb
from jupyter_assist.notebook.context import Options, context_nodes
from jupyter_assist.notebook.outputs import output_text
from jupyter_assist.prompt import render, scope
from jupyter_assist.prompt.tokens import counter_for

len_tokens = counter_for(len)

V3 = {
    "nbformat": 3,
    "nbformat_minor": 0,
    "metadata": {"name": ""},
    "worksheets": [
        {
            "cells": [
                {"cell_type": "heading", "level": 2, "metadata": {}, "source": ["Title"]},
                {
                    "cell_type": "code",
                    "collapsed": False,
                    "language": "python",
                    "metadata": {},
                    "prompt_number": 3,
                    "input": ["import os\n", "x = 1"],
                    "outputs": [
                        {"output_type": "pyout", "prompt_number": 3, "text": ["1"], "metadata": {}},
                        {"output_type": "pyerr", "ename": "ValueError", "evalue": "bad", "traceback": ["\x1b[31mValueError\x1b[0m: bad"]},
                    ],
                },
            ]
        }
    ],
}


def v4(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def describe(book: Any) -> str:
    return render(scope(*context_nodes(book.cells, None, "chat", Options(error=True))), 10**6, len).text


def test_v3_is_upgraded_by_nbformat() -> None:
    book = from_ipynb(json.dumps(V3))
    assert [c.kind for c in book.cells] == ["markdown", "code"] and not book.notes
    assert book.cells[0].source == "## Title" and book.cells[1].source == "import os\nx = 1"
    assert book.cells[1].execution_count == 3
    text = describe(book)
    assert "ValueError: bad" in text and "\x1b" not in text and "1\n" in text


def test_v4_with_missing_ids_and_list_sources() -> None:
    nb = v4([{"cell_type": "code", "metadata": {}, "source": ["a = 1\n", "b = 2"], "outputs": [], "execution_count": None}])
    book = from_ipynb(json.dumps(nb).encode())
    assert book.cells[0].source == "a = 1\nb = 2" and not book.notes


@pytest.mark.parametrize(
    "data,note",
    [
        (b"{not json", "not a notebook"),
        (b"[1, 2]", "top level"),
        (b"\xff\xfe{\x00\x00", "not valid UTF-16"),
        (json.dumps({"nbformat": 99, "cells": []}).encode(), "nbformat could not read it"),
    ],
)
def test_unreadable_files_become_notes(data: bytes, note: str) -> None:
    book = from_ipynb(data)
    assert any(note in n for n in book.notes), book.notes


def test_bad_encoding_is_replaced_not_fatal() -> None:
    raw = json.dumps(v4([{"cell_type": "code", "source": "s = 'OK'", "metadata": {}, "outputs": []}])).encode()
    book = from_ipynb(raw.replace(b"OK", b"\xe9\xff"))
    assert "\ufffd" in book.cells[0].source and any("UTF-8" in n for n in book.notes)


def test_malformed_cells_are_read_leniently() -> None:
    nb = v4(
        [
            {"cell_type": "code", "source": "x = 1", "outputs": "not a list", "execution_count": "7"},
            "not a cell",
            {"cell_type": "mystery", "source": 42},
            {"cell_type": "markdown", "source": None},
        ]
    )
    book = from_ipynb(json.dumps(nb))
    assert [c.kind for c in book.cells] == ["code", "raw", "raw", "markdown"]
    assert book.cells[0].execution_count is None and book.cells[2].source == "42"
    assert len(book.notes) >= 3
    describe(book)  # renders without error


def test_huge_outputs_are_truncated_fast() -> None:
    huge = "".join(f"\x1b[1mline {i}\x1b[0m\n" for i in range(200_000))
    t = time.perf_counter()
    text = output_text({"output_type": "stream", "name": "stdout", "text": huge})
    assert time.perf_counter() - t < 1.0
    assert len(text) < 1500 and "lines omitted" in text and "\x1b" not in text
    assert text.startswith("line 0\n")


def test_binary_images_html_and_widgets_become_placeholders() -> None:
    png = base64.b64encode(bytes(range(256)) * 100).decode()
    assert output_text({"output_type": "display_data", "data": {"image/png": png, "text/plain": "<Figure size 640x480>"}}) == "[image]"
    assert output_text({"output_type": "display_data", "data": {"text/html": "<b>x</b>"}}) == "[HTML output]"
    assert output_text({"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json": {}}}) == "[widget]"
    assert output_text({"output_type": "stream", "text": "\x00\x01\x02" * 500}) in ("", "[binary output]")
    assert output_text({"output_type": "stream", "text": "\ufffd" * 300}) == "[binary output]"
    # A DataFrame keeps its text table next to its HTML.
    table = "   a  b\n0  1  2"
    assert output_text({"output_type": "execute_result", "data": {"text/plain": table, "text/html": "<table/>"}}) == table


def test_progress_bars_and_control_characters() -> None:
    out = output_text({"output_type": "stream", "text": "10%\r50%\r100% done\nnext\x07 line\n"})
    assert out == "100% done\nnext line"


def test_odd_output_shapes_never_raise() -> None:
    for o in [
        None,
        3,
        "text",
        {},
        {"output_type": "stream", "text": 5},
        {"output_type": "error"},
        {"output_type": "error", "traceback": "not a list"},
        {"output_type": "execute_result", "data": "x"},
        {"output_type": "display_data", "data": {"text/plain": ["a", 1]}},
    ]:
        output_text(o)  # type: ignore[arg-type]


def test_wire_cells() -> None:
    from jupyter_assist.wire import NotebookCell

    book = from_cells([NotebookCell(cell_type="markdown", source="# T"), {"cell_type": "code", "source": "y = 2"}])
    assert [c.source for c in book.cells] == ["# T", "y = 2"] and [c.index for c in book.cells] == [0, 1]


def test_a_cell_that_cannot_be_rendered_is_dropped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    import jupyter_assist.notebook.context as ctx

    real = ctx.cell_node

    def flaky(cell: Any, *a: Any, **k: Any) -> Any:
        if cell.index == 1:
            raise RuntimeError("boom")
        return real(cell, *a, **k)

    monkeypatch.setattr(ctx, "cell_node", flaky)
    book = from_cells([{"cell_type": "code", "source": "a = 1"}, {"cell_type": "code", "source": "b = 2"}])
    r = render(scope(*context_nodes(book.cells, None, "code", Options())), 1000, len)
    assert "a = 1" in r.text and "b = 2" not in r.text
    assert any("cell 2 skipped (RuntimeError: boom)" in n.name for n in r.nodes)


KEYS = [
    "cell_type",
    "source",
    "outputs",
    "execution_count",
    "output_type",
    "text",
    "data",
    "traceback",
    "ename",
    "evalue",
    "name",
    "text/plain",
    "image/png",
    "text/html",
    "input",
    "level",
    "metadata",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 10**12)
    | st.text(max_size=30)
    | st.sampled_from(["code", "markdown", "raw", "heading", "stream", "error", "execute_result", "display_data"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=6),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(json_values, max_size=6), version=st.sampled_from([3, 4]))
def test_random_notebooks_never_crash(cells: list[Any], version: int) -> None:
    from jupyter_assist.notebook import Budgets, Fit, chat_prompt, completion_prompt
    from jupyter_assist.prompt import PromptTooLarge
    from jupyter_assist.prompt.fim import FORMATS

    nb = (
        {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
        if version == 4
        else {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": cells}]}
    )
    book = from_ipynb(json.dumps(nb))
    index = len(book.cells) - 1 if book.cells else None
    completion_prompt(book.cells, index, "x = ", "", len_tokens, FORMATS[0], Budgets(200, 100, 50, 20))
    try:
        chat_prompt(book.cells, index, [{"role": "user", "content": "hi"}], Fit(len_tokens, None, 400, 50))
    except PromptTooLarge:
        pass
