"""The kernel bridge writes cells only for the user's real Accept click, in a real JupyterLab.

Kernel code can open comms and send anything on them: a cell that opens its own
`jupyter_assist` comm, one that sends on the bridge comm, one that replays a widget's
Accept id (before or after the click), one that makes a script click an Accept button:
none of them may add or change a cell. Each refusal is logged (console warning), which is
what the tests wait for before they look at the notebook.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from jupyter_assist.tasks.generate import extract_code

from .conftest import LabServer, shot, wait_for, wait_kernel_idle
from .test_kernel_widget import NOTEBOOK, _cells

pytestmark = pytest.mark.browser

REFUSED = "jupyter-assist: ignored a kernel request to write cells"

# Put a code cell at `index` and run it (as Ctrl+Enter would); returns the cell's id.
RUN_JS = """async ([index, source]) => {
  const app = window.jupyterapp;
  await app.shell.currentWidget.sessionContext.ready;  // a run asked for earlier can be lost
  const notebook = app.shell.currentWidget.content;
  const cell = notebook.model.sharedModel.insertCell(index, {cell_type: 'code', source});
  notebook.activeCellIndex = index;
  app.commands.execute('notebook:run-cell');
  return cell.getId();
}"""

# The execution count of the cell with this id (null: not run yet).
COUNT_JS = """(id) => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    if (cells.get(i).id === id) return cells.get(i).executionCount ?? null;
  }
  return null;
}"""

# The repr of a Python expression, evaluated by a silent request from this page.
EXPR_JS = """async (expr) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const reply = await kernel.requestExecute({code: '', silent: true, store_history: false,
    user_expressions: {r: expr}}).done;
  return reply.content.user_expressions.r.data?.['text/plain'] ?? null;
}"""
# Whether the kernel's bridge counts this page (the request's session) as a ready frontend.
READY = "get_ipython().magics_manager.registry['AssistMagics'].bridge.ready()"

# A cell that opens its own comm to the labextension's target and asks for an insert
# below itself and a rewrite of itself, with this page's session and made-up ids.
FOREIGN_COMM = """from comm import create_comm
me = get_ipython().kernel.get_parent()
cell, session, src = me["metadata"]["cellId"], me["header"]["session"], In[-1]
c = create_comm(target_name="jupyter_assist", data={"protocol": 1})
c.send({"action": "insert", "cell_id": cell, "code": "planted = 1", "session": session, "accept_id": "ab" * 16})
c.send({"action": "replace", "cell_id": cell, "expected": src, "code": "planted = 2", "session": session,
        "accept_id": "cd" * 16})
print("sent on a foreign comm")"""

# The same on the bridge comm itself: without an id, and with one no button carries.
BRIDGE_NO_CLICK = """bridge = get_ipython().magics_manager.registry["AssistMagics"].bridge
me = get_ipython().kernel.get_parent()
cell, src = me["metadata"]["cellId"], In[-1]
bridge.send({"action": "insert", "cell_id": cell, "code": "planted = 3"})
bridge.send({"action": "replace", "cell_id": cell, "expected": src, "code": "planted = 4", "accept_id": "ef" * 16})
print("sent on the bridge")"""

# An Accept button of the kernel's own making, which the test clicks from a script.
FAKE_BUTTON = """import ipywidgets, secrets
fake_id, fake_clicks = secrets.token_hex(16), []
fake = ipywidgets.Button(description="Accept", _dom_classes=("jp-assist-accept", "jp-assist-accept-" + fake_id))
fake.on_click(fake_clicks.append)
display(fake)"""

FAKE_ID_SEND = """me = get_ipython().kernel.get_parent()
bridge.send({"action": "insert", "cell_id": me["metadata"]["cellId"], "code": "planted = 5", "accept_id": fake_id})
print("sent with the script-clicked id")"""

# Kernel code calling the widget's own accept path with its real id: no click in the page.
REPLAY = """w = get_ipython().magics_manager.registry["AssistMagics"].last_widget
w._on_accept("planted = {n}", w.accept_id)
print("replayed")"""


def _refusals(page: Page) -> list[str]:
    """Every bridge refusal the page logs from now on."""
    seen: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "warning" and REFUSED in msg.text:
            seen.append(msg.text)

    page.on("console", on_console)
    return seen


def _run(page: Page, index: int, source: str) -> None:
    """Run `source` as a new cell at `index`; returns once it finished (its count is set)."""
    cell_id = page.evaluate(RUN_JS, [index, source])
    wait_for(lambda: page.evaluate(COUNT_JS, cell_id) is not None, 120, f"the cell put at {index} to run")


def _bridge_ready(page: Page) -> None:
    wait_for(lambda: page.evaluate(EXPR_JS, READY) == "True", 30, "the kernel bridge's handshake with this page")


def _settled(page: Page, refusals: list[str], n: int, cells: int) -> dict[str, Any]:
    """Wait until `n` refusals were logged or the notebook no longer has `cells` cells."""
    wait_for(lambda: len(refusals) >= n or len(_cells(page)["cells"]) != cells, 30, f"{n} refused bridge writes in the console")
    return _cells(page)


def test_kernel_code_cannot_write_cells_without_an_accept_click(lab_page: Page) -> None:
    page = lab_page
    refusals = _refusals(page)
    wait_kernel_idle(page)  # the kernel may still be starting on a loaded box
    _run(page, 3, "%load_ext jupyter_assist")
    _bridge_ready(page)

    _run(page, 4, FOREIGN_COMM)
    state = _settled(page, refusals, 2, 5)
    assert len(state["cells"]) == 5, state  # no cell inserted below
    assert state["cells"][4]["source"] == FOREIGN_COMM and state["cells"][4]["outputs"] == 1, state  # not rewritten
    assert len(refusals) == 2 and all("not the bridge" in r for r in refusals), refusals

    _run(page, 5, BRIDGE_NO_CLICK)
    state = _settled(page, refusals, 4, 6)
    assert len(state["cells"]) == 6, state
    assert state["cells"][5]["source"] == BRIDGE_NO_CLICK and state["cells"][5]["outputs"] == 1, state
    assert "names no Accept click" in refusals[2] and "no Accept button with its id was clicked" in refusals[3]

    # A click that a script makes (an output can run one) is not the user's.
    _run(page, 6, FAKE_BUTTON)
    fake = page.locator(f"{NOTEBOOK} .jp-Cell").nth(6).locator("button.jp-assist-accept")
    fake.evaluate("button => button.click()")
    wait_for(lambda: page.evaluate(EXPR_JS, "len(fake_clicks)") == "1", 30, "the script's click to reach the widget")
    _run(page, 7, FAKE_ID_SEND)
    state = _settled(page, refusals, 5, 8)
    assert len(state["cells"]) == 8, state
    assert "no Accept button with its id was clicked" in refusals[4]
    expect(page.locator(".jp-toast-container, .Toastify")).to_contain_text("without your Accept", timeout=10_000)
    assert not [c for c in state["cells"] if c["source"].startswith("planted")], state
    shot(page, "test_bridge_trust-refused")


def test_only_the_users_accept_click_writes_and_only_once(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    refusals = _refusals(page)
    # This page attached to the comm of the previous test's kernel (found in comm_info);
    # %reload_ext closes it and opens a new one, which becomes the bridge.
    _run(page, 3, "%reload_ext jupyter_assist")
    _bridge_ready(page)

    before = len(lab_server.history("generate"))
    _run(page, 4, "%%assist write a function\n# that adds two numbers")
    widget = page.locator(f"{NOTEBOOK} .jp-Cell").nth(4).locator(".jp-OutputArea .widget-vbox")
    expect(widget).to_contain_text(re.compile(r"generate: (ready|error)"), timeout=60_000)
    entries = wait_for(lambda: lab_server.history("generate")[before:], 30, "the generate request in the history")
    code = extract_code(entries[-1]["text"])
    assert code.strip(), f"the tiny model gave no code for this instruction: {entries[-1]['text']!r}"
    expect(widget).to_contain_text(": ready")

    # Kernel code sends the widget's own insert, with its real id, before any click.
    _run(page, 5, REPLAY.format(n=6))
    state = _settled(page, refusals, 1, 6)
    assert len(state["cells"]) == 6, state
    assert "no Accept button with its id was clicked" in refusals[0]

    widget.locator("button", has_text="Accept").click()  # the user's click
    wait_for(lambda: len(_cells(page)["cells"]) == 7, 30, "the accepted code as a new cell")
    state = _cells(page)
    assert state["cells"][5] == {"type": "code", "source": code, "count": None, "outputs": 0}, state
    expect(widget).to_contain_text("written to the notebook")

    # The click's id was used up: replaying it writes nothing.
    _run(page, 7, REPLAY.format(n=7))
    state = _settled(page, refusals, 2, 8)
    assert len(state["cells"]) == 8, state
    assert "no Accept button with its id was clicked" in refusals[1]
    assert not [c for c in state["cells"] if c["source"].startswith("planted")], state
    shot(page, "test_bridge_trust-accepted-once")
