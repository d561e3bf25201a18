"""A model that fails to load: clear status and 503s, the server keeps serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import wait_ready


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_assist": True}},
        "AssistExtension": {"model": str(tmp_path / "missing.gguf"), "cache_dir": str(tmp_path / "cache")},
    }


async def test_load_failure_reported_and_requests_get_503(jp_fetch: Any) -> None:
    status = await wait_ready(jp_fetch)
    assert status["state"] == "error"
    assert "missing.gguf" in status["error"]
    for route, body in [
        ("complete", {"request_id": "a", "prefix": "x"}),
        ("chat", {"request_id": "b", "messages": [{"role": "user", "content": "hi"}]}),
        ("generate", {"request_id": "c", "instruction": "hi"}),
    ]:
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch("jupyter-assist", route, method="POST", body=json.dumps(body))
        assert e.value.code == 503
        assert "failed to load" in json.loads(e.value.response.body)["error"]
    # The rest of the server is unaffected.
    r = await jp_fetch("api", "status")
    assert r.code == 200
