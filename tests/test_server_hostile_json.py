"""Hostile bodies get a clear 4xx, never a 500 with a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import wait_ready
from .test_server import post


@pytest.mark.parametrize("depth", [250, 1_000, 50_000])
async def test_deeply_nested_json_is_a_400(jp_fetch: Any, depth: int) -> None:
    await wait_ready(jp_fetch)
    output = "[" * depth + "]" * depth
    body = '{"request_id": "deep", "prefix": "x", "cells": [{"outputs": [' + output + "]}]}"
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "complete", body)
    assert e.value.code == 400
    assert "nested deeper than" in json.loads(e.value.response.body)["error"]
    status = json.loads((await jp_fetch("jupyter-assist", "status")).body)
    assert status["state"] == "ready"
