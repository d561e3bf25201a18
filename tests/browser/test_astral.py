"""Characters outside the Basic Multilingual Plane survive every write into a cell: a
proposal that swaps one emoji or math letter for another (`😀` -> `😁`, `𝜃` -> `𝜑`,
same UTF-16 high surrogate) is accepted, saved, and the .ipynb on disk holds exactly the
accepted text; one undo gives the original back exactly.

Real jupyter lab + chromium, on the scripted model (its answers are this module's), so the
proposals are known in advance. Cell sources are read from JupyterLab's models
(`window.jupyterapp`) and from the saved file (nbformat), not from the DOM.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import Page, expect

from .conftest import LabServer, shot, wait_for, wait_kernel_idle

pytestmark = pytest.mark.browser
SCRIPTED_MODEL = True  # the lab serves jupyter_assist.testing.scripted

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
CELL = 2  # the default notebook's last (code) cell
ORIGINAL = 's = "\U0001f600 smile"\nt = "\U0001d518"'  # 😀, 𝔘
ACCEPTED = 's = "\U0001f601 smile"\nt = "\U0001d519"'  # 😁, 𝔙
INSTRUCTION = "make the face wink"
THETA, PHI = "\U0001d703", "\U0001d711"  # 𝜃, 𝜑 (mathematical italic: valid identifiers)
DEF = f"{THETA} = 0.5  # angle"
USE = f"print({THETA} * 2)\nx = 1"

SOURCES_JS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) out.push(cells.get(i).sharedModel.getSource());
  return out;
}"""
SET_SOURCE_JS = """([i, text]) => {
  window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.setSource(text);
}"""
# JupyterLab's own save; a failed PUT comes back as the error's text.
SAVE_JS = """async () => {
  try { await window.jupyterapp.commands.execute('docmanager:save'); return null; }
  catch (e) { return String(e && (e.message || e)); }
}"""


def _sources(page: Page) -> list[str]:
    return page.evaluate(SOURCES_JS)


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
        cells = _sources(page)
        pytest.fail(
            f"save failed: HTTP {put.value.status} {put.value.text()[:300]!r} ({error}); broken characters: "
            f"{[_broken(s) for s in cells]}; cells: {[ascii(s) for s in cells]}"
        )
    return [c.source for c in nbformat.read(str(path), as_version=4).cells]


def test_edit_accept_of_astral_characters_saves_exactly(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([{"match": INSTRUCTION, "answers": [ACCEPTED + "\n```\n"]}])
    page.evaluate(SET_SOURCE_JS, [CELL, ORIGINAL])
    wait_for(lambda: _sources(page)[CELL] == ORIGINAL, 10, "the cell source to be set")
    cell = page.locator(f"{NOTEBOOK} .jp-Cell").nth(CELL)
    cell.locator(".jp-InputArea-editor .cm-content").click()
    page.keyboard.press("ControlOrMeta+k")
    prompt = cell.locator(".jp-assist-edit-input")
    expect(prompt).to_be_focused()
    prompt.fill(INSTRUCTION)
    prompt.press("Enter")
    review = cell.locator('.jp-assist-review[data-task="edit"]')
    expect(review).to_have_attribute("data-state", "ready", timeout=60_000)
    assert lab_server.history("edit")[-1]["text"] == ACCEPTED  # the scripted proposal, as served
    shot(page, "test_astral_edit-diff")

    review.locator(".jp-assist-review-accept").click()
    expect(review).to_have_count(0)
    shot(page, "test_astral_edit-accepted")

    saved = _save_and_read(page, lab_server.root_dir / lab_server.notebook)[CELL]
    assert not _broken(saved) and saved == ACCEPTED, f"saved {_broken(saved)}: {saved!a}"
    assert _sources(page)[CELL] == ACCEPTED

    # Focus is back in the cell editor: one undo restores the original exactly.
    expect(cell.locator(".jp-InputArea-editor .cm-content")).to_be_focused()
    page.keyboard.press("ControlOrMeta+z")
    wait_for(lambda: _sources(page)[CELL] == ORIGINAL, 10, f"one undo to restore the original (now {_sources(page)[CELL]!a})")
    shot(page, "test_astral_edit-undone")


def _no_inline_completer(lab_server: LabServer) -> None:
    """Ghost text takes Tab first by design: off, so Tab goes to the proposal."""
    raw = json.dumps({"providers": {"@jupyter-assist/inline-completer": {"enabled": False}}})
    req = urllib.request.Request(
        f"{lab_server.base_url}lab/api/settings/@jupyterlab/completer-extension:inline-completer",
        data=json.dumps({"raw": raw}).encode(),
        method="PUT",
        headers={"Authorization": f"token {lab_server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status in (200, 204)


def _open(page: Page, lab_server: LabServer, name: str, sources: list[str]) -> Path:
    from nbformat import v4

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [v4.new_code_cell(s) for s in sources]
    path = lab_server.root_dir / name
    nbformat.write(nb, str(path))
    _no_inline_completer(lab_server)
    # A workspace of its own: restoring other tabs would move the focus later on.
    url = f"{lab_server.base_url}lab/workspaces/{name.split('.')[0]}/tree/{name}?reset&token={lab_server.token}"
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    expect(page.locator(f"{NOTEBOOK} .jp-Cell")).to_have_count(len(sources), timeout=60_000)
    wait_for(lambda: _sources(page) == sources, 30, "the notebook's cells")
    # The kernel starting takes the focus back to the notebook: wait it out before typing.
    expect(page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle"))).to_be_visible(timeout=60_000)
    return path


def test_next_edit_rename_of_astral_name_saves_exactly(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([])  # the model's rewrite: its draft back (no change); the rename proposal is model-free
    path = _open(page, lab_server, "astral-next-edit.ipynb", [DEF, USE])
    cell0 = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(0)
    edit_mode = page.locator(f"{NOTEBOOK}.jp-mod-editMode")
    for _ in range(3):  # a click while the notebook is still settling may not enter edit mode
        cell0.locator(".cm-line").first.click()
        try:
            expect(edit_mode).to_have_count(1, timeout=3_000)
            break
        except AssertionError:
            continue
    expect(edit_mode).to_have_count(1)
    page.keyboard.press("Home")
    page.keyboard.press("Shift+ArrowRight")  # one code point: the whole surrogate pair
    page.keyboard.type(PHI)
    renamed = DEF.replace(THETA, PHI)
    wait_for(lambda: _sources(page)[0] == renamed, 10, f"the typed rename (cell 0: {_sources(page)[0]!a})")

    cell1 = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(1)
    proposal = cell1.locator(".jp-assist-nextedit-new")
    expect(proposal).to_have_count(1, timeout=30_000)
    expect(proposal).to_have_text(PHI)  # only the changed tokens, inline
    assert _sources(page)[1] == USE  # shown, not applied
    shot(page, "test_astral_next_edit-proposed")

    page.keyboard.press("Tab")
    expect(page.locator(".jp-assist-nextedit-new")).to_have_count(0, timeout=10_000)
    shot(page, "test_astral_next_edit-accepted")

    saved = _save_and_read(page, path)
    assert saved == [renamed, USE.replace(THETA, PHI)], f"saved {[_broken(s) for s in saved]}: {[ascii(s) for s in saved]}"
    assert _sources(page) == saved
    # One accepted proposal is one undo step, back to the exact original.
    page.keyboard.press("ControlOrMeta+z")
    wait_for(lambda: _sources(page)[1] == USE, 10, f"one undo of the accept (cell 1: {_sources(page)[1]!a})")


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
    wait_for(lambda: _sources(page)[index] == source, 10, f"cell {index}'s source to be set")
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
    wait_for(lambda: _sources(page)[1] != ORIGINAL, 30, "the target cell to be rewritten")
    shot(page, "test_astral_kernel_widget-accepted")

    saved = _save_and_read(page, lab_server.root_dir / lab_server.notebook)[1]
    assert not _broken(saved) and saved == ACCEPTED, f"saved {_broken(saved)}: {saved!a}"
    assert _sources(page)[1] == ACCEPTED
