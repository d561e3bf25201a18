"""The kernel bridge in a real JupyterLab: `%%assist` -> review widget -> Accept writes a new
cell through the labextension's comm (nothing runs); kernel variables reach requests.

The notebook's python3 kernel runs in this venv with this checkout on PYTHONPATH, and finds
the lab server itself (JPY_PARENT_PID + the runtime dir the lab passes down).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from jupyter_assist.tasks.generate import extract_code

from .conftest import LabServer, shot, wait_for, wait_kernel_idle

pytestmark = pytest.mark.browser

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"

CELLS_JS = """() => {
  const model = window.jupyterapp.shell.currentWidget.content.model;
  const out = [];
  for (let i = 0; i < model.cells.length; i++) {
    const c = model.cells.get(i).toJSON();
    out.push({type: c.cell_type, source: Array.isArray(c.source) ? c.source.join('') : c.source,
              count: c.execution_count ?? null, outputs: (c.outputs || []).length});
  }
  return {cells: out, active: window.jupyterapp.shell.currentWidget.content.activeCellIndex};
}"""

# A silent request, like the labextension's own: it neither counts nor adds names.
KERNEL_JS = """async () => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const reply = await kernel.requestExecute({code: '', silent: true, store_history: false,
    user_expressions: {n: 'get_ipython().execution_count', torch: "'torch' in __import__('sys').modules"}}).done;
  const e = reply.content.user_expressions;
  return {n: e.n.data['text/plain'], torch: e.torch.data['text/plain']};
}"""


def _cells(page: Page) -> dict[str, Any]:
    return page.evaluate(CELLS_JS)


def _run_in_cell(page: Page, index: int, text: str) -> None:
    """Type into cell `index` and run it in place (Ctrl+Enter: no new cell is added)."""
    cell = page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)
    cell.locator(".cm-content").click()
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
    page.keyboard.type(text, delay=10)
    page.keyboard.press("Control+Enter")


def test_assist_widget_accept_inserts_the_code_below(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    before = len(lab_server.history("generate"))
    wait_kernel_idle(page)  # the kernel may still be starting on a loaded box
    _run_in_cell(page, 2, "%load_ext jupyter_assist")
    wait_for(lambda: _cells(page)["cells"][2]["count"] is not None, 120, "%load_ext to run")
    # A new cell below for the magic (IPython refuses a %%magic with an empty body).
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    wait_for(lambda: len(_cells(page)["cells"]) == 4, 10, "a fourth cell")
    _run_in_cell(page, 3, "%%assist write a function\n# that adds two numbers")

    assist_cell = page.locator(f"{NOTEBOOK} .jp-Cell").nth(3)
    widget = assist_cell.locator(".jp-OutputArea .widget-vbox")
    expect(widget).to_contain_text("jupyter-assist generate", timeout=60_000)
    expect(widget).to_contain_text(re.compile(r"generate: (ready|error)"), timeout=180_000)
    entries = wait_for(lambda: lab_server.history("generate")[before:], 30, "the generate request in the history")
    code = extract_code(entries[-1]["text"])
    assert code.strip(), f"the tiny model gave no code for this instruction: {entries[-1]['text']!r}"
    assert "write a function" in entries[-1]["prompt"]
    expect(widget).to_contain_text(": ready")
    shown = widget.locator("pre").first.text_content() or ""
    assert shown == code  # the widget shows exactly what the server generated (escaped, not rendered)
    shot(page, "test_kernel_widget-proposal")
    assert _cells(page)["cells"][3]["count"] == 2
    assert len(_cells(page)["cells"]) == 4  # nothing written before Accept

    accept = widget.locator("button", has_text="Accept")
    expect(accept).to_be_enabled()
    accept.click()
    wait_for(lambda: len(_cells(page)["cells"]) == 5, 30, "the accepted code as a new cell")
    state = _cells(page)
    new = state["cells"][4]
    assert new == {"type": "code", "source": code, "count": None, "outputs": 0}, new
    assert state["active"] == 4
    assert state["cells"][3]["count"] == 2  # the %%assist cell still shows its own run
    expect(widget).to_contain_text("accepted")
    expect(widget).to_contain_text("written to the notebook")
    kernel = page.evaluate(KERNEL_JS)
    assert kernel == {"n": "3", "torch": "False"}  # two cells ran, the accepted code did not
    shot(page, "test_kernel_widget-accepted")


def _warm_body(page: Page, cell: int) -> dict[str, Any]:
    """Focus a cell and return the body of the warm request it triggers (collectNotebook)."""
    page.keyboard.press("Escape")
    with page.expect_request(lambda r: urlsplit(r.url).path.endswith("/jupyter-assist/warm"), timeout=15_000) as info:
        page.locator(f"{NOTEBOOK} .jp-Cell").nth(cell).locator(".cm-content").click()
    return info.value.post_data_json


def test_kernel_variables_reach_requests(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    wait_kernel_idle(page)
    _run_in_cell(page, 2, "df_sales = [1, 2, 3]")
    wait_for(lambda: _cells(page)["cells"][2]["count"] is not None, 120, "the cell to run")

    # The labextension refreshes its cache once the kernel is idle; requests read the cache.
    def variables() -> list[dict[str, Any]] | None:
        got = _warm_body(page, 1).get("variables") or []
        return got if any(v["name"] == "df_sales" for v in got) else None

    got = wait_for(variables, 30, "df_sales in the variables a request sends")
    assert {"name": "df_sales", "type": "list", "summary": "len 3"} in got  # no sample values by default

    tab = page.locator('.jp-SideBar.jp-mod-right li[data-id="jupyter-assist-chat"]')
    tab.click()
    chat = page.locator("#jupyter-assist-chat")
    chat.locator(".jp-assist-chat-input").fill("What is in my data?")
    with page.expect_request(lambda r: urlsplit(r.url).path.endswith("/jupyter-assist/chat")) as info:
        chat.locator(".jp-assist-chat-send").click()
    assert {"name": "df_sales", "type": "list", "summary": "len 3"} in info.value.post_data_json["variables"]
    message = chat.locator('.jp-assist-chat-message[data-role="assistant"]')
    expect(message).not_to_have_class(re.compile(r"\bjp-mod-streaming\b"), timeout=30_000)
    prompt = wait_for(lambda: [e for e in lab_server.history("chat") if "What is in my data?" in e["prompt"]], 30, "the chat request in the history")[
        -1
    ]["prompt"]
    assert "df_sales" in prompt and "len 3" in prompt
    shot(page, "test_kernel_widget-variables")


def _edit_proposal(page: Page, lab_server: LabServer, cell: int, ref: int) -> tuple[Any, str]:
    """Run `%assist --edit REF ...` in cell `cell`; returns its widget and the proposed code."""
    before = len(lab_server.history("edit"))
    _run_in_cell(page, cell, f"%assist --edit {ref} make it a function")
    widget = page.locator(f"{NOTEBOOK} .jp-Cell").nth(cell).locator(".jp-OutputArea .widget-vbox")
    expect(widget).to_contain_text(re.compile(r"edit: (ready|error)"), timeout=180_000)
    entry = wait_for(lambda: lab_server.history("edit")[before:], 30, "the edit request in the history")[-1]
    assert "subtotal = 40 + 2" in entry["prompt"]
    assert entry["text"].strip(), f"the tiny model proposed nothing: {entry['text']!r}"
    expect(widget).to_contain_text(": ready")
    return widget, entry["text"]


def test_edit_accept_replaces_an_unchanged_target_after_a_reload(lab_page: Page, lab_server: LabServer) -> None:
    # This page connected to a kernel that already loaded the extension (earlier tests): the
    # labextension found its comm in comm_info and opened its own.
    page = lab_page
    wait_kernel_idle(page)
    _run_in_cell(page, 2, "subtotal = 40 + 2")
    n = wait_for(lambda: _cells(page)["cells"][2]["count"], 120, "the cell to run")
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    wait_for(lambda: len(_cells(page)["cells"]) == 4, 10, "a fourth cell")
    widget, code = _edit_proposal(page, lab_server, 3, n)
    accept = widget.locator("button", has_text="Accept: replace the cell")
    accept.click()
    wait_for(lambda: _cells(page)["cells"][2]["source"] == code, 30, "the target cell to hold the proposal")
    state = _cells(page)
    # Not run: no stale outputs or execution count.
    assert state["cells"][2] == {"type": "code", "source": code, "count": None, "outputs": 0}
    assert len(state["cells"]) == 4 and state["active"] == 2
    shot(page, "test_kernel_widget-replaced")

    # The user edits the target while a second proposal is open: Accept must not overwrite it.
    page.keyboard.press("Escape")
    page.locator(f"{NOTEBOOK} .jp-Cell").nth(3).click()
    page.keyboard.press("b")
    wait_for(lambda: len(_cells(page)["cells"]) == 5, 10, "a fifth cell")
    widget, code2 = _edit_proposal(page, lab_server, 4, n)
    page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.model.cells.get(2)
                          .sharedModel.setSource('user_text = 1')""")
    widget.locator("button", has_text="Accept").click()
    wait_for(lambda: len(_cells(page)["cells"]) == 6, 30, "the proposal inserted below instead")
    state = _cells(page)
    assert state["cells"][2]["source"] == "user_text = 1"
    assert state["cells"][5] == {"type": "code", "source": code2, "count": None, "outputs": 0}
    expect(page.locator(".jp-toast-container, .Toastify")).to_contain_text("target cell changed", timeout=10_000)
    shot(page, "test_kernel_widget-changed-target")
