"""The chat renders answers as markdown, keeps threads across reloads and says when an
answer was cut off (issue 18). Real jupyter lab + chromium on the scripted model (the
answers are this module's), so what the model "wrote" is known exactly.

Rendering goes through JupyterLab's rendermime with its sanitizer: an answer holding an
`<img onerror=...>` must run nothing. Threads live in JupyterLab's state database (saved
with the workspace on the server), so a reload finds them.
"""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import LabServer, shot, wait_for
from .pages import ask_chat, new_chat, open_chat, sources

pytestmark = pytest.mark.browser
SCRIPTED_MODEL = True
LAB_ARGS = ["--AssistExtension.chat_max_tokens=120"]

LONG_LINE = "values = [" + ", ".join(str(i * 1000) for i in range(40)) + "]"
MARKDOWN = (
    "Here is **bold advice**:\n\n"
    "- first item\n"
    "- second item\n\n"
    "```python\n"
    f"total = sum(range(10))\n{LONG_LINE}\n"
    "```\n\n"
    'Done. <img src="x" onerror="window.__assistXss = 1"> end.'
)
CODE = f"total = sum(range(10))\n{LONG_LINE}"
CUT = "Start:\n```python\n" + "\n".join(f"step_{i} = compute({i}, factor={i * 3})" for i in range(60)) + "\n```\n"


def test_markdown_renders_and_untrusted_html_runs_nothing(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([{"match": "render markdown", "answers": [MARKDOWN]}])
    chat = open_chat(page, new=True)
    answer = ask_chat(chat, "Please render markdown")
    assert lab_server.history("chat")[-1]["finish_reason"] == "eos"  # whole, not cut off
    expect(answer.locator("strong")).to_have_text("bold advice")
    expect(answer.locator("li")).to_have_text(["first item", "second item"])
    block = answer.locator(".jp-assist-chat-code")
    expect(block).to_have_count(1)
    pre = block.locator("pre")
    expect(pre).to_have_text(CODE)
    # Highlighted as in the editor: CodeMirror's highlight classes on the tokens.
    assert block.locator("pre code span[class]").count() >= 3
    # The long line scrolls sideways inside the narrow panel, it is not clipped.
    box = pre.evaluate("p => ({scroll: p.scrollWidth, client: p.clientWidth, overflow: getComputedStyle(p).overflowX})")
    assert box["scroll"] > box["client"] and box["overflow"] == "auto", box
    # The sanitizer kept the image (it is allowed) but dropped its handler; nothing ran.
    img = answer.locator("img")
    expect(img).to_have_count(1)
    wait_for(lambda: img.evaluate("i => i.complete"), 10, "the image load to fail")
    assert img.get_attribute("onerror") is None
    assert page.evaluate("window.__assistXss") is None
    expect(answer.locator(".jp-assist-chat-cutoff")).to_have_count(0)
    shot(page, "chat-markdown-rendered")

    copy = block.locator(".jp-assist-chat-copy")
    copy.click()
    expect(copy).to_have_text("Copied")  # says it worked...
    expect(copy).to_have_text("Copy", timeout=5000)  # ...then is ready again


def test_a_thread_survives_a_reload(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([{"match": "remember me", "answers": ["I will **remember** this."]}])
    chat = open_chat(page, new=True)
    ask_chat(chat, "Please remember me across reloads")

    def saved() -> bool:  # the state database writes the workspace after a short debounce
        req = urllib.request.Request(f"{lab_server.base_url}lab/api/workspaces", headers={"Authorization": f"token {lab_server.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return "Please remember me across reloads" in r.read().decode()

    wait_for(saved, 20, "the thread saved with the workspace")
    page.reload(wait_until="domcontentloaded")
    expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")).to_have_count(3, timeout=60_000)
    chat = open_chat(page)
    asked = chat.locator('.jp-assist-chat-message[data-role="user"] .jp-assist-chat-text')
    expect(asked).to_have_text(["Please remember me across reloads"], timeout=20_000)
    answer = chat.locator('.jp-assist-chat-message[data-role="assistant"]')
    expect(answer.locator("strong")).to_have_text("remember")  # rendered again, from the store
    shot(page, "chat-thread-after-reload")

    # The history sent on: the restored thread is the conversation.
    script([{"match": "and then", "answers": ["Then more."]}])
    ask_chat(chat, "and then?")
    prompt = lab_server.history("chat")[-1]["prompt"]
    assert "Please remember me across reloads" in prompt and "I will **remember** this." in prompt

    # New chat keeps the old thread in the list; picking it shows it again.
    new_chat(chat)
    threads = chat.locator(".jp-assist-chat-threads")
    titles = threads.locator("option").all_text_contents()
    assert any(t.startswith("Please remember me") for t in titles), titles
    old = threads.locator("option", has_text="Please remember me").get_attribute("value")
    threads.select_option(old)
    expect(asked).to_have_text(["Please remember me across reloads", "and then?"])
    shot(page, "chat-thread-list")


def test_a_cut_off_answer_says_so_and_keeps_its_code_actions(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([{"match": "long code", "answers": [CUT]}])
    chat = open_chat(page, new=True)
    answer = ask_chat(chat, "Write long code")
    entry = lab_server.history("chat")[-1]
    assert entry["finish_reason"] == "length", entry  # the server's cap (LAB_ARGS) cut it
    expect(answer.locator(".jp-assist-chat-cutoff")).to_contain_text("Cut off")
    block = answer.locator('.jp-assist-chat-code[data-closed="false"]')
    expect(block).to_have_count(1)  # the fence never closed...
    insert = block.locator(".jp-assist-chat-insert")
    expect(insert).to_be_visible()  # ...and still has its buttons
    expect(block.locator(".jp-assist-chat-apply")).to_be_visible()
    expect(block.locator(".jp-assist-chat-copy")).to_be_visible()
    shot(page, "chat-cut-off-answer")

    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(1).locator(".cm-content").click()
    insert.click()
    arrived = entry["text"].split("```python\n", 1)[1].rstrip("\n")
    cells = wait_for(lambda: (s := sources(page)) and len(s) == 4 and s, 10, "a fourth cell")
    assert cells[2] == arrived and arrived.startswith("step_0 = compute(0")


def test_a_failed_answer_says_what_to_do_and_retry_asks_again(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([{"match": "retry me", "answers": ["Now it **works**."]}])
    failures = []

    def fail_once(route: Any) -> None:
        if failures:
            route.continue_()
            return
        failures.append(route.request.url)  # the server "is loading": a 503 with its reason
        route.fulfill(status=503, headers={"Content-Type": "application/json"}, body='{"error": "The model is still loading."}')

    page.route(lambda url: url.split("?")[0].endswith("/jupyter-assist/chat"), fail_once)
    chat = open_chat(page, new=True)
    answer = ask_chat(chat, "Please retry me")
    notice = answer.locator(".jp-assist-error")
    expect(notice).to_contain_text("Chat failed: The model is still loading.")
    expect(notice).to_contain_text("Wait until the status bar says ready")
    shot(page, "chat-error-retry")
    notice.locator(".jp-assist-retry").click()
    answers = chat.locator('.jp-assist-chat-message[data-role="assistant"]')
    expect(answers).to_have_count(1)  # the failed answer is replaced
    expect(answers.last.locator("strong")).to_have_text("works", timeout=30_000)
    prompt = lab_server.history("chat")[-1]["prompt"]
    assert prompt.count("Please retry me") == 1  # asked once, not twice
