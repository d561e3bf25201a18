"""The edit and fix length limits of the settings page (edit.maxTokens, fix.maxTokens: the
requests' max_tokens), through a real jupyter_server on the tiny model: a small limit ends
the rewrite with `length`; one larger than the model's window leaves next to the cell is
clipped to it (it used to be a 400)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import ndjson, wait_ready
from .test_server import post

SOURCE = "import os\nx = 1\nprint(x)\n"
ERROR = {"output_type": "error", "ename": "NameError", "evalue": "name 'y' is not defined", "traceback": ["NameError: name 'y' is not defined"]}
FIX_CELLS = [{"cell_type": "code", "source": "x = 1"}, {"cell_type": "code", "source": "print(y)\n", "outputs": [ERROR]}]


def _body(task: str, max_tokens: int) -> dict[str, Any]:
    if task == "edit":
        return {"request_id": f"{task}-{max_tokens}", "instruction": "rename x to y", "source": SOURCE, "max_tokens": max_tokens}
    return {"request_id": f"{task}-{max_tokens}", "cells": FIX_CELLS, "cell_index": 1, "max_tokens": max_tokens}


@pytest.mark.parametrize("task", ["edit", "fix"])
async def test_a_small_limit_ends_the_rewrite_with_length(jp_fetch: Any, task: str) -> None:
    await wait_ready(jp_fetch)
    done = ndjson((await post(jp_fetch, task, _body(task, 2))).body)[-1]
    assert done["type"] == "done" and done["finish_reason"] == "length", done
    assert done["completion_tokens"] == 2
    # Two tokens reach no whole line: Accept writes the cell as it was, nothing deleted.
    source = SOURCE if task == "edit" else FIX_CELLS[1]["source"]
    assert done["text"] == source and done["hunks"] == [], done


@pytest.mark.parametrize("task", ["edit", "fix"])
async def test_a_huge_limit_is_clipped_to_the_window(jp_fetch: Any, task: str) -> None:
    await wait_ready(jp_fetch)
    from jupyter_assist.tasks.edit import REWRITE_OVERHEAD

    # The prompt inspector builds the request as the task route would (a 400 there too).
    r = await jp_fetch("jupyter-assist", "prompt", method="POST", body=json.dumps(_body(task, 8192)), params={"task": task})
    limit = json.loads(r.body)["max_tokens"]
    # The tiny model's window is 4096 tokens: what it leaves next to the cell (a few
    # tokens), not the 8192 asked for.
    assert 4096 - REWRITE_OVERHEAD - 64 <= limit < 4096 - REWRITE_OVERHEAD, limit
