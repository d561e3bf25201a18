"""The real embedded model behind the real server: the path a new user takes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Converted, auto_device, ndjson, wait_ready

pytestmark = pytest.mark.embedded


@pytest.fixture
def jp_server_config(embedded_model: Converted) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_assist": True}},
        "AssistExtension": {"model": "embedded", "cache_dir": str(embedded_model.cache_dir), "completion_max_tokens": 24},
    }


async def test_embedded_model_completes(jp_fetch: Any) -> None:
    status = await wait_ready(jp_fetch, timeout=240)
    assert status["state"] == "ready", status
    assert status["model"] == "SmolLM2-135M-Instruct" and status["device"] == auto_device(), status  # device=auto
    body = {
        "request_id": "e1",
        "prefix": "def add(a, b):\n    return",
        "suffix": "",
        "cells": [{"cell_type": "code", "source": "import math"}, {"cell_type": "code", "source": ""}],
        "cell_index": 1,
    }
    done = ndjson((await jp_fetch("jupyter-assist", "complete", method="POST", body=json.dumps(body))).body)[-1]
    assert done["type"] == "done" and "a + b" in done["text"]
