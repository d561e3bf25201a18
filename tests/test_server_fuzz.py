"""Every route under random JSON and hostile, valid-shaped bodies: the answer is a 4xx with
a JSON error or a 200 (a whole NDJSON stream for the tasks), never a 500, and the server
answers its status after each. Bodies come from hypothesis, derandomized (the same every
run), collected first and then sent (the server lives on the test's event loop)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import wait_ready

CELLS = [
    {"cell_type": "code", "source": "x = 1", "outputs": [{"output_type": "stream", "text": "1\n"}]},
    {"cell_type": "markdown", "source": "# t"},
    {"cell_type": "code", "source": ""},
]
CTX = {"request_id": "fuzz", "cells": CELLS, "cell_index": 2}
# Each route's real shape (jupyter_assist/wire.py), the start of the hostile mutations.
SHAPES: dict[str, dict[str, Any]] = {
    "complete": {**CTX, "prefix": "y = x", "suffix": "", "max_tokens": 2},
    "chat": {**CTX, "messages": [{"role": "user", "content": "hi"}], "attachments": [{"kind": "cell", "label": "c", "text": "x"}]},
    "generate": {**CTX, "instruction": "add", "code": "", "max_tokens": 2},
    "edit": {**CTX, "instruction": "add", "source": "x = 1", "max_tokens": 2},
    "fix": {**CTX, "cell_index": 0, "max_tokens": 2},
    "next-edit": {**CTX, "edits": [{"cell_index": 0, "before": "x = 1", "after": "xs = 1"}], "max_tokens": 2},
    "warm": {**CTX, "prefix": "y = x"},
    "cancel": {"request_id": "fuzz"},
    "prompt": {**CTX, "prefix": "y = x"},
    "agent": {
        **CTX,
        "goal": "mean of x",
        "max_steps": 4,
        "max_tokens": 2,
        "steps": [
            {
                "kind": "code",
                "source": "x = 1",
                "cell_index": 0,
                "text": "set x",
                "ran": True,
                "edited": False,
                "outputs": [{"output_type": "stream", "text": "1\n"}],
                "variables": [{"name": "x", "type": "int", "summary": "1"}],
            },
            {"kind": "ask", "text": "which column?", "reply": "x"},
        ],
    },
    "telemetry": {"event": "shown", "request_id": "fuzz", "task": "agent", "latency_ms": 3.0},
}
STREAMS = {"complete", "chat", "generate", "edit", "fix", "next-edit", "agent"}
TASKS = sorted(STREAMS) + ["nope"]

# Astral characters, combining marks and lone surrogates (json.dumps writes those as "\ud800").
chars = st.characters(codec=None, exclude_categories=()) | st.sampled_from(["\ud800", "\udfff", "😀", "\u0301", "\r", "\x00"])
texts = st.text(chars, max_size=40) | st.integers(0, 5000).map(lambda n: "a\n" * n)
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | texts
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(texts, c, max_size=4), max_leaves=12)


@st.composite
def hostile(draw: Any, shape: dict[str, Any]) -> Any:
    """The shape with some fields (also nested ones) replaced, removed or added."""
    body = json.loads(json.dumps(shape))
    for _ in range(draw(st.integers(1, 3))):
        target = body
        path = draw(st.lists(st.sampled_from(["cells", "messages", "edits", "attachments", "outputs", "steps", "variables", 0, 1]), max_size=3))
        for key in path:  # walk down where the path exists
            nxt = (
                target[key]
                if isinstance(target, dict) and isinstance(key, str) and key in target
                else (target[key] if isinstance(target, list) and isinstance(key, int) and key < len(target) else None)
            )
            if not isinstance(nxt, (dict, list)):
                break
            target = nxt
        if isinstance(target, dict):
            key = draw(st.sampled_from(sorted(target) + ["extra"]))
            if draw(st.booleans()) or key == "extra":
                target[key] = draw(values)
            else:
                target.pop(key, None)
        elif target:
            target[draw(st.integers(0, len(target) - 1))] = draw(values)
    return body


@st.composite
def case(draw: Any) -> tuple[str, str, dict[str, str], str | bytes]:
    route = draw(st.sampled_from(sorted(SHAPES)))
    params = {"task": draw(st.sampled_from(TASKS))} if route == "prompt" else {}
    kind = draw(st.sampled_from(["hostile", "hostile", "random", "deep", "bytes"]))
    if kind == "hostile":
        data: str | bytes = json.dumps(draw(hostile(SHAPES[route])))
    elif kind == "random":
        data = json.dumps(draw(values))
    elif kind == "deep":
        n = draw(st.integers(1, 3000))
        data = json.dumps(SHAPES[route])[:-1] + ', "x": ' + "[" * n + "]" * n + "}"
    else:
        data = draw(st.binary(max_size=64)) + b'"\xed\xa0\x80"'  # raw bytes, an encoded surrogate
    return route, "POST", params, data


def _cases(n: int) -> list[tuple[str, str, dict[str, str], str | bytes]]:
    out: list[Any] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case())
    def collect(c: Any) -> None:
        out.append(c)

    collect()
    gets = [("status", "GET", {}, ""), ("history", "GET", {}, ""), ("telemetry", "GET", {}, "")]
    return gets + out


def _check(route: str, code: int, body: bytes) -> None:
    assert code == 200 or 400 <= code < 500, (route, code, body[-500:])
    if code != 200:
        assert "error" in json.loads(body), body
        return
    if route not in STREAMS:
        json.loads(body)
        return
    events = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    assert events and events[-1]["type"] in ("done", "error"), events[-3:]


async def test_every_route_answers_hostile_json_with_a_4xx_or_a_valid_answer(jp_fetch: Any) -> None:
    await wait_ready(jp_fetch)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60  # bounded: the cases run in order until then
    sent = 0
    for route, method, params, data in _cases(400):
        if loop.time() > deadline:
            break
        kw: dict[str, Any] = {"body": data} if method == "POST" else {}
        r = await jp_fetch("jupyter-assist", route, method=method, params=params, raise_error=False, **kw)
        _check(route, r.code, r.body)
        assert (await jp_fetch("jupyter-assist", "status")).code == 200
        sent += 1
    assert sent >= 50, sent  # the budget covered a real sample
