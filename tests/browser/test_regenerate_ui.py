"""Regenerate samples, in the chat and in the cell review, and the review's follow-up box
refines the proposal in place (issue 18). Real jupyter lab + chromium on the tiny model
(random weights): greedy decoding repeats itself exactly, so a different text after
Regenerate is the sampler's doing (temperature 0.7 and a fresh seed from the client),
checked against what the server generated (`/jupyter-assist/history`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from .conftest import LabServer, shot, wait_for
from .pages import SET_SOURCE_JS, STREAMING, ask_edit, open_chat, wait_statusbar_idle

pytestmark = pytest.mark.browser

CELL = 2
ORIGINAL = "def area(w, h):\n    return w * h"
SOURCE_JS = "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.getSource()"


def _route(name: str) -> Any:
    return lambda r: urlsplit(r.url).path.endswith(f"/jupyter-assist/{name}")


def test_chat_regenerate_samples_another_answer(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    chat = open_chat(page)
    chat.locator(".jp-assist-chat-input").fill("Say something")
    chat.locator(".jp-assist-chat-send").click()
    answers = chat.locator('.jp-assist-chat-message[data-role="assistant"]')
    expect(answers.last).not_to_have_class(STREAMING, timeout=60_000)
    first = lab_server.history("chat")[-1]
    with page.expect_request(_route("chat")) as sent:
        chat.locator(".jp-assist-chat-regenerate").click()
    body = sent.value.post_data_json
    assert body["temperature"] == 0.7 and isinstance(body["seed"], int), body
    assert body["messages"][-1] == {"role": "user", "content": "Say something"}  # the old answer is not resent
    expect(answers).to_have_count(1)  # replaced, not added
    expect(answers.last).not_to_have_class(STREAMING, timeout=60_000)
    second = wait_for(
        lambda: (h := lab_server.history("chat")) and h[-1]["request_id"] != first["request_id"] and h[-1], 30, "the regenerated answer"
    )
    assert second["text"] != first["text"], (first["text"], second["text"])
    expect(answers.last.locator(".jp-assist-chat-regenerate")).to_be_visible()
    shot(page, "chat-regenerated")


def test_review_regenerate_and_follow_up(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    wait_statusbar_idle(page, 90)
    page.evaluate(SET_SOURCE_JS, [CELL, ORIGINAL])
    cell = page.locator(".jp-Notebook .jp-Cell").nth(CELL)
    review = ask_edit(page, cell, "rename w to width")
    expect(review).to_have_attribute("data-state", "ready", timeout=60_000)
    edits = lambda: lab_server.history("edit")  # noqa: E731
    first = wait_for(lambda: edits() and edits()[-1], 30, "the first edit")
    n = len(edits())

    with page.expect_request(_route("edit")) as sent:
        review.locator(".jp-assist-review-regenerate").click()
    body = sent.value.post_data_json
    assert body["temperature"] == 0.7 and isinstance(body["seed"], int) and body["source"] == ORIGINAL
    expect(review).to_have_attribute("data-state", "ready", timeout=60_000)
    regenerated = wait_for(lambda: len(edits()) > n and edits()[-1], 30, "the regenerated edit")
    assert regenerated["text"] != first["text"]  # sampled: another text
    shot(page, "review-regenerated")

    # The follow-up rewrites the proposal shown (the regenerated one), in place.
    box = review.locator(".jp-assist-review-refine-input")
    expect(box).to_be_visible()
    box.fill("also add a docstring")
    with page.expect_request(_route("edit")) as sent:
        box.press("Enter")
    body = sent.value.post_data_json
    proposal = regenerated["text"]
    assert body["instruction"] == "also add a docstring" and body["source"] == proposal
    assert "temperature" not in body  # a follow-up is greedy; Regenerate samples it
    expect(review).to_have_attribute("data-state", "ready", timeout=60_000)
    refined = wait_for(lambda: len(edits()) > n + 1 and edits()[-1], 30, "the refined edit")
    assert "also add a docstring" in refined["prompt"]
    expect(review.locator(".jp-assist-review-message")).to_contain_text("Refined: also add a docstring")
    shot(page, "review-follow-up")

    accept = review.locator(".jp-assist-review-accept")
    if accept.is_enabled():  # the tiny model may propose the cell unchanged
        accept.click()
        expect(review).to_have_count(0)
        want = refined["text"]
        wait_for(lambda: page.evaluate(SOURCE_JS, CELL) == want, 10, "the refined proposal in the cell")
    else:
        review.locator(".jp-assist-review-reject").click()
