"""Explain Cell asks the chat through its public `ask` (issue 18): its shortcut (Alt+Shift+E,
settings schema) sends the question with the active cell and its output as context, and
the draft the user was typing in the chat's input box stays there."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import shot, wait_for

pytestmark = pytest.mark.browser

EXPLAIN = "Explain what the active cell does, step by step, and what its output shows."  # commands.ts


def test_explain_shortcut_asks_the_chat_and_keeps_the_draft(lab_page: Page) -> None:
    page = lab_page
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.split("?")[0].endswith("/jupyter-assist/chat") else None)
    page.keyboard.press("Alt+Shift+C")  # open the chat
    chat = page.locator("#jupyter-assist-chat")
    chat_input = chat.locator(".jp-assist-chat-input")
    expect(chat_input).to_be_focused()
    chat_input.fill("a half-typed question")

    code = page.locator(".jp-Notebook .jp-CodeCell").first  # `import os; print(os.sep)`, output `/`
    code.locator(".jp-InputArea-prompt").click()  # the cell active, the notebook in command mode
    expect(page.locator(".jp-Notebook.jp-mod-commandMode")).to_have_count(1)
    page.keyboard.press("Alt+Shift+E")
    expect(chat.locator(".jp-assist-chat-message").filter(has_text=EXPLAIN)).to_have_count(1, timeout=10_000)
    wait_for(lambda: len(sent) == 1, 10, "the chat request")
    body = sent[0]
    assert body["messages"][-1] == {"role": "user", "content": EXPLAIN}
    assert body["cell_index"] == 1 and body.get("include_active_cell", True)
    assert body["cells"][1]["source"] == "import os\nprint(os.sep)"
    assert body["cells"][1]["outputs"][0]["text"] == "/\n"  # the output goes with it
    expect(chat_input).to_have_value("a half-typed question")  # the draft, untouched
    expect(chat.locator(".jp-mod-streaming")).to_have_count(0, timeout=60_000)  # answered
    shot(page, "test_explain_shortcut_asks_the_chat_and_keeps_the_draft-asked")
