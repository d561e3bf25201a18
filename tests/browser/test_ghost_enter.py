"""Ghost text where users expect it: on the new, indented line after Enter (JupyterLab asks
inline providers by itself only when the text before the cursor is not blank), and Esc
hides a shown ghost text without leaving edit mode.

Real jupyter lab + chromium, on the scripted model (its answers are this module's), so the
suggestions are known in advance. Cell sources and the notebook mode are read from
JupyterLab's models (`window.jupyterapp`), requests from the server's history.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import LabServer, shot, wait_for

pytestmark = pytest.mark.browser
SCRIPTED_MODEL = True  # the lab serves jupyter_assist.testing.scripted
LAB_ARGS = ("--AssistExtension.completion_max_tokens=48",)  # room for a whole line

GHOST = ".jp-GhostText:not(.jp-GhostText-letterSpacer):not(.jp-GhostText-lineSpacer)"
OPENER = "def mean(xs):"
BODY = "return sum(xs) / len(xs)"

STATE_JS = """() => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  const cell = notebook.activeCell;
  const focused = document.activeElement;
  return {
    source: cell.model.sharedModel.getSource(),
    mode: notebook.mode,
    editorFocused: !!focused && focused.classList.contains('cm-content') && cell.node.contains(focused),
  };
}"""


def _state(page: Page) -> dict[str, Any]:
    return page.evaluate(STATE_JS)


def _ghost(page: Page) -> str:
    return "".join(page.locator(GHOST).all_inner_texts())


def _last_cell(page: Page) -> Any:
    cell = page.locator(".jp-Notebook .jp-CodeCell").last
    cell.locator(".cm-content").click()
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
    wait_for(lambda: _state(page)["mode"] == "edit", 10, "edit mode")
    return cell


def _finished_for(lab_server: LabServer, start: int, prompt_end: str) -> list[dict[str, Any]]:
    return [e for e in lab_server.history("complete")[start:] if e["finish_reason"] != "cancelled" and e["prompt"].endswith(prompt_end)]


def test_enter_after_a_block_opener_shows_ghost_text_on_the_new_line(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    # Only the prompt that ends on the new, indented line gets an answer.
    script([{"match": f"{OPENER}\n    ", "answers": [BODY]}])
    _last_cell(page)
    start = len(lab_server.history("complete"))
    page.keyboard.type(OPENER, delay=30)
    # The line itself gets no suggestion: no ghost text before Enter.
    wait_for(lambda: _finished_for(lab_server, start, OPENER), 30, f"the request for {OPENER!r}")
    expect(page.locator(GHOST)).to_have_count(0)

    page.keyboard.press("Enter")  # and no other key
    expect(page.locator(GHOST).first).to_contain_text(BODY, timeout=15_000)
    shot(page, "test_enter_ghost-shown")
    assert _state(page)["source"] == f"{OPENER}\n    "
    served = _finished_for(lab_server, start, f"{OPENER}\n    ")
    assert [e["text"] for e in served] == [BODY], served

    page.keyboard.press("Tab")  # accept: the suggestion lands on the indented line
    expect(page.locator(GHOST)).to_have_count(0, timeout=10_000)
    assert _state(page)["source"] == f"{OPENER}\n    {BODY}"


def test_enter_typed_along_a_block_suggestion_shows_its_next_line_without_asking_again(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    # A block for the new line under the opener; its first line has no brackets, so typing
    # it along leaves nothing auto-closed after the cursor.
    first, rest = "total = 0", "for x in xs:\n        total += x\n    return total / len(xs)"
    # A second request would get "pass": the rest on screen must come from the first answer.
    script([{"match": f"{OPENER}\n    ", "answers": [f"{first}\n    {rest}", "pass"]}])
    _last_cell(page)
    page.keyboard.type(OPENER, delay=30)
    page.keyboard.press("Enter")
    expect(page.locator(GHOST).first).to_contain_text(first, timeout=15_000)
    expect(page.locator(".jp-GhostText-streamingIndicator")).to_have_count(0, timeout=15_000)
    page.keyboard.type(first, delay=30)  # typed along: the ghost keeps the rest
    expect(page.locator(GHOST).first).to_contain_text("for x in xs:", timeout=5_000)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/jupyter-assist/complete" in r.url else None)

    page.keyboard.press("Enter")  # the suggestion's own line break and indentation
    assert _state(page)["source"] == f"{OPENER}\n    {first}\n    "
    expect(page.locator(GHOST).first).to_contain_text("for x in xs:", timeout=5_000)
    shot(page, "test_enter_typed_along-next-line")
    asked = list(sent)  # (the accept below asks again, for the text after the block)
    page.keyboard.press("Tab")
    # Had a new request replaced the ghost, Tab would have taken its "pass".
    wait_for(lambda: _state(page)["source"] == f"{OPENER}\n    {first}\n    {rest}", 10, "the accepted block")
    assert asked == [], asked  # shown from the answer on hand


def test_escape_hides_ghost_text_and_stays_in_edit_mode(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    typed, answer = "result = mean", "(xs)"
    script([{"match": typed, "answers": [answer]}])
    _last_cell(page)
    page.keyboard.type(typed, delay=30)
    expect(page.locator(GHOST).first).to_contain_text(answer, timeout=30_000)

    page.keyboard.press("Escape")
    expect(page.locator(GHOST)).to_have_count(0, timeout=5_000)
    expect(page.locator(".jp-mod-inline-completer-active")).to_have_count(0)
    state = _state(page)
    assert state["mode"] == "edit" and state["editorFocused"], state
    shot(page, "test_escape_ghost-dismissed")
    script([])  # no more suggestions: the next Esc finds no ghost text
    page.keyboard.type("!", delay=30)  # the editor still takes keys
    wait_for(lambda: _state(page)["source"] == typed + "!", 10, "the typed key in the cell")

    page.keyboard.press("Escape")  # with no ghost text, Esc leaves edit mode as usual
    wait_for(lambda: _state(page)["mode"] == "command", 10, "command mode after the second Esc")
    assert _state(page)["source"] == typed + "!"
