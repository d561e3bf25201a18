"""Characters outside the Basic Multilingual Plane survive every write into a cell: a
proposal that swaps one emoji or math letter for another (`😀` -> `😁`, `𝜃` -> `𝜑`,
same UTF-16 high surrogate) is accepted, saved, and the .ipynb on disk holds exactly the
accepted text; one undo gives the original back exactly.

Real jupyter lab + chromium, on the scripted model (its answers are this module's), so the
proposals are known in advance. Cell sources are read from JupyterLab's models
(`window.jupyterapp`) and from the saved file (nbformat), not from the DOM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import Page, expect

from .conftest import LabServer, shot, wait_for, wait_kernel_idle
from .pages import NOTEBOOK, SET_SOURCE_JS, ask_edit, edit_cell, inline_completer, open_notebook, sources

pytestmark = pytest.mark.browser
SCRIPTED_MODEL = True  # the lab serves jupyter_assist.testing.scripted

CELL = 2  # the default notebook's last (code) cell
ORIGINAL = 's = "\U0001f600 smile"\nt = "\U0001d518"'  # 😀, 𝔘
ACCEPTED = 's = "\U0001f601 smile"\nt = "\U0001d519"'  # 😁, 𝔙
INSTRUCTION = "make the face wink"
THETA, PHI = "\U0001d703", "\U0001d711"  # 𝜃, 𝜑 (mathematical italic: valid identifiers)
DEF = f"{THETA} = 0.5  # angle"
USE = f"print({THETA} * 2)\nx = 1"

# JupyterLab's own save; a failed PUT comes back as the error's text.
SAVE_JS = """async () => {
  try { await window.jupyterapp.commands.execute('docmanager:save'); return null; }
  catch (e) { return String(e && (e.message || e)); }
}"""


def _broken(text: str) -> list[str]:
    """What a split surrogate pair leaves: U+FFFD or lone surrogates (escaped, to show)."""
    return [f"U+{ord(c):04X}" for c in text if c == "\ufffd" or 0xD800 <= ord(c) <= 0xDFFF]


def _save_and_read(page: Page, path: Path) -> list[str]:
    """Save with JupyterLab's command and return the cell sources of the file on disk. The
    save's own PUT tells when it landed (the model may turn dirty again at once: the kernel
    connecting writes the notebook's language_info)."""
    with page.expect_response(lambda r: r.request.method == "PUT" and f"/api/contents/{path.name}" in r.url, timeout=30_000) as put:
        error = page.evaluate(SAVE_JS)
    if put.value.status != 200:
        cells = sources(page)
        pytest.fail(
            f"save failed: HTTP {put.value.status} {put.value.text()[:300]!r} ({error}); broken characters: "
            f"{[_broken(s) for s in cells]}; cells: {[ascii(s) for s in cells]}"
        )
    return [c.source for c in nbformat.read(str(path), as_version=4).cells]


def test_edit_accept_of_astral_characters_saves_exactly(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([{"match": INSTRUCTION, "answers": [ACCEPTED + "\n```\n"]}])
    page.evaluate(SET_SOURCE_JS, [CELL, ORIGINAL])
    wait_for(lambda: sources(page)[CELL] == ORIGINAL, 10, "the cell source to be set")
    cell = page.locator(f"{NOTEBOOK} .jp-Cell").nth(CELL)
    review = ask_edit(page, cell, INSTRUCTION)
    expect(review).to_have_attribute("data-state", "ready", timeout=60_000)
    assert lab_server.history("edit")[-1]["text"] == ACCEPTED  # the scripted proposal, as served
    shot(page, "test_astral_edit-diff")

    review.locator(".jp-assist-review-accept").click()
    expect(review).to_have_count(0)
    shot(page, "test_astral_edit-accepted")

    saved = _save_and_read(page, lab_server.root_dir / lab_server.notebook)[CELL]
    assert not _broken(saved) and saved == ACCEPTED, f"saved {_broken(saved)}: {saved!a}"
    assert sources(page)[CELL] == ACCEPTED

    # Focus is back in the cell editor: one undo restores the original exactly.
    expect(cell.locator(".jp-InputArea-editor .cm-content")).to_be_focused()
    page.keyboard.press("ControlOrMeta+z")
    wait_for(lambda: sources(page)[CELL] == ORIGINAL, 10, f"one undo to restore the original (now {sources(page)[CELL]!a})")
    shot(page, "test_astral_edit-undone")


def test_next_edit_rename_of_astral_name_saves_exactly(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([])  # the model's rewrite: its draft back (no change); the rename proposal is model-free
    inline_completer(lab_server, False)  # ghost text takes Tab first by design
    path = open_notebook(page, lab_server, "astral-next-edit.ipynb", [DEF, USE])
    edit_cell(page, 0)
    page.keyboard.press("Home")
    page.keyboard.press("Shift+ArrowRight")  # one code point: the whole surrogate pair
    page.keyboard.type(PHI)
    renamed = DEF.replace(THETA, PHI)
    wait_for(lambda: sources(page)[0] == renamed, 10, f"the typed rename (cell 0: {sources(page)[0]!a})")

    cell1 = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(1)
    proposal = cell1.locator(".jp-assist-nextedit-new")
    expect(proposal).to_have_count(1, timeout=30_000)
    expect(proposal).to_have_text(PHI)  # only the changed tokens, inline
    assert sources(page)[1] == USE  # shown, not applied
    shot(page, "test_astral_next_edit-proposed")

    page.keyboard.press("Tab")
    expect(page.locator(".jp-assist-nextedit-new")).to_have_count(0, timeout=10_000)
    shot(page, "test_astral_next_edit-accepted")

    saved = _save_and_read(page, path)
    assert saved == [renamed, USE.replace(THETA, PHI)], f"saved {[_broken(s) for s in saved]}: {[ascii(s) for s in saved]}"
    assert sources(page) == saved
    # One accepted proposal is one undo step, back to the exact original.
    page.keyboard.press("ControlOrMeta+z")
    wait_for(lambda: sources(page)[1] == USE, 10, f"one undo of the accept (cell 1: {sources(page)[1]!a})")


RUN_CELL_JS = """(i) => {
  const panel = window.jupyterapp.shell.currentWidget;
  panel.content.model.cells.get(i).executionCount = null;  // set again when the run ends
  panel.content.activeCellIndex = i;
  return window.jupyterapp.commands.execute('notebook:run-cell');
}"""
COUNT_JS = "(i) => window.jupyterapp.shell.currentWidget.content.model.cells.get(i).executionCount"


def _run(page: Page, index: int, source: str) -> int:
    """Put `source` in cell `index`, run it in place; its execution count."""
    page.evaluate(SET_SOURCE_JS, [index, source])
    wait_for(lambda: sources(page)[index] == source, 10, f"cell {index}'s source to be set")
    page.evaluate(RUN_CELL_JS, index)
    return wait_for(lambda: page.evaluate(COUNT_JS, index), 90, f"cell {index} to run")


def test_kernel_widget_replace_of_astral_code_saves_exactly(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    # The bridge path: `%assist --edit N` in the kernel, Accept in its widget, the labextension
    # rewrites cell N through the comm.
    page = lab_page
    script([{"match": INSTRUCTION, "answers": [ACCEPTED + "\n```\n"]}])
    wait_kernel_idle(page)  # the kernel may still be starting on a loaded box
    _run(page, 2, "%load_ext jupyter_assist")
    n = _run(page, 1, ORIGINAL)  # run with the extension loaded: the kernel knows its cell
    _run(page, 2, f"%assist --edit {n} {INSTRUCTION}")
    widget = page.locator(f"{NOTEBOOK} .jp-Cell").nth(2).locator(".jp-OutputArea .widget-vbox")
    expect(widget).to_contain_text("edit: ready", timeout=60_000)
    assert lab_server.history("edit")[-1]["text"] == ACCEPTED
    shot(page, "test_astral_kernel_widget-proposal")
    widget.locator("button", has_text="Accept: replace the cell").click()
    wait_for(lambda: sources(page)[1] != ORIGINAL, 30, "the target cell to be rewritten")
    shot(page, "test_astral_kernel_widget-accepted")

    saved = _save_and_read(page, lab_server.root_dir / lab_server.notebook)[1]
    assert not _broken(saved) and saved == ACCEPTED, f"saved {_broken(saved)}: {saved!a}"
    assert sources(page)[1] == ACCEPTED
