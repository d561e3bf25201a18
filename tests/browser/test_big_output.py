"""A notebook holding a 54 MB output still gets completions: the lab sends what the server
keeps of each output (its head and tail), not megabytes a keystroke, so no request meets
the body limit (413).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, Request, Response, expect

from .conftest import LabServer, shot
from .pages import GHOST, NOTEBOOK, new_notebook, type_until_completion, wait_statusbar_idle

pytestmark = pytest.mark.browser

NAME = "big-output.ipynb"
OUTPUT_BYTES = 54_000_000
HEAD, TAIL = "first line of the big output", "last line of the big output"
# Each ends a line and has no brackets (auto-close would leave text after the cursor).
CANDIDATES = ("value = os.sep", "path = os.path.join", "import collections")


def _write(lab_server: LabServer) -> None:
    import nbformat
    from nbformat import v4

    line = "step 😀 done, loss 0.125\n"
    body = line * ((OUTPUT_BYTES - 200) // len(line.encode()))
    big = v4.new_code_cell("import os\nfor step in range(10**6):\n    print(step)", execution_count=1)
    big.outputs = [v4.new_output("stream", name="stdout", text=f"{HEAD}\n{body}{TAIL}\n")]
    # Collapsed, as a user would leave it: chromium cannot lay out 2 million lines here.
    big.metadata["jupyter"] = {"outputs_hidden": True}
    nbformat.write(new_notebook([big, ""]), str(lab_server.root_dir / NAME))
    assert (lab_server.root_dir / NAME).stat().st_size > OUTPUT_BYTES


def test_a_54_mb_output_does_not_stop_completions(lab_page: Page, lab_server: LabServer) -> None:
    page = lab_page
    _write(lab_server)
    sent: list[dict[str, Any]] = []

    def on_request(r: Request) -> None:
        if r.method == "POST" and r.url.split("?")[0].endswith("/jupyter-assist/complete"):
            sent.append({"request": r, "bytes": len(r.post_data_buffer or b"")})

    statuses: dict[Request, int] = {}

    def on_response(r: Response) -> None:
        statuses[r.request] = r.status

    page.on("request", on_request)
    page.on("response", on_response)
    url = f"{lab_server.base_url}lab/workspaces/big-output/tree/{NAME}?reset&token={lab_server.token}"
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    notebook = page.locator(NOTEBOOK)
    expect(notebook.locator(".jp-Cell")).to_have_count(2, timeout=180_000)
    expect(notebook.locator(".jp-OutputPlaceholder")).to_have_count(1, timeout=180_000)
    wait_statusbar_idle(page, 120)

    cell = notebook.locator(".jp-CodeCell").last
    cell.locator(".cm-content").click()
    expect(notebook).to_have_class(re.compile(r"\bjp-mod-editMode\b"))

    def check(entry: dict[str, Any]) -> None:  # the big output was sent and used: its head is in the prompt
        assert HEAD in entry["prompt"] and "import os" in entry["prompt"]

    type_until_completion(page, lab_server, CANDIDATES, timeout_s=60, check=check)
    expect(page.locator(GHOST).first).to_contain_text(re.compile(r"\S"), timeout=30_000)
    shot(page, "test_a_54_mb_output_does_not_stop_completions-ghost")

    assert sent, "no complete request was sent"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(s["request"] not in statuses for s in sent if not s["request"].failure):
        page.wait_for_timeout(100)
    # Every request small (the output alone is 54 MB), none refused.
    assert max(s["bytes"] for s in sent) < 100_000, [s["bytes"] for s in sent]
    answered = [statuses[s["request"]] for s in sent if s["request"] in statuses]
    assert answered and all(code == 200 for code in answered), answered
