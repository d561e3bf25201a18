"""Next edit end to end: a rename typed in chromium, proposals in the other cell, Tab
accepts them one by one, Esc dismisses them (real jupyter lab, tiny random-weight model).

The inline completer is switched off for this module (a user setting, through the lab's
REST API): its ghost text takes Tab first by design, and the random model's ghost would
make which key goes where depend on the model's output.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import LabServer, shot, wait_for
from .pages import NOTEBOOK, PROPOSAL, edit_cell, inline_completer, open_notebook, sources, tab_through_proposals

pytestmark = pytest.mark.browser

DEF = "def load(path):\n    return open(path).read()"
CALLS = 'data = load("a.txt")\nprint(load("b.txt"))'
RENAMED_CALLS = 'data = read_text("a.txt")\nprint(read_text("b.txt"))'
ACTIVE_JS = "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex"


def _telemetry(page: Page) -> list[dict[str, Any]]:
    """The telemetry events the page posts, as sent (recorded or not by the server)."""
    events: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: events.append(r.post_data_json) if r.url.split("?")[0].endswith("/jupyter-assist/telemetry") and r.method == "POST" else None,
    )
    return events


def _kinds(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind and e["task"] == "next-edit"]


def _open(page: Page, lab_server: LabServer, name: str) -> None:
    inline_completer(lab_server, False)
    open_notebook(page, lab_server, name, [DEF, CALLS])


def _rename_in_def(page: Page) -> None:
    """Select `load` in cell 0's `def` line with the keyboard and type the new name."""
    cell0 = edit_cell(page, 0)
    expect(cell0).to_have_class(re.compile(r"\bjp-mod-active\b"))
    page.keyboard.press("Home")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    for _ in range(4):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.type("read_text", delay=40)
    wait_for(lambda: sources(page)[0] == DEF.replace("load", "read_text"), 10, "the typed rename")


def test_next_edit_proposal_after_rename_accepted_with_tab(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    sent = _telemetry(page)
    _open(page, lab_server, "next-edit-tab.ipynb")
    _rename_in_def(page)

    cell1 = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(1)
    expect(cell1.locator(PROPOSAL)).to_have_count(2, timeout=30_000)
    expect(cell1.locator(PROPOSAL).first).to_have_text("read_text")  # only the changed tokens, inline
    expect(cell1.locator(".jp-assist-nextedit-old")).to_have_count(2)
    expect(page.locator(".jp-assist-nextedit-hint")).to_have_count(1)
    expect(page.locator(".jp-assist-nextedit-hint")).to_contain_text("Tab to accept")
    shot(page, "test_next_edit_proposal_after_rename_accepted_with_tab-proposed")
    # Shown, not applied: the user's text changes only on accept.
    assert sources(page)[1] == CALLS

    page.keyboard.press("Tab")
    wait_for(lambda: sources(page)[1].startswith('data = read_text("a.txt")\n'), 10, "the first proposal accepted")
    assert sources(page)[1] == 'data = read_text("a.txt")\nprint(load("b.txt"))'  # exactly that line
    assert page.evaluate(ACTIVE_JS) == 1  # Tab jumped to the cell of the proposal
    expect(cell1.locator(PROPOSAL)).to_have_count(1)
    shot(page, "test_next_edit_proposal_after_rename_accepted_with_tab-first-accepted")

    tab_through_proposals(page)  # the second rename (and any valid proposal the model added)
    assert sources(page)[1] == RENAMED_CALLS
    shot(page, "test_next_edit_proposal_after_rename_accepted_with_tab-accepted")
    wait_for(lambda: len(_kinds(sent, "accepted")) >= 2, 10, "telemetry of the accepts")
    assert len(_kinds(sent, "shown")) >= 2 and all(e["chars"] > 0 for e in _kinds(sent, "shown"))

    # One accepted proposal is one undo step.
    page.keyboard.press("ControlOrMeta+z")
    wait_for(lambda: sources(page)[1] == 'data = read_text("a.txt")\nprint(load("b.txt"))', 10, "undo of the last accept")


def test_next_edit_esc_dismisses(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    sent = _telemetry(page)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _open(page, lab_server, "next-edit-esc.ipynb")
    _rename_in_def(page)
    expect(page.locator(PROPOSAL)).not_to_have_count(0, timeout=30_000)
    # Typing on makes them stale: gone at once, back after the pause for the new text.
    page.keyboard.press("End")
    page.keyboard.type("x")
    assert page.locator(PROPOSAL).count() == 0
    page.keyboard.press("Backspace")
    expect(page.locator(PROPOSAL)).not_to_have_count(0, timeout=30_000)
    assert not errors, errors
    shot(page, "test_next_edit_esc_dismisses-proposed")

    page.keyboard.press("Escape")
    expect(page.locator(PROPOSAL)).to_have_count(0, timeout=10_000)
    expect(page.locator(".jp-assist-nextedit-old")).to_have_count(0)
    assert sources(page) == [DEF.replace("load", "read_text"), CALLS]
    # Esc went to the proposals, not to the notebook: still editing.
    expect(page.locator(NOTEBOOK)).to_have_class(re.compile(r"\bjp-mod-editMode\b"))
    shot(page, "test_next_edit_esc_dismisses-dismissed")
    wait_for(lambda: len(_kinds(sent, "rejected")) >= 2, 10, "telemetry of the dismissal")
    assert not _kinds(sent, "accepted")

    # No proposals pending: Tab and Esc are the notebook's again.
    page.keyboard.press("Home")
    page.keyboard.press("Tab")
    wait_for(lambda: sources(page)[0].startswith("    def read_text"), 10, "Tab to indent")
    page.keyboard.press("Escape")
    expect(page.locator(NOTEBOOK)).to_have_class(re.compile(r"\bjp-mod-commandMode\b"))
    assert sources(page)[1] == CALLS
