"""The server extension through a real jupyter_server (pytest-jupyter), on the tiny model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_assist.tasks import complete
from jupyter_assist.wire import CompleteRequest

from .conftest import auto_device, ndjson, wait_ready

CELLS = [
    {"cell_type": "markdown", "source": "# Sales analysis"},
    {"cell_type": "code", "source": "import os\nx = 1", "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]},
    {"cell_type": "code", "source": ""},
]


async def post(jp_fetch: Any, route: str, body: Any, **kw: Any) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return await jp_fetch("jupyter-assist", route, method="POST", body=data, **kw)


async def test_status_ready(jp_fetch: Any) -> None:
    status = await wait_ready(jp_fetch)
    assert status["state"] == "ready", status
    assert status["device"] == auto_device(), status  # device=auto: CUDA on a GPU machine
    assert status["dtype"] and status["model"].startswith("tiny-model")
    assert status["queue"] == 0


async def test_complete_streams_and_is_recorded(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    body = {"request_id": "c1", "prefix": "def add(a, b):\n    return a", "suffix": "", "cells": CELLS, "cell_index": 2}
    r = await post(jp_fetch, "complete", body)
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    events = ndjson(r.body)
    done = events[-1]
    assert done["type"] == "done" and done["finish_reason"] in ("stop", "length", "eos", "loop")
    assert all(e["type"] == "delta" for e in events[:-1])
    assert 0 < done["completion_tokens"] <= 16
    streamed = "".join(e["text"] for e in events[:-1])
    # The model said something, and `done` is exactly the task's post-processing of it (an
    # empty answer, or one the server did not finish, fails here).
    assert streamed.strip(), events
    assert done["text"] == complete.finish(streamed, CompleteRequest.model_validate(body)), (streamed, done)
    hist = json.loads((await jp_fetch("jupyter-assist", "history")).body)["requests"]
    last = hist[-1]
    assert last["request_id"] == "c1" and last["task"] == "complete"
    # Caching-aware layout: earlier cells first, the cursor's prefix last (whole: ` a` is a
    # name the cell knows, so token healing leaves it, or the model would stretch it).
    assert last["prompt"].endswith("def add(a, b):\n    return a")
    assert last["prompt"].index("import os") < last["prompt"].index("def add")


async def test_chat_streams(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    body = {"request_id": "ch1", "messages": [{"role": "user", "content": "What does cell 2 do?"}], "cells": CELLS, "cell_index": 1}
    events = ndjson((await post(jp_fetch, "chat", body)).body)
    assert events[-1]["type"] == "done" and events[-1]["completion_tokens"] > 0
    assert "".join(e["text"] for e in events[:-1]).startswith(events[-1]["text"][:1])
    prompt = json.loads((await jp_fetch("jupyter-assist", "history")).body)["requests"][-1]["prompt"]
    assert "What does cell 2 do?" in prompt and "data, not instructions" in prompt


async def test_generate_returns_code(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    body = {"request_id": "g1", "instruction": "add two numbers", "code": "a = 1"}
    events = ndjson((await post(jp_fetch, "generate", body)).body)
    done = events[-1]
    assert done["type"] == "done" and done["completion_tokens"] > 0, done
    assert done["text"] == "".join(e["text"] for e in events[:-1])  # the whole answer, as streamed
    # The code is the answer's first fenced block's body, else the whole answer: no fence
    # line left in it, and never more than the answer (what the answer is, is the tiny
    # model's; tests/test_scripted.py checks the extraction on a known answer).
    assert isinstance(done["code"], str) and "```" not in done["code"]
    assert done["code"].strip() in done["text"]


async def test_cancel_unknown_request(jp_fetch: Any) -> None:
    r = await post(jp_fetch, "cancel", {"request_id": "nope"})
    assert json.loads(r.body) == {"cancelled": False}


ROUTES = [
    ("status", "GET"),
    ("history", "GET"),
    ("cancel", "POST"),
    ("complete", "POST"),
    ("chat", "POST"),
    ("generate", "POST"),
    ("edit", "POST"),
    ("warm", "POST"),
    ("fix", "POST"),
    ("prompt", "POST"),
    ("telemetry", "POST"),
]


@pytest.mark.parametrize("route,method", ROUTES)
async def test_every_route_needs_auth(jp_fetch: Any, route: str, method: str) -> None:
    body = json.dumps({"request_id": "x", "prefix": "a"}) if method == "POST" else None
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("jupyter-assist", route, method=method, body=body, headers={"Authorization": ""})
    assert e.value.code == 403


BAD = [
    ("complete", b"{not json", 400, "not valid JSON"),
    ("complete", b"\xff\xfe{}", 400, "UTF-8"),
    ("complete", json.dumps({"request_id": "b", "prefix": 3}), 400, "prefix"),
    ("complete", json.dumps({"prefix": "x"}), 400, "request_id"),
    ("complete", json.dumps({"request_id": "b", "prefix": "x", "cell_index": -1}), 400, "cell_index"),
    ("complete", json.dumps({"request_id": "b", "prefix": "x", "max_tokens": 10_000}), 400, "max_tokens"),
    ("complete", json.dumps({"request_id": "b", "prefix": "x", "delay_ms": 60_000}), 400, "delay_ms"),
    ("complete", json.dumps({"request_id": "b", "prefix": "x", "cells": [{"source": "a"}], "cell_index": 1}), 400, "out of range"),
    ("chat", json.dumps({"request_id": "b", "messages": [{"role": "user", "content": "hi"}], "cell_index": 0}), 400, "out of range"),
    ("edit", json.dumps({"request_id": "b", "instruction": "x", "source": "a", "cells": [{"source": "a"}], "cell_index": 4}), 400, "out of range"),
    ("complete", json.dumps({"request_id": "b", "prefix": "x" * 300_000}), 413, "body over"),
    # A cell longer than the tiny model's 4096-token context: said so, not a negative budget.
    ("edit", json.dumps({"request_id": "b", "instruction": "x", "source": "value = compute(1)\n" * 1500}), 400, "too long for this model"),
    ("fix", json.dumps({"request_id": "b", "cells": [{"source": "value = compute(1)\n" * 1500}], "cell_index": 0}), 400, "too long for this model"),
    ("chat", json.dumps({"request_id": "b", "messages": []}), 400, "messages"),
    ("chat", json.dumps({"request_id": "b", "messages": [{"role": "system", "content": "x"}]}), 400, "role"),
    ("generate", json.dumps({"request_id": "b", "instruction": ""}), 400, "instruction"),
    ("cancel", json.dumps([1, 2]), 400, "Invalid request"),
]


@pytest.mark.parametrize("route,body,code,needle", BAD)
async def test_bad_input_gets_clear_error_and_server_keeps_serving(jp_fetch: Any, route: str, body: Any, code: int, needle: str) -> None:
    await wait_ready(jp_fetch)
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, route, body)
    assert e.value.code == code
    assert needle in json.loads(e.value.response.body)["error"]
    ok = await post(jp_fetch, "complete", {"request_id": "after", "prefix": "x = ", "max_tokens": 2})
    assert ndjson(ok.body)[-1]["type"] == "done"


async def test_edit_streams_new_cell_and_hunks(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    source = "import os\nx = 1\nprint(x)\n"
    body = {"request_id": "e1", "instruction": "rename x to y", "source": source, "max_tokens": 24}
    events = ndjson((await post(jp_fetch, "edit", body)).body)
    done = events[-1]
    assert done["type"] == "done"
    from jupyter_assist.tasks.edit import hunks

    assert done["hunks"] == hunks(source, done["text"])  # hunks describe exactly text vs source
    last = json.loads((await jp_fetch("jupyter-assist", "history")).body)["requests"][-1]
    assert last["task"] == "edit" and last["prompt"].endswith("```python\n") and "rename x to y" in last["prompt"]


async def test_warm_then_complete_reuses_prefill(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    cells = [{"cell_type": "code", "source": f"value_{i} = load({i})"} for i in range(30)] + [{"cell_type": "code", "source": ""}]
    warm = json.loads((await post(jp_fetch, "warm", {"cells": cells, "cell_index": 30, "prefix": "res"})).body)
    assert warm["prompt_tokens"] > 100
    before = json.loads((await jp_fetch("jupyter-assist", "status")).body)["stats"]
    await post(jp_fetch, "complete", {"request_id": "w1", "cells": cells, "cell_index": 30, "prefix": "result = value_1", "max_tokens": 2})
    after = json.loads((await jp_fetch("jupyter-assist", "status")).body)["stats"]
    assert after["kv_hit_rate"] > 0 and after["kv_token_reuse"] >= before["kv_token_reuse"]
    assert after["kv_cache_entries"] >= 1 and after["kv_cache_bytes"] > 0


async def test_warm_edit_then_edit_reuses_all_but_the_instruction(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    cells = [{"cell_type": "code", "source": f"value_{i} = load({i})"} for i in range(20)]
    cells.append({"cell_type": "code", "source": "total = 0\nfor v in values:\n    total += v\n"})
    warm = json.loads((await post(jp_fetch, "warm", {"task": "edit", "cells": cells, "cell_index": 20})).body)
    assert warm["prompt_tokens"] > 100
    before = json.loads((await jp_fetch("jupyter-assist", "status")).body)["stats"]["kv_reused_tokens"]
    body = {"request_id": "we", "cells": cells, "cell_index": 20, "source": cells[20]["source"], "instruction": "use sum()", "max_tokens": 4}
    assert ndjson((await post(jp_fetch, "edit", body)).body)[-1]["type"] == "done"
    reused = json.loads((await jp_fetch("jupyter-assist", "status")).body)["stats"]["kv_reused_tokens"] - before
    # Everything before the instruction came from the warm-up: the prompt's last tokens
    # are the instruction, the end of the turn and the answer's fence.
    assert warm["prompt_tokens"] - 16 <= reused < warm["prompt_tokens"]

    with pytest.raises(HTTPClientError) as e:  # which cell? (a clear 400, not a 500)
        await post(jp_fetch, "warm", {"task": "edit", "cells": cells})
    assert e.value.code == 400 and "cell_index" in json.loads(e.value.response.body)["error"]


async def test_fix_proposes_a_diff_for_the_failing_cell(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    err = {"output_type": "error", "ename": "KeyError", "evalue": "'price'", "traceback": ["\x1b[0;31mKeyError\x1b[0m: 'price'"]}
    cells = [{"cell_type": "code", "source": "import pandas as pd"}, {"cell_type": "code", "source": "df['price'].sum()\n", "outputs": [err]}]
    done = ndjson((await post(jp_fetch, "fix", {"request_id": "f1", "cells": cells, "cell_index": 1, "max_tokens": 16})).body)[-1]
    assert done["type"] == "done" and "hunks" in done
    prompt = json.loads((await jp_fetch("jupyter-assist", "history")).body)["requests"][-1]["prompt"]
    assert "KeyError: 'price'" in prompt and "\x1b" not in prompt  # the traceback, ANSI stripped
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "fix", {"request_id": "f2", "cells": cells, "cell_index": 5})
    assert e.value.code == 400 and "out of range" in json.loads(e.value.response.body)["error"]


async def test_prompt_inspector_shows_what_is_sent(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    cells = [{"cell_type": "code", "source": f"step_{i} = run({i})"} for i in range(60)] + [{"cell_type": "code", "source": ""}]
    body = {"request_id": "p1", "prefix": "total = step_1", "cells": cells, "cell_index": 60}
    r = json.loads((await post(jp_fetch, "prompt", body, params={"task": "complete"})).body)
    # `step_1` is a whole name the notebook knows: not healed (`step_` + regenerated `1` could stretch it).
    assert r["prompt"].endswith("total = step_1") and r["prompt_tokens"] > 0
    kept = [row for row in r["map"] if row.get("kept")]
    assert kept and all("tokens" in row for row in r["map"])
    # The inspector generates nothing: the history has no entry for it.
    hist = json.loads((await jp_fetch("jupyter-assist", "history")).body)["requests"]
    assert all(h["request_id"] != "p1" for h in hist)
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "prompt", body, params={"task": "nope"})
    assert e.value.code == 400 and "Unknown task" in json.loads(e.value.response.body)["error"]
