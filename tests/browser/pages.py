"""What the browser tests do to a JupyterLab page, in one place: open a notebook in a
workspace of its own, read and set cell sources through JupyterLab's models
(`window.jupyterapp`), put user settings through the lab's REST API, edit a cell's first
line, Tab through next-edit proposals, ask for an edit (Accel+K), open and ask the chat,
and type until a ghost-text completion comes.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Locator, Page, expect

if TYPE_CHECKING:
    from .conftest import LabServer

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"  # the restored workspace keeps other tabs
PROPOSAL = ".jp-assist-nextedit-new"
GHOST = ".jp-GhostText:not(.jp-GhostText-letterSpacer):not(.jp-GhostText-lineSpacer)"
STREAMING = re.compile(r"\bjp-mod-streaming\b")
INLINE_COMPLETER = "@jupyterlab/completer-extension:inline-completer"

SOURCES_JS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) out.push(cells.get(i).sharedModel.getSource());
  return out;
}"""
ACTIVE_SOURCE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.activeCell.model.sharedModel.getSource();
}"""
SET_SOURCE_JS = """([i, text]) => {
  window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.setSource(text);
}"""
NOTEBOOK_STATE_JS = """() => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  return [notebook.activeCellIndex, notebook.widgets.map(w => w.model.sharedModel.getSource())];
}"""


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy (returned); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def sources(page: Page) -> list[str]:
    """The current notebook's cell sources, from its model."""
    return list(page.evaluate(SOURCES_JS))


def put_settings(lab_server: LabServer, plugin: str, value: dict[str, Any]) -> None:
    """Replace the user settings of `plugin` (as the settings editor saves them)."""
    req = urllib.request.Request(
        f"{lab_server.base_url}lab/api/settings/{plugin}",
        data=json.dumps({"raw": json.dumps(value)}).encode(),
        method="PUT",
        headers={"Authorization": f"token {lab_server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status in (200, 204)


def inline_completer(lab_server: LabServer, on: bool) -> None:
    """Our ghost text on or off. It takes Tab first by design: off, Tab goes to next edit."""
    provider = {"enabled": on, "timeout": 5000, "debouncerDelay": 0}
    put_settings(lab_server, INLINE_COMPLETER, {"providers": {"@jupyter-assist/inline-completer": provider}})


def new_notebook(cells: Sequence[Any]) -> Any:
    """A Python notebook of `cells` (nbformat cells, or sources for code cells)."""
    from nbformat import v4

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [v4.new_code_cell(c) if isinstance(c, str) else c for c in cells]
    return nb


def wait_statusbar_idle(page: Page, timeout_s: float = 60) -> None:
    """Wait for the status bar's kernel `| Idle`: while the kernel starts, JupyterLab takes
    the focus back to the notebook (command mode), so typed text would land as shortcuts."""
    expect(page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle"))).to_be_visible(timeout=timeout_s * 1000)


def open_notebook(page: Page, lab_server: LabServer, name: str, cells: list[str]) -> Path:
    """Write a notebook of code `cells` as `name` and open it in a workspace of its own
    (restoring the other tests' tabs would move the focus later on); returns when its
    cells are shown and its kernel is idle."""
    import nbformat

    path = lab_server.root_dir / name
    nbformat.write(new_notebook(cells), str(path))
    url = f"{lab_server.base_url}lab/workspaces/{name.split('.')[0]}/tree/{name}?reset&token={lab_server.token}"
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    expect(page.locator(f"{NOTEBOOK} .jp-Cell")).to_have_count(len(cells), timeout=60_000)
    wait_for(lambda: sources(page) == cells, 30, "the notebook's cells")
    wait_statusbar_idle(page)
    return path


def edit_cell(page: Page, index: int = 0) -> Locator:
    """Click into code cell `index`'s first line until the notebook is (and stays) in edit
    mode: a click while the notebook is still settling may not enter it. The cell."""
    cell = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(index)
    edit_mode = page.locator(f"{NOTEBOOK}.jp-mod-editMode")
    for _ in range(3):
        cell.locator(".cm-line").first.click()
        try:
            expect(edit_mode).to_have_count(1, timeout=3_000)
            page.wait_for_timeout(500)
            expect(edit_mode).to_have_count(1, timeout=100)  # and it stays there
            break
        except AssertionError:
            continue
    expect(edit_mode).to_have_count(1)
    return cell


def press_until_changed(page: Page, key: str, proposals: Any, timeout_s: float = 10) -> None:
    """Press `key` and wait until the notebook shows its effect: a proposal accepted or gone,
    a source changed, or the active cell moved (a Tab that jumps to the next proposal)."""

    def state() -> Any:
        return [proposals.count(), page.evaluate(NOTEBOOK_STATE_JS)]

    before = state()
    page.keyboard.press(key)
    wait_for(lambda: state() != before, timeout_s, f"{key} to accept or move to a proposal")


def tab_through_proposals(page: Page, most: int = 5) -> None:
    """Tab until no next-edit proposal is left (at most `most` Tabs: the expected ones and
    any valid proposal the model added)."""
    for _ in range(most):
        if page.locator(PROPOSAL).count() == 0:
            break
        press_until_changed(page, "Tab", page.locator(PROPOSAL))
    expect(page.locator(PROPOSAL)).to_have_count(0, timeout=10_000)


def open_edit_prompt(page: Page, cell: Locator) -> Locator:
    """Accel+K in `cell`'s editor: the cell's instruction box (focused)."""
    cell.locator(".jp-InputArea-editor .cm-content").click()
    page.keyboard.press("ControlOrMeta+k")
    prompt = cell.locator(".jp-assist-edit-input")
    expect(prompt).to_be_focused()
    return prompt


def ask_edit(page: Page, cell: Locator, instruction: str) -> Locator:
    """Send `instruction` from `cell`'s instruction box: the cell's edit review."""
    prompt = open_edit_prompt(page, cell)
    prompt.fill(instruction)
    prompt.press("Enter")
    return cell.locator('.jp-assist-review[data-task="edit"]')


def open_chat(page: Page, new: bool = False) -> Locator:
    """The chat sidebar, opened from its tab if it is not shown; `new`: a new thread
    (threads persist across pages, with the workspace)."""
    tab = page.locator('.jp-SideBar.jp-mod-right li[data-id="jupyter-assist-chat"]')
    expect(tab).to_be_visible()
    chat = page.locator("#jupyter-assist-chat")
    if not chat.is_visible():
        tab.click()
    expect(chat).to_be_visible()
    if new:
        new_chat(chat)
    return chat


def new_chat(chat: Locator) -> None:
    chat.locator(".jp-assist-chat-clear").click()
    expect(chat.locator(".jp-assist-chat-message")).to_have_count(0)


def ask_chat(chat: Locator, question: str) -> Locator:
    """Send `question`; the answer once it has stopped streaming."""
    chat.locator(".jp-assist-chat-input").fill(question)
    chat.locator(".jp-assist-chat-send").click()
    answer = chat.locator('.jp-assist-chat-message[data-role="assistant"]').last
    expect(answer).to_be_visible()
    expect(answer).not_to_have_class(STREAMING, timeout=60_000)
    return answer


def type_until_completion(
    page: Page, lab_server: LabServer, candidates: Sequence[str], timeout_s: float = 30, check: Callable[[dict[str, Any]], None] = lambda e: None
) -> tuple[str, dict[str, Any]]:
    """Type candidate lines into the focused (empty) cell until the model's completion for
    one is visible text; returns (typed line, its history entry), `check`ed for every
    candidate. The tiny model's output is fixed for a given prompt, but may be blank for
    some (prompt formats change)."""
    for typed in candidates:
        before = len(lab_server.history("complete"))
        page.keyboard.type(typed, delay=30)

        # The latest finished `complete` request for the whole line (on a slow machine a
        # pause mid-typing may send, and finish, one for part of it).
        def finished() -> dict[str, Any] | None:
            done = [
                e
                for e in lab_server.history("complete")[before:]
                if e["finish_reason"] != "cancelled" and (e["prompt"] + e["healed"]).endswith(typed)
            ]
            return done[-1] if done else None

        entry = wait_for(finished, timeout_s, f"a finished complete request for {typed!r} in /jupyter-assist/history")
        check(entry)
        if entry["text"].strip():
            return typed, entry
        # Clear the cell (no Escape: that would leave edit mode) and try the next line.
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.press("Backspace")
        wait_for(lambda: page.evaluate(ACTIVE_SOURCE_JS) == "", 10, "the cell to be empty")
    pytest.fail(f"the model completed none of {candidates} with visible text")
