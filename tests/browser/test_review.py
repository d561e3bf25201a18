"""End to end: edit a cell with an instruction, review the diff in the cell, accept or reject;
the fix button on an error output. Real jupyter lab + tiny model + chromium.

The tiny model's text is gibberish but deterministic: the tests compare the UI against what
the server actually generated (`/jupyter-assist/history`), and cell sources are read from
JupyterLab's models (`window.jupyterapp`), not from the DOM.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import LabServer, shot, wait_for
from .pages import SET_SOURCE_JS, open_edit_prompt

pytestmark = pytest.mark.browser

CELL = 2  # the notebook's last (code) cell
# Trailing spaces, a tab, non-ASCII text and no trailing newline: Reject must give all of
# them back byte for byte (the review never writes into the cell).
ORIGINAL = "x = 1  \n\tname = 'h\u00e9llo \u2713'\ny = x + 1"

SOURCE_JS = """(i) => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets[i].model.sharedModel.getSource();
}"""

# Record every data-state a review root takes (the DOM contract: streaming, then ready).
RECORD_STATES_JS = """() => {
  window.__reviewStates = [];
  new MutationObserver(records => {
    for (const r of records) {
      if (r.target.classList.contains('jp-assist-review')) {
        window.__reviewStates.push(r.target.getAttribute('data-state'));
      }
    }
  }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
}"""

STOP_AT_FIRST_TEXT_JS = """async () => {
  const review = document.querySelector('.jp-assist-review');
  const content = review.querySelector('.jp-assist-review-editor .cm-content');
  for (let i = 0; i < 6000 && review.dataset.state === 'streaming'; i++) {
    if (content.querySelector('.cm-changedLine, .cm-insertedLine')) {
      // While streaming: Stop is shown and Accept is not possible yet.
      const stop = review.querySelector('.jp-assist-review-stop');
      const accept = review.querySelector('.jp-assist-review-accept');
      if (!stop.offsetParent || !accept.disabled) return 'stop hidden or accept enabled while streaming';
      stop.click();
      return Date.now() / 1000;  // when Stop was pressed (same clock as the server's)
    }
    await new Promise(r => setTimeout(r, 5));
  }
  return false;
}"""

EXECUTION_COUNT_JS = """(i) => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets[i].model.executionCount;
}"""


def _cell(page: Page) -> Locator:
    return page.locator(".jp-Notebook .jp-Cell").nth(CELL)


def _source(page: Page) -> str:
    return page.evaluate(SOURCE_JS, CELL)


def _set_source(page: Page, text: str) -> None:
    page.evaluate(SET_SOURCE_JS, [CELL, text])
    wait_for(lambda: _source(page) == text, 10, "the cell source to be set")


def _start_edit(page: Page, lab_server: LabServer, instruction: str, name: str) -> tuple[Locator, int]:
    """Put ORIGINAL in the cell, press Accel+K in it, send `instruction`; returns the
    review locator and how many edit requests the server had served before."""
    _set_source(page, ORIGINAL)
    cell = _cell(page)

    def edit_warm(r: Any) -> bool:
        return urlsplit(r.url).path.endswith("/jupyter-assist/warm") and (r.request.post_data_json or {}).get("task") == "edit"

    # Opening the instruction prefills the cell's edit prompt while it is typed.
    with page.expect_response(edit_warm) as warm:
        prompt = open_edit_prompt(page, cell)
    assert warm.value.status == 200 and warm.value.json()["prompt_tokens"] > 0
    assert warm.value.request.post_data_json["cell_index"] == CELL
    prompt.fill(instruction)
    shot(page, f"{name}-instruction")
    before = len(lab_server.history("edit"))
    with page.expect_response(lambda r: urlsplit(r.url).path.endswith("/jupyter-assist/edit")) as info:
        prompt.press("Enter")
    assert info.value.status == 200
    body = info.value.request.post_data_json
    # The request carries exactly what the review compares against.
    assert body["source"] == ORIGINAL and body["instruction"] == instruction and body["cell_index"] == CELL
    review = cell.locator('.jp-assist-review[data-task="edit"]')
    expect(review).to_have_count(1)
    expect(cell.locator(".jp-assist-edit-input")).to_have_count(0)
    return review, before


def _instruction(page: Page, source: str, instruction: str) -> tuple[Locator, Locator]:
    """Put `source` in the cell and `instruction` in its Accel+K box, not sent yet: the
    cell and the box."""
    _set_source(page, source)
    cell = _cell(page)
    prompt = open_edit_prompt(page, cell)
    prompt.fill(instruction)
    return cell, prompt


def _reject(page: Page, review: Locator, want: str) -> None:
    """Reject: the review goes, and the cell holds `want` byte for byte."""
    review.locator(".jp-assist-review-reject").click()
    expect(review).to_have_count(0)
    assert _source(page) == want


def _finished_edit(lab_server: LabServer, before: int, instruction: str) -> dict[str, Any]:
    entries = wait_for(lambda: lab_server.history("edit")[before:], 60, "the edit request in /jupyter-assist/history")
    entry = entries[-1]
    assert entry["finish_reason"] != "cancelled", entry
    assert instruction in entry["prompt"], entry["prompt"]
    return entry


def _expect_diff_shown(review: Locator) -> None:
    expect(review).to_have_attribute("data-state", "ready", timeout=60_000)
    # The merge view marks the proposal's lines and shows the original's removed ones.
    changed = review.locator(".cm-changedLine, .cm-deletedChunk")
    expect(changed.first).to_be_visible()
    expect(review.locator(".jp-assist-review-stats")).to_contain_text("change")


def test_edit_reject_restores_original_exactly(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    review, before = _start_edit(page, lab_server, "add a docstring", "test_edit_reject")
    # Never in the model while reviewing (autosave, collaborators).
    assert _source(page) == ORIGINAL
    expect(_cell(page).locator(".jp-InputArea-editor")).to_be_hidden()
    _expect_diff_shown(review)
    entry = _finished_edit(lab_server, before, "add a docstring")
    assert entry["text"] != ORIGINAL, "the model proposed no change: nothing to review"
    assert _source(page) == ORIGINAL
    shot(page, "test_edit_reject-diff")

    review.locator(".jp-assist-review-reject").click()
    expect(review).to_have_count(0)
    expect(_cell(page).locator(".jp-InputArea-editor")).to_be_visible()
    assert _source(page) == ORIGINAL  # byte for byte: spaces, tab, unicode, no final newline
    shot(page, "test_edit_reject-after")


def test_edit_accept_then_one_undo(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    page.evaluate(RECORD_STATES_JS)
    review, before = _start_edit(page, lab_server, "add a docstring", "test_edit_accept")
    _expect_diff_shown(review)
    assert page.evaluate("() => window.__reviewStates") == ["streaming", "ready"]
    entry = _finished_edit(lab_server, before, "add a docstring")
    proposal = entry["text"]
    assert proposal != ORIGINAL
    accept = review.locator(".jp-assist-review-accept")
    expect(accept).to_be_enabled()
    shot(page, "test_edit_accept-diff")

    count_before = page.evaluate(EXECUTION_COUNT_JS, CELL)
    # Accept with the keyboard (Accel+Enter also runs a cell in JupyterLab: the review
    # must take it first). Telemetry is reported (the server drops it when off).
    review.locator(".cm-content").focus()
    with page.expect_request(
        lambda r: urlsplit(r.url).path.endswith("/jupyter-assist/telemetry") and (r.post_data_json or {}).get("event") == "accepted"
    ) as telemetry:
        page.keyboard.press("ControlOrMeta+Enter")
    event = telemetry.value.post_data_json
    assert event["task"] == "edit" and event["chars"] == len(proposal)
    expect(review).to_have_count(0)
    assert _source(page) == proposal
    assert page.evaluate(EXECUTION_COUNT_JS, CELL) == count_before, "accepting ran the cell"
    shot(page, "test_edit_accept-accepted")

    # Focus is back in the cell editor; one undo there restores the old text exactly.
    editor = _cell(page).locator(".jp-InputArea-editor .cm-content")
    expect(editor).to_be_focused()
    page.keyboard.press("ControlOrMeta+z")
    wait_for(lambda: _source(page) == ORIGINAL, 10, f"one undo to restore the original (now {_source(page)!r})")
    shot(page, "test_edit_accept-undone")


def test_edit_conflict_never_overwrites(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    review, before = _start_edit(page, lab_server, "rename x to count", "test_edit_conflict")
    # Someone (a collaborator, the kernel, another extension) changes the cell meanwhile.
    users = ORIGINAL + "\nprint(y)"
    page.evaluate(SET_SOURCE_JS, [CELL, users])
    conflict = review.locator(".jp-assist-review-conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("nothing was overwritten")
    _expect_diff_shown(review)
    entry = _finished_edit(lab_server, before, "rename x to count")
    accept = review.locator(".jp-assist-review-accept")
    expect(accept).to_be_disabled()
    # The keyboard accept is refused too.
    review.locator(".cm-content").focus()
    page.keyboard.press("ControlOrMeta+Enter")
    expect(review).to_have_count(1)
    expect(conflict).to_be_visible()
    assert _source(page) == users and _source(page) != entry["text"]
    shot(page, "test_edit_conflict-conflict")

    _reject(page, review, users)


def test_fix_button_on_error_opens_review(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    failing = "d = {'a': 1}\nd['missing']"
    _set_source(page, failing)
    cell = _cell(page)
    cell.locator(".jp-InputArea-editor .cm-content").click()
    # Run in place with the kernel (no new cell below: other tests expect three cells).
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    error = cell.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    expect(error).to_contain_text("KeyError", timeout=90_000)
    button = cell.locator(".jp-assist-fix-button")
    expect(button).to_be_visible()
    expect(page.locator(".jp-assist-fix-button")).to_have_count(1)  # only on the failing cell
    shot(page, "test_fix-button")

    before = len(lab_server.history("fix"))
    with page.expect_response(lambda r: urlsplit(r.url).path.endswith("/jupyter-assist/fix")) as info:
        button.click()
    assert info.value.status == 200
    body = info.value.request.post_data_json
    assert body["cell_index"] == CELL and body["cells"][CELL]["source"] == failing
    assert any(o.get("output_type") == "error" for o in body["cells"][CELL]["outputs"])
    review = cell.locator('.jp-assist-review[data-task="fix"]')
    expect(review).to_have_count(1)
    expect(review.locator(".jp-assist-review-label")).to_contain_text("KeyError")
    expect(review).to_have_attribute("data-state", "ready", timeout=60_000)
    entries = wait_for(lambda: lab_server.history("fix")[before:], 60, "the fix request in history")
    assert entries[-1]["finish_reason"] != "cancelled"
    shot(page, "test_fix-review")

    _reject(page, review, failing)
    # The button goes with the error.
    page.evaluate("(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.outputs.clear()", CELL)
    expect(button).to_have_count(0)


def test_edit_error_is_shown_and_cell_untouched(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    # Too long for the tiny model's context window: the server refuses it (400) with a
    # message before any text is generated.
    big = "".join(f"value_{i} = {i} * 2  # a long line of arithmetic\n" for i in range(3000))
    cell, prompt = _instruction(page, big, "add a docstring")
    with page.expect_response(lambda r: urlsplit(r.url).path.endswith("/jupyter-assist/edit")) as info:
        prompt.press("Enter")
    response = info.value
    assert 400 <= response.status < 600
    message = response.json()["error"]
    review = cell.locator('.jp-assist-review[data-task="edit"]')
    expect(review).to_have_attribute("data-state", "error", timeout=30_000)
    error = review.locator(".jp-assist-review-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(message)
    expect(error).to_contain_text("The cell was not changed")
    expect(review.locator(".jp-assist-review-accept")).to_be_disabled()
    shot(page, "test_edit_error-shown")
    _reject(page, review, big)


def test_hunk_buttons_decide_each_change(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    review, before = _start_edit(page, lab_server, "add a docstring", "test_hunks")
    _expect_diff_shown(review)
    proposal = _finished_edit(lab_server, before, "add a docstring")["text"]
    hunk_accept = review.locator(".jp-assist-review-hunk-accept")
    expect(hunk_accept.first).to_be_visible()
    shot(page, "test_hunks-diff")
    # Accepting every hunk one by one is Accept all: the review closes by itself once
    # nothing is left to decide, and the cell holds the proposal.
    _decide_every_hunk(review, hunk_accept)
    assert _source(page) == proposal

    # Rejecting every hunk one by one leaves the cell as it was, byte for byte.
    review, before = _start_edit(page, lab_server, "add a docstring", "test_hunks-again")
    _expect_diff_shown(review)
    hunk_reject = review.locator(".jp-assist-review-hunk-reject")
    _decide_every_hunk(review, hunk_reject)
    assert _source(page) == ORIGINAL


def _decide_every_hunk(review: Locator, buttons: Locator) -> None:
    """Click the first of `buttons` (each hunk's accept, or each one's reject) until the
    review closes by itself, nothing being left to decide."""
    for _ in range(50):
        if review.count() == 0:
            break
        left = buttons.count()
        buttons.first.click()
        # The decided hunk's buttons go (the cell is short: every hunk is on screen).
        wait_for(lambda: review.count() == 0 or buttons.count() < left, 10, "the hunk to be decided")
    expect(review).to_have_count(0)


def _stop_outcome(lab_server: LabServer, request_id: str, cancelled_before: int) -> Any:
    """ "cancelled" once the engine counted a cancellation, the history entry of
    `request_id` if it finished otherwise, else None (not settled yet)."""
    if lab_server.api("status")["cancelled"] > cancelled_before:
        return "cancelled"
    served = [e for e in lab_server.history("edit") if e["request_id"] == request_id]
    return next((e for e in served if e["finish_reason"] != "cancelled"), None)


def test_stop_cancels_the_request(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    # A longer cell: a larger answer budget (2x its tokens + 64), so the generation is
    # still running when Stop is pressed.
    long_cell = "".join(f"total_{i} = sum(range({i}))  # running totals\n" for i in range(40))
    cell, prompt = _instruction(page, long_cell, "add comments")

    def sample(route: Any) -> None:
        # Sampled, so the random-weight model writes on instead of closing the fence early
        # (greedy may end in a few tokens, before Stop can land).
        body = json.loads(route.request.post_data or "{}")
        body["temperature"] = 1.5
        route.continue_(post_data=json.dumps(body))

    page.route(lambda url: urlsplit(url).path.endswith("/jupyter-assist/edit"), sample)
    review = cell.locator('.jp-assist-review[data-task="edit"]')
    stop = review.locator(".jp-assist-review-stop")
    # A sampled answer may still end before Stop lands: try a few instructions.
    for attempt, instruction in enumerate(("add comments", "add type hints", "use f-strings")):
        if attempt:
            review.locator(".jp-assist-review-reject").click()
            expect(review).to_have_count(0)
            open_edit_prompt(page, cell).fill(instruction)
        with page.expect_request(lambda r: urlsplit(r.url).path.endswith("/jupyter-assist/edit")) as info:
            prompt.press("Enter")
        request_id = info.value.post_data_json["request_id"]
        cancelled_before = lab_server.api("status")["cancelled"]
        expect(review).to_be_visible()
        # Press Stop as soon as the first text is shown, in the same tick (a Playwright
        # click could come after the tiny model has finished).
        stopped_at = page.evaluate(STOP_AT_FIRST_TEXT_JS)
        if stopped_at is False:
            continue  # the whole answer arrived before any text was shown
        assert not isinstance(stopped_at, str), stopped_at  # says what was wrong while streaming
        shot(page, "test_stop-stopped-early")
        expect(review).to_have_attribute("data-state", "ready")
        expect(stop).to_be_hidden()
        expect(review.locator(".jp-assist-review-message")).to_contain_text("Stopped")
        # The engine stopped it, or it had finished before Stop was pressed (the last
        # bytes still in flight): then try again. (A request whose connection closed
        # mid-stream may not reach /history, so count the engine's cancellations.)
        outcome = wait_for(lambda: _stop_outcome(lab_server, request_id, cancelled_before), 30, "the engine to cancel the edit")
        if outcome == "cancelled":
            break
        assert outcome["finished_at"] <= stopped_at + 0.25, f"ran on after Stop: {outcome}"
    else:
        pytest.fail("every generation ended before Stop could land")

    served = [e for e in lab_server.history("edit") if e["request_id"] == request_id]
    assert all(e["finish_reason"] == "cancelled" for e in served), served
    shot(page, "test_stop-stopped")
    _reject(page, review, long_cell)
