"""A held completion (`delay_ms`): the client sends it before its debounce ends; the server
builds and prefills the prompt meanwhile and decodes only once the delay is over."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from .conftest import ndjson, wait_ready
from .test_server import post

CELLS = [{"cell_type": "code", "source": f"value_{i} = load({i})"} for i in range(30)] + [{"cell_type": "code", "source": ""}]


def body(request_id: str, **extra: Any) -> dict[str, Any]:
    return {"request_id": request_id, "cells": CELLS, "cell_index": 30, "prefix": "total = value_1", "max_tokens": 8, **extra}


async def status(jp_fetch: Any) -> dict[str, Any]:
    return json.loads((await jp_fetch("jupyter-assist", "status")).body)


async def test_held_completion_is_prefilled_and_answers_the_same(jp_fetch: Any, jp_serverapp: Any) -> None:
    await wait_ready(jp_fetch)
    backend = jp_serverapp.web_app.settings["jupyter_assist"].engine.backend
    plain = ndjson((await post(jp_fetch, "complete", body("now"))).body)[-1]
    backend.prefix_cache.clear()
    t0 = time.monotonic()
    held = ndjson((await post(jp_fetch, "complete", body("held", delay_ms=400))).body)[-1]
    assert time.monotonic() - t0 >= 0.4
    assert held["type"] == "done" and held["text"] == plain["text"]
    assert held["completion_tokens"] == plain["completion_tokens"]
    # Decoding started after the delay, from a prompt prefilled during it: the whole
    # prompt came from the cache, the first token's logits included.
    assert held["first_ms"] >= 400, held
    timing = backend.last_timing
    assert timing["reused"] == timing["prompt"], timing


async def test_cancel_during_the_hold_decodes_nothing(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    cancelled_before = (await status(jp_fetch))["cancelled"]
    task = asyncio.ensure_future(post(jp_fetch, "complete", body("superseded", delay_ms=1500, max_tokens=64)))
    await asyncio.sleep(0.3)  # the request is held (or still being built): cancel it by id
    for _ in range(100):
        if json.loads((await post(jp_fetch, "cancel", {"request_id": "superseded"})).body)["cancelled"]:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the held request was never cancellable")
    events = ndjson((await task).body)
    assert events == [events[-1]] and events[-1]["type"] == "done", events  # no delta at all
    assert events[-1]["finish_reason"] == "cancelled" and events[-1]["completion_tokens"] == 0
    assert (await status(jp_fetch))["cancelled"] == cancelled_before + 1
    # The server goes on serving.
    ok = ndjson((await post(jp_fetch, "complete", body("after", delay_ms=50))).body)[-1]
    assert ok["type"] == "done" and ok["finish_reason"] != "cancelled"
