"""Discoverable and actionable (issue 18): every Assistant command in the menu and the
palette, the status item says ready and opens the status panel, and the panel's picker
switches between two installed tiny models, both ways."""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import LabServer, shot, wait_for
from .pages import ask_edit

pytestmark = pytest.mark.browser

# Every feature's command label (labextension/src/commands.ts, review/edit.ts, chat/chatPlugin.ts).
LABELS = [
    "Edit Cell with Assistant…",
    "Explain Cell in Chat",
    "Fix Error with Assistant",
    "Open Assistant Chat",
    "Show Assistant Context",
    "Ghost Text Completions",
    "Next Edit Suggestions",
    "Assistant Status and Model",
    "Assistant Settings",
]


@pytest.fixture(scope="module")
def second_model(lab_server: LabServer, tiny_model_dir: Path) -> str:
    """A second tiny model installed in the server's model cache, as `jupyter assist
    models install` leaves one (a folder with config.json)."""
    dest = lab_server.root_dir.parent / "cache" / "tiny-b"
    if not dest.exists():
        shutil.copytree(tiny_model_dir, dest)
    return "tiny-b"


def test_every_command_in_menu_and_palette(lab_page: Page) -> None:
    page = lab_page
    page.locator(".lm-MenuBar-item", has_text="Assistant").click()
    menu = page.locator(".lm-Menu").last
    expect(menu).to_be_visible()
    for label in LABELS:
        expect(menu.locator(".lm-Menu-itemLabel", has_text=label)).to_have_count(1)
    shot(page, "assistant_menu")
    page.keyboard.press("Escape")

    page.keyboard.press("Control+Shift+C")  # JupyterLab's command palette
    search = page.locator(".lm-CommandPalette-input")
    expect(search).to_be_visible()
    search.fill("Assistant")
    palette = page.locator(".lm-CommandPalette-content")
    for label in LABELS:
        expect(palette.locator(".lm-CommandPalette-itemLabel", has_text=label)).to_have_count(1)
    shot(page, "assistant_palette")
    page.keyboard.press("Escape")


def test_open_chat_shortcut_and_explain(lab_page: Page) -> None:
    page = lab_page
    page.locator(".jp-Notebook .jp-CodeCell").first.click()  # the cell with an output
    page.keyboard.press("Escape")  # command mode
    page.keyboard.press("Alt+Shift+C")  # declared in schema/settings.json
    chat = page.locator("#jupyter-assist-chat")
    expect(chat).to_be_visible()
    page.locator(".jp-Notebook .jp-CodeCell").first.click()
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-assist:explain-cell')")
    expect(chat).to_contain_text("Explain what the active cell does")
    shot(page, "assistant_explain_cell")


def _stored_settings(lab_server: LabServer) -> dict[str, Any]:
    """The user's Jupyter Assist settings as JupyterLab stored them (parsed by its API)."""
    req = urllib.request.Request(
        f"{lab_server.base_url}lab/api/settings/jupyter-assist:settings",
        headers={"Authorization": f"token {lab_server.token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["settings"]


def test_toggle_ghost_text_writes_the_setting(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    settings = lab_server.root_dir.parent / "settings" / "jupyter-assist" / "settings.jupyterlab-settings"
    original = settings.read_text()
    toggled = "() => window.jupyterapp.commands.isToggled('jupyter-assist:toggle-ghost-text')"
    try:
        # On once the settings page loaded (it loads while the notebook opens).
        wait_for(lambda: page.evaluate(toggled) is True, 10, "ghost text on")
        page.evaluate("() => window.jupyterapp.commands.execute('jupyter-assist:toggle-ghost-text')")
        wait_for(lambda: page.evaluate(toggled) is False, 10, "ghost text toggled off")
        stored = wait_for(lambda: _stored_settings(lab_server).get("ghostText"), 10, "the stored setting")
        assert stored["enabled"] is False
        assert stored["survivalDelay"] == 2  # the rest of the section kept
    finally:
        settings.write_text(original)


def test_status_panel_and_switch_both_ways(lab_page: Page, lab_server: LabServer, second_model: str) -> None:
    page = lab_page
    first = lab_server.api("status")["model"]
    item = page.locator(".jp-assist-status")
    expect(item).to_have_attribute("data-state", "ready", timeout=30_000)
    expect(item).to_contain_text("ready")
    item.click()
    panel = page.locator(".jp-assist-status-panel")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-state", "ready")
    expect(panel.locator(".jp-assist-status-summary")).to_have_text(f"Ready: {first}")
    for fact in ("model", "device", "dtype", "memory", "queue", "cache"):
        expect(panel.locator(f"dd[data-fact='{fact}']")).not_to_be_empty()
    expect(panel.locator("dd[data-fact='model']")).to_have_text(first)
    expect(panel.locator(".jp-assist-status-summary")).to_have_attribute("aria-live", "polite")
    expect(panel.get_by_label("Model", exact=True)).to_be_visible()  # the picker is labelled
    shot(page, "assistant_status_panel_ready")

    select = panel.locator("select.jp-assist-model-select")
    for target, shown in ((second_model, second_model), (str(lab_server_model(lab_server)), first)):
        wait_for(lambda t=target: select.locator(f"option[value='{t}']").count() == 1, 10, f"{target} listed")
        select.select_option(target)
        panel.locator("button.jp-assist-model-switch").click()
        # The server switched (or is switching) at once; the panel follows to ready.
        wait_for(lambda s=shown: lab_server.api("status")["model"] == s, 30, f"server serving {shown}")
        expect(panel).to_have_attribute("data-model", shown, timeout=30_000)
        expect(panel).to_have_attribute("data-state", "ready", timeout=60_000)
        expect(panel.locator("dd[data-fact='model']")).to_have_text(shown)
        expect(select.locator("option:checked")).to_contain_text("(current)")
        expect(item).to_contain_text(f"ready · {shown}", timeout=30_000)
        shot(page, f"assistant_status_panel_switched_to_{shown.replace('/', '_')[-40:]}")
    assert lab_server.api("status")["model"] == first


def lab_server_model(lab_server: LabServer) -> str:
    """The configured model's name in GET models (its path)."""
    models = lab_server.api("models")["models"]
    return next(m["name"] for m in models if m["name"].startswith("/"))


def test_edit_error_says_what_to_do_and_retry_works(lab_page: Page) -> None:
    """The server unreachable (its edit route aborted, as "Failed to fetch"): the review
    says so, what to do, and Retry gets a proposal once the server answers again."""
    page = lab_page
    edit_route = re.compile(r"/jupyter-assist/edit(\?|$)")
    page.route(edit_route, lambda route: route.abort("connectionrefused"))
    cell = page.locator(".jp-Notebook .jp-CodeCell").first
    review = ask_edit(page, cell, "add a comment")
    expect(review).to_have_attribute("data-state", "error", timeout=30_000)
    error = review.locator(".jp-assist-review-error")
    expect(error.locator("[role='alert']")).to_contain_text("Edit failed: The Jupyter server cannot be reached.")
    expect(error).to_contain_text("Check that jupyter lab is still running")
    expect(error).to_contain_text("The cell was not changed")
    shot(page, "assistant_edit_error_retry")
    page.unroute(edit_route)
    with page.expect_response(lambda r: bool(edit_route.search(r.url))) as answer:
        error.get_by_role("button", name="Retry").click()
    assert answer.value.status == 200
    expect(review).not_to_have_attribute("data-state", "error", timeout=30_000)
    expect(error).to_be_hidden()
    review.locator(".jp-assist-review-reject").click()
    expect(review).to_have_count(0)


def test_settings_page(lab_page: Page) -> None:
    page = lab_page
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-assist:open-settings')")
    editor = page.locator(".jp-SettingsPanel, .jp-SettingsEditor").first
    expect(editor).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Request delay (ms)").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Next edit", exact=True).first).to_be_visible()
    shot(page, "assistant_settings_page")
