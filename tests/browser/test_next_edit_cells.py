"""Next-edit proposals belong to the cells the request was made from, by id: a cell inserted
above while the request is in flight does not get them, and a proposal whose cell is gone
is dropped, never written into whichever cell now has its index.

The next-edit request is held in the browser (Playwright routing) while the notebook
changes, then let through: the server answers for the cells as they were sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from .conftest import LabServer, shot, wait_for
from .pages import NOTEBOOK, PROPOSAL, sources, tab_through_proposals
from .test_next_edit import CALLS, DEF, RENAMED_CALLS, _open, _rename_in_def

pytestmark = pytest.mark.browser

RENAMED_DEF = DEF.replace("load", "read_text")
# A copy of the calls cell (a paste), inserted at index 1: the index the proposals name.
INSERT_COPY_JS = """(source) => {
  const nb = window.jupyterapp.shell.currentWidget.content.model.sharedModel;
  nb.insertCell(1, { cell_type: 'code', source });
}"""
REPLACE_WITH_COPY_JS = """(source) => {
  const nb = window.jupyterapp.shell.currentWidget.content.model.sharedModel;
  nb.transact(() => { nb.deleteCell(1); nb.insertCell(1, { cell_type: 'code', source }); });
}"""


def _rename_held(page: Page, lab_server: LabServer, name: str) -> Route:
    """Open notebook `name`, rename `load` in its def: the next-edit request that follows,
    held (answered by the test); later ones go through."""
    held: list[Route] = []

    def handle(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/jupyter-assist/next-edit*", handle)
    _open(page, lab_server, name)
    _rename_in_def(page)
    # Route handlers run while Playwright is called: poll through the page.
    return wait_for(lambda: page.evaluate("() => true") and held and held[0], 30, "the next-edit request")


def test_cell_inserted_above_during_the_request_does_not_get_its_proposals(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    route = _rename_held(page, lab_server, "next-edit-insert.ipynb")
    body: dict[str, Any] = route.request.post_data_json
    assert [c["source"] for c in body["cells"]] == [RENAMED_DEF, CALLS]  # sent before the insert

    page.evaluate(INSERT_COPY_JS, CALLS)
    wait_for(lambda: sources(page) == [RENAMED_DEF, CALLS, CALLS], 10, "the inserted copy")
    route.continue_()

    cells = page.locator(f"{NOTEBOOK} .jp-CodeCell")
    # The proposals are for the calls cell the request saw, now third; the copy has none.
    expect(cells.nth(2).locator(PROPOSAL)).to_have_count(2, timeout=30_000)
    expect(cells.nth(1).locator(PROPOSAL)).to_have_count(0)
    shot(page, "test_cell_inserted_above_during_the_request_does_not_get_its_proposals-proposed")

    tab_through_proposals(page)  # the two renames (and any valid proposal the model added)
    assert sources(page) == [RENAMED_DEF, CALLS, RENAMED_CALLS]


def test_proposal_whose_cell_was_replaced_during_the_request_is_dropped(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    route = _rename_held(page, lab_server, "next-edit-replace.ipynb")

    # The calls cell is deleted and a new one with the same text takes its index.
    page.evaluate(REPLACE_WITH_COPY_JS, CALLS)
    wait_for(lambda: sources(page) == [RENAMED_DEF, CALLS], 10, "the replaced cell")
    route.continue_()
    response = route.request.response()
    assert response is not None and response.status == 200
    assert response.finished() is None  # the whole answer (renames first, then the model's) is in
    page.evaluate("() => new Promise(requestAnimationFrame)")  # and the page has drawn it

    # Their cell is gone: nothing is shown, and nothing is written.
    expect(page.locator(PROPOSAL)).to_have_count(0)
    page.keyboard.press("Home")
    page.keyboard.press("Tab")  # no proposal pending: Tab indents
    wait_for(lambda: sources(page)[0] == "    " + RENAMED_DEF, 10, "Tab to indent")
    assert sources(page)[1] == CALLS
