"""End to end: JupyterLab + the jupyter-assist labextension + server + tiny model, in chromium.

The tiny model has random weights: its text is gibberish, but deterministic (greedy), and
the tests check that what the UI shows is exactly what the server generated.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from .conftest import SCREENSHOTS, LabServer, wait_for
from .pages import ACTIVE_SOURCE_JS, GHOST, INLINE_COMPLETER, open_chat, put_settings, type_until_completion

pytestmark = pytest.mark.browser

NON_SPACE = re.compile(r"\S")

# What the user types in the empty last cell, tried in turn until the (random-weight)
# model answers with visible text: each ends a line and has no brackets (auto-close would
# leave text after the cursor).
CANDIDATES = ("path = os.path.join", "value = os.sep", "import collections")


def _squash(text: str) -> str:
    """Text without whitespace: the ghost's DOM turns newlines into <br>/spans."""
    return re.sub(r"\s+", "", text)


def _printable(text: str) -> str:
    return re.sub(r"[^\x21-\x7e]", "", text)


def _ghost_text(page: Page) -> str:
    return "".join(page.locator(GHOST).all_inner_texts())


def test_status_bar_ready(lab_page: Page, lab_server: LabServer) -> None:
    status = lab_page.locator('.jp-assist-status[data-state="ready"]')
    expect(status).to_be_visible(timeout=30_000)
    expect(status).to_contain_text("Assist:")
    expect(status).to_contain_text(lab_server.api("status")["model"])


def _type_until_completion(page: Page, lab_server: LabServer) -> tuple[str, dict[str, Any]]:
    return type_until_completion(page, lab_server, CANDIDATES)


def test_ghost_text_appears(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    cell = page.locator(".jp-Notebook .jp-CodeCell").last
    cell.locator(".cm-content").click()
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
    typed, entry = _type_until_completion(page, lab_server)
    assert "import os" in entry["prompt"], "earlier cells missing from the prompt"

    ghost = page.locator(GHOST)
    expect(ghost.first).to_contain_text(NON_SPACE, timeout=30_000)
    # Once streaming has ended the ghost shows the server's text (whitespace aside).
    expect(page.locator(".jp-GhostText-streamingIndicator")).to_have_count(0, timeout=30_000)
    shown = wait_for(lambda: _squash(_ghost_text(page)), 10, "non-empty ghost text")
    served = _squash(entry["text"])
    assert served.startswith(shown), f"ghost {shown!r} is not the served completion {served!r}"
    assert len(shown) >= min(len(served), 3), (shown, served)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "test_ghost_text_appears-ghost.png"))

    page.keyboard.press("Tab")
    expect(ghost).to_have_count(0, timeout=10_000)
    source = page.evaluate(ACTIVE_SOURCE_JS)
    assert source == typed + entry["text"], (source, entry["text"])
    # The editor shows it too. Compare printable ASCII only: CodeMirror draws control
    # characters as placeholders and lines as separate elements.
    shown_in_editor = cell.locator(".cm-content").inner_text()
    assert _printable(shown_in_editor) == _printable(typed + entry["text"])


def test_chat_streams(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    question = "How do I list the files in a folder?"
    chat = open_chat(page)
    chat_input = chat.locator(".jp-assist-chat-input")
    chat_input.fill(question)

    # ServerConnection adds a cache-busting query string: match on the path.
    with page.expect_response(lambda r: urlsplit(r.url).path.endswith("/jupyter-assist/chat")) as response_info:
        chat.locator(".jp-assist-chat-send").click()
    response = response_info.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")

    user = chat.locator('.jp-assist-chat-message[data-role="user"]')
    expect(user).to_have_count(1)
    expect(user).to_contain_text(question)
    message = chat.locator('.jp-assist-chat-message[data-role="assistant"]')
    expect(message).to_have_count(1, timeout=30_000)
    expect(message).not_to_have_class(re.compile(r"\bjp-mod-streaming\b"), timeout=30_000)
    expect(chat).not_to_have_class(re.compile(r"\bjp-mod-streaming\b"))
    expect(message).not_to_have_class(re.compile(r"\bjp-mod-error\b"))
    expect(chat.locator(".jp-assist-chat-send")).to_be_enabled()
    expect(chat.locator(".jp-assist-chat-stop")).to_be_disabled()

    shown = message.locator(".jp-assist-chat-text").text_content() or ""
    assert shown.strip(), "empty assistant message"
    chats = lab_server.history("chat")
    assert chats, "no chat request in /jupyter-assist/history"
    latest = chats[-1]
    assert question in latest["prompt"]
    assert latest["finish_reason"] != "cancelled", latest
    assert shown.strip() == latest["text"].strip()
    expect(chat.locator(".jp-assist-chat-context")).to_contain_text(lab_server.notebook)


def test_focusing_a_cell_warms_its_context(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    cell = page.locator(".jp-Notebook .jp-Cell").nth(2)
    warms: list[Any] = []
    page.on("response", lambda r: warms.append(r) if urlsplit(r.url).path.endswith("/jupyter-assist/warm") else None)
    cell.locator(".cm-content").click()
    # The warm request follows focus after a short settle delay. A newer warm supersedes an
    # older one still queued (that one answers 0 tokens): wait for this cell's.

    def warmed() -> Any:
        for r in warms:
            if r.request.post_data_json.get("cell_index") == 2 and r.status == 200 and r.json()["prompt_tokens"] > 0:
                return r
        return None

    deadline = time.monotonic() + 30
    while (response := warmed()) is None:
        assert time.monotonic() < deadline, [(r.status, r.request.post_data_json.get("cell_index"), r.json()) for r in warms]
        page.wait_for_timeout(100)  # lets Playwright deliver the response events
    request = response.request.post_data_json
    assert request["cell_index"] == 2 and "import os" in request["cells"][1]["source"]


def test_typing_along_reuses_the_suggestion_and_reports_telemetry(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    cell = page.locator(".jp-Notebook .jp-CodeCell").last
    cell.locator(".cm-content").click()
    typed, entry = _type_until_completion(page, lab_server)
    expect(page.locator(".jp-GhostText-streamingIndicator")).to_have_count(0, timeout=30_000)
    text = entry["text"]
    wait_for(lambda: _squash(_ghost_text(page)), 10, "non-empty ghost text")
    # Type the suggestion's first character ourselves (skipping leading blanks the ghost
    # renders as spacers): no new request may reach the server, and the ghost keeps the rest.
    lead = len(text) - len(text.lstrip(" "))
    along = text[: lead + 1]
    if along[-1] in "([{'\"":
        pytest.fail(f"suggestion starts with an auto-closed character: {text!r}")  # not the case for the fixture model
    requests = len(lab_server.history("complete"))
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/jupyter-assist/complete" in r.url else None)
    page.keyboard.type(along, delay=30)
    rest = text[len(along) :]
    if rest.strip():
        expect(page.locator(GHOST).first).to_contain_text(NON_SPACE, timeout=5_000)
        assert _squash(rest).startswith(_squash(_ghost_text(page))) and _squash(_ghost_text(page))
    page.wait_for_timeout(1000)  # longer than the request delay: a new request would have gone out by now
    assert sent == [] and len(lab_server.history("complete")) == requests, sent
    page.screenshot(path=str(SCREENSHOTS / "test_typing_along-ghost.png"))

    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE_SOURCE_JS) == typed + text
    rid = entry["request_id"]

    def events() -> list[str]:
        return [e["event"] for e in lab_server.telemetry() if e.get("request_id") == rid]

    # shown on screen, accepted with Tab, still in the cell at the (2 s) survival check.
    wait_for(lambda: "survived" in events(), 15, f"a survived event for {rid} (got {events()})")
    got = {e["event"]: e for e in lab_server.telemetry() if e.get("request_id") == rid}
    assert {"shown", "accepted", "survived"} <= set(got), got
    assert got["shown"]["latency_ms"] > 0 and got["shown"]["task"] == "complete"
    assert got["accepted"]["chars"] == len(rest)
    assert got["survived"]["survived"] is True and got["survived"]["similarity"] == 1
    assert "rejected" not in got


def test_no_completion_requests_in_a_disabled_language(lab_page: Page, lab_server: LabServer) -> None:
    # conftest turns ghost text off for markdown: typing in the markdown cell asks nothing.
    page = lab_page
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/jupyter-assist/complete" in r.url else None)
    cell = page.locator(".jp-Notebook .jp-Cell").first
    cell.dblclick()  # a rendered markdown cell opens its editor on double click
    expect(cell.locator(".cm-content")).to_be_visible()
    cell.locator(".cm-content").click()
    page.keyboard.press("ControlOrMeta+End")
    page.keyboard.type(" Some more words about the data", delay=30)
    page.wait_for_timeout(1500)  # several request delays
    page.screenshot(path=str(SCREENSHOTS / "test_no_completion_requests_in_a_disabled_language.png"))
    assert "more words" in page.evaluate(ACTIVE_SOURCE_JS)
    assert sent == [], sent
    # A code cell still asks (the setting is per language, not a global off switch).
    page.locator(".jp-Notebook .jp-CodeCell").last.locator(".cm-content").click()
    with page.expect_request(lambda r: "/jupyter-assist/complete" in r.url, timeout=15_000):
        page.keyboard.type("value = os.sep", delay=30)


def test_status_bar_warns_when_completions_are_slow(lab_page: Page, lab_server: LabServer) -> None:
    # Slow on purpose: a 1.6 s request delay puts every keystroke-to-text latency over the
    # 1.5 s threshold. Last in the module: it changes the user settings (restored after).
    page = lab_page
    status = page.locator(".jp-assist-status")
    expect(status).to_have_attribute("data-state", "ready", timeout=30_000)
    expect(status).to_have_attribute("data-slow", "false")  # nothing slow seen yet
    settings = lab_server.root_dir.parent / "settings"
    inline_file = settings / "@jupyterlab" / "completer-extension" / "inline-completer.jupyterlab-settings"
    assist_file = settings / "jupyter-assist" / "settings.jupyterlab-settings"
    inline, assist = json.loads(inline_file.read_text()), json.loads(assist_file.read_text())
    provider = inline["providers"]["@jupyter-assist/inline-completer"]
    inline_plugin, assist_plugin = INLINE_COMPLETER, "jupyter-assist:settings"
    # The one request delay is on the Jupyter Assist page; the completer's timeout on JupyterLab's.
    put_settings(lab_server, inline_plugin, {"providers": {"@jupyter-assist/inline-completer": {**provider, "timeout": 10000}}})
    put_settings(lab_server, assist_plugin, {"ghostText": {**assist["ghostText"], "requestDelay": 1600}})
    try:
        page.reload(wait_until="domcontentloaded")
        expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(3, timeout=60_000)
        cell = page.locator(".jp-Notebook .jp-CodeCell").last
        cell.locator(".cm-content").click()
        _type_until_completion(page, lab_server)
        expect(page.locator(GHOST).first).to_contain_text(NON_SPACE, timeout=30_000)
        expect(status).to_have_attribute("data-slow", "true", timeout=10_000)
        expect(status).to_contain_text("slow")
        assert "Completions are slow" in (status.get_attribute("title") or "")
        page.screenshot(path=str(SCREENSHOTS / "test_status_bar_warns_when_completions_are_slow.png"))
    finally:
        put_settings(lab_server, inline_plugin, inline)
        put_settings(lab_server, assist_plugin, assist)
