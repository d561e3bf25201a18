"""Agent mode in a real JupyterLab with a real kernel, on the scripted model (issue 19): the
agent proposes a cell and waits for Run; the run's error goes back and the fix comes as an
in-cell diff; it runs and finishes. Auto-run off runs nothing without the click; a shell
escape never auto-runs; Stop interrupts a running agent cell; undo removes the agent's
cells one step at a time."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import LabServer, shot, wait_for

pytestmark = pytest.mark.browser
SCRIPTED_MODEL = True

F = "```"
PANEL = "#jupyter-assist-agent"
CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"
AGENT_CELL = ".jp-assist-agent-cell"
SOURCES_JS = "() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells.map(c => c.getSource())"
COUNTS_JS = "() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells.map(c => c.execution_count ?? null)"
FIRST = "Reply with the first action."


def code(src: str, why: str = "") -> str:
    return f" code\n{why}\n{F}python\n{src}\n{F}\n"


def _start(page: Page, goal: str, auto_run: bool = False) -> Any:
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=90_000)
    # Activate, not click: the restored layout may have the panel open already (a click closes it).
    page.evaluate("() => window.jupyterapp.shell.activateById('jupyter-assist-agent')")
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    auto = panel.locator(".jp-assist-agent-autorun")
    assert not auto.is_checked()  # off by default
    if auto_run:
        auto.check()
    panel.locator(".jp-assist-agent-goal").fill(goal)
    panel.locator(".jp-assist-agent-start").click()
    return panel


def _agent_requests(lab_server: LabServer) -> int:
    return len(lab_server.history("agent"))


def test_propose_run_error_fix_as_diff_and_finish(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script(
        [
            {"match": "Step 3 of 10", "answers": [" done\nx is 42"]},
            {"match": "attempt 2 of 3", "answers": [f" edit 4\nDefine x first.\n{F}python\nx = 42\nprint(x)\n{F}\n"]},
            {"match": FIRST, "answers": [code("print(x)", "Print x.")]},
        ]
    )
    before = _agent_requests(lab_server)
    panel = _start(page, "Print x")
    cells = page.locator(CELLS)
    expect(cells).to_have_count(4, timeout=30_000)
    agent_cell = cells.nth(3)
    expect(agent_cell).to_have_class(re.compile(r"\bjp-assist-agent-pending\b"))
    expect(panel).to_have_attribute("data-state", "waiting-run")
    # Auto-run off: the step's request is over and the cell has not run.
    wait_for(lambda: _agent_requests(lab_server) == before + 1, 30, "the first agent request")
    page.wait_for_function("() => document.querySelector('#jupyter-assist-agent').dataset.state === 'waiting-run'")
    assert page.evaluate(COUNTS_JS)[3] is None and agent_cell.locator(".jp-OutputArea-output").count() == 0
    shot(page, "agent-proposed")

    panel.locator(".jp-assist-agent-run").click()
    # The NameError goes back; the fix comes as the usual in-cell review.
    review = agent_cell.locator(".jp-assist-review")
    expect(review).to_be_visible(timeout=30_000)
    last = lab_server.history("agent")[-1]["prompt"]
    assert "NameError" in last and "print(x)" in last
    assert page.evaluate(SOURCES_JS)[3] == "print(x)\n"  # nothing written before Accept
    shot(page, "agent-fix-review")
    review.locator(".jp-assist-review-accept").click()
    expect(panel).to_have_attribute("data-state", "waiting-run", timeout=10_000)
    assert page.evaluate(SOURCES_JS)[3].startswith("x = 42")
    panel.locator(".jp-assist-agent-run").click()
    expect(panel).to_have_attribute("data-state", "done", timeout=30_000)
    expect(agent_cell.locator(".jp-OutputArea-output")).to_contain_text("42")
    expect(panel.locator(".jp-assist-agent-status")).to_have_text("x is 42")
    expect(panel.locator(".jp-assist-agent-card")).to_have_count(3)
    shot(page, "agent-done")


def test_a_shell_escape_never_auto_runs(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([{"match": FIRST, "answers": [code("!echo agent-was-here")]}])
    panel = _start(page, "Echo something", auto_run=True)
    expect(page.locator(CELLS)).to_have_count(4, timeout=30_000)
    expect(panel).to_have_attribute("data-state", "waiting-run", timeout=30_000)
    expect(panel.locator(".jp-assist-agent-status")).to_contain_text("shell command")
    assert page.evaluate(COUNTS_JS)[3] is None
    panel.locator(".jp-assist-agent-stop").click()
    expect(panel).to_have_attribute("data-state", "stopped")


def test_stop_interrupts_a_running_agent_cell(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([{"match": FIRST, "answers": [code("import time\nprint('sleeping', flush=True)\ntime.sleep(600)")]}, {"answers": [" done\nunexpected"]}])
    panel = _start(page, "Sleep", auto_run=True)
    cell = page.locator(CELLS).nth(3)
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text("sleeping", timeout=60_000)
    expect(panel).to_have_attribute("data-state", "running")
    requests = _agent_requests(lab_server)
    panel.locator(".jp-assist-agent-stop").click()
    expect(panel).to_have_attribute("data-state", "stopped")
    expect(cell.locator(".jp-OutputArea")).to_contain_text("KeyboardInterrupt", timeout=30_000)
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=30_000)
    assert _agent_requests(lab_server) == requests  # no step after Stop


def test_undo_removes_the_agents_cells_one_step_at_a_time(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    script([{"match": "Step 2 of 10", "answers": [code("y = 1")]}, {"match": FIRST, "answers": [" markdown\nA note from the agent."]}], delay_ms=100)
    panel = _start(page, "Take notes")
    expect(page.locator(CELLS)).to_have_count(5, timeout=30_000)
    expect(panel).to_have_attribute("data-state", "waiting-run", timeout=30_000)
    assert page.evaluate(SOURCES_JS)[3:] == ["A note from the agent.\n", "y = 1\n"]
    expect(page.locator(AGENT_CELL)).to_have_count(2)
    panel.locator(".jp-assist-agent-stop").click()
    page.locator(CELLS).nth(0).click()  # command mode in the notebook
    page.keyboard.press("Escape")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:undo-cell-action')")
    wait_for(lambda: len(page.evaluate(SOURCES_JS)) == 4, 10, "one undo: the code cell gone")
    assert page.evaluate(SOURCES_JS)[3] == "A note from the agent.\n"
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:undo-cell-action')")
    wait_for(lambda: len(page.evaluate(SOURCES_JS)) == 3, 10, "a second undo: the note gone")
    expect(page.locator(AGENT_CELL)).to_have_count(0)


def test_changed_variables_go_back_and_a_step_shows_its_prompt(lab_page: Page, lab_server: LabServer, script: Any) -> None:
    page = lab_page
    # The second step is answered only when its prompt lists the variable the run changed.
    script(
        [
            {"match": "- agent_total: int", "answers": [" done\nthe total is 42"]},
            {"match": FIRST, "answers": [code("agent_total = 40 + 2\nprint(agent_total)")]},
        ]
    )
    panel = _start(page, "Total", auto_run=True)
    expect(panel).to_have_attribute("data-state", "done", timeout=60_000)
    expect(panel.locator(".jp-assist-agent-status")).to_have_text("the total is 42")
    served = lab_server.history("agent")[-1]["prompt"]
    changed = served.split("Changed variables:\n", 1)[1]
    assert changed.startswith("- agent_total: int"), changed[:200]
    # The done card's Prompt link: the inspector shows the prompt that step was served.
    panel.locator('.jp-assist-agent-card[data-step="2"] .jp-assist-agent-prompt').click()
    shown = page.locator(".jp-assist-inspector-prompt")
    expect(shown).to_be_visible(timeout=30_000)
    assert shown.evaluate("n => n.textContent") == served
    expect(page.locator(".lm-TabBar-tab", has_text="Agent step 2 prompt")).to_have_count(1)
    shot(page, "agent-step-prompt")


def test_the_chat_header_switches_to_the_agent_and_back(lab_page: Page) -> None:
    page = lab_page
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=90_000)
    page.evaluate("() => window.jupyterapp.shell.activateById('jupyter-assist-chat')")
    page.locator("#jupyter-assist-chat .jp-assist-chat-header .jp-assist-chat-agent").click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    expect(panel.locator(".jp-assist-agent-goal")).to_be_focused()
    panel.locator(".jp-assist-agent-chat").click()
    expect(page.locator("#jupyter-assist-chat")).to_be_visible()
    expect(panel).to_be_hidden()
