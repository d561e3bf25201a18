"""A warm-up whose client leaves is cancelled: it must not hold the engine's queue for a
cell the user left (the warm route, and a held completion's prefill)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from .conftest import wait_ready
from .test_server import post

CELLS = [{"cell_type": "code", "source": f"value_{i} = {i}"} for i in range(5)] + [{"cell_type": "code", "source": ""}]


async def _until(cond: Any, what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _post_then_leave(port: int, headers: dict[str, str], route: str, body: dict[str, Any]) -> asyncio.StreamWriter:
    """Send a POST on a raw connection and return it open, unread (the caller closes it)."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        f"POST /a%40b/jupyter-assist/{route} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    return writer


@pytest.mark.parametrize(
    "route,request_id,extra",
    [
        ("warm", "warm-left", {}),  # WarmHandler.on_connection_close
        ("complete", "held-left", {"delay_ms": 2000}),  # StreamHandler._hold's prefill
    ],
)
async def test_a_warm_up_whose_client_leaves_never_runs(
    jp_fetch: Any,
    jp_serverapp: Any,
    jp_http_port: int,
    jp_auth_header: dict[str, str],
    route: str,
    request_id: str,
    extra: dict[str, Any],
) -> None:
    await wait_ready(jp_fetch)
    engine = jp_serverapp.web_app.settings["jupyter_assist"].engine
    warmed: list[str] = []
    steps = engine.backend.warm_steps

    def spy(prompt: str, cancelled: Any = None) -> Any:
        warmed.append(prompt)
        return steps(prompt, cancelled)

    engine.backend.warm_steps = spy
    marker = f"marker_{request_id}"
    # The engine is busy with a long request; a warm-up queues behind it (lowest priority).
    busy = asyncio.ensure_future(
        post(jp_fetch, "generate", {"request_id": "busy", "cells": CELLS, "cell_index": 5, "instruction": "count", "max_tokens": 400})
    )
    await _until(lambda: "busy" in engine._active or busy.done(), "the long request to start")
    assert not busy.done(), (await busy).body[-300:]
    body = {"request_id": request_id, "cells": CELLS, "cell_index": 5, "prefix": f"{marker} = ", **extra}
    writer = await _post_then_leave(jp_http_port, jp_auth_header, route, body)
    warm_id = request_id if route == "warm" else f"{request_id}/warm"
    await _until(lambda: warm_id in engine._active, "the warm-up to be queued")
    warm = engine._active[warm_id]
    assert not warm.cancelled.is_set()
    assert "busy" in engine._active  # still occupied: the warm-up cannot have run yet
    writer.close()
    await _until(warm.cancelled.is_set, "the warm-up to be cancelled")
    await post(jp_fetch, "cancel", {"request_id": "busy"})
    await busy
    await _until(lambda: warm_id not in engine._active and engine.queue_length() == 0, "the queue to drain")
    assert not [p for p in warmed if marker in p], "the abandoned warm-up was prefilled"
    # The spy sees warm-ups that do run: a live client's is prefilled.
    r = await post(jp_fetch, "warm", {"request_id": "kept", "cells": CELLS, "cell_index": 5, "prefix": f"{marker}_kept = "})
    assert json.loads(r.body)["prompt_tokens"] > 0
    assert [p for p in warmed if f"{marker}_kept" in p]
