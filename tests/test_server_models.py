"""GET/POST /jupyter-assist/models: the installed models and switching between them."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import wait_ready


@pytest.fixture
def second_model(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """Another tiny model, installed in the server's cache (as `jupyter assist models install` does)."""
    import shutil

    dest = tmp_path / "model-cache" / "tiny-b"
    shutil.copytree(tiny_model_dir, dest)
    return dest


async def get(jp_fetch: Any, route: str) -> dict[str, Any]:
    return json.loads((await jp_fetch("jupyter-assist", route)).body)


async def switch(jp_fetch: Any, name: str) -> Any:
    return await jp_fetch("jupyter-assist", "models", method="POST", body=json.dumps({"model": name}))


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_models_route_needs_auth(jp_fetch: Any, method: str) -> None:
    body = json.dumps({"model": "tiny-b"}) if method == "POST" else None
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("jupyter-assist", "models", method=method, body=body, headers={"Authorization": ""})
    assert e.value.code == 403


async def test_bad_model_names_are_clear_4xx(jp_fetch: Any, second_model: Path) -> None:
    await wait_ready(jp_fetch)
    with pytest.raises(HTTPClientError) as e:
        await switch(jp_fetch, "/etc/passwd")  # never a free path: only a listed name
    assert e.value.code == 404
    error = json.loads(e.value.response.body)["error"]
    assert "Unknown model '/etc/passwd'" in error and "tiny-b" in error
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("jupyter-assist", "models", method="POST", body=json.dumps({"model": ""}))
    assert e.value.code == 400
    assert (await get(jp_fetch, "status"))["state"] == "ready"  # nothing changed


async def test_switch_both_ways_with_loading_state(
    jp_fetch: Any, jp_serverapp: Any, tiny_model_dir: Path, second_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = (await wait_ready(jp_fetch))["model"]
    listed = (await get(jp_fetch, "models"))["models"]
    current = {m["name"]: m["current"] for m in listed}  # (the embedded model too, where installed)
    assert current[str(tiny_model_dir)] is True and current["tiny-b"] is False

    # Hold the new model's load so the switching state can be seen deterministically.
    from jupyter_assist.engine import local

    release, loading = threading.Event(), threading.Event()
    real_load = local.LocalBackend.load

    def held_load(*args: Any, **kwargs: Any) -> Any:
        loading.set()
        assert release.wait(30)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(local.LocalBackend, "load", held_load)
    r = await switch(jp_fetch, "tiny-b")
    assert r.code == 202 and json.loads(r.body) == {"model": "tiny-b", "state": "loading"}
    status = await get(jp_fetch, "status")
    assert status["state"] == "loading" and status["model"] == "tiny-b" and status["switching_from"] == first
    # Requests meanwhile get the clear loading state.
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("jupyter-assist", "complete", method="POST", body=json.dumps({"request_id": "a", "prefix": "x"}))
    assert e.value.code == 503
    assert "Switching from" in json.loads(e.value.response.body)["error"]
    # A second switch while loading is refused, not queued.
    with pytest.raises(HTTPClientError) as e:
        await switch(jp_fetch, str(tiny_model_dir))
    assert e.value.code == 409
    release.set()
    status = await wait_ready(jp_fetch)
    assert status["state"] == "ready" and status["model"] == "tiny-b" and status["switching_from"] is None
    assert status["stats"]["process_rss_bytes"] > 0  # the status panel's memory figure
    assert [m["name"] for m in (await get(jp_fetch, "models"))["models"] if m["current"]] == ["tiny-b"]
    engine = jp_serverapp.web_app.settings["jupyter_assist"].engine
    assert engine.backend.info["model"] == "tiny-b"

    # And back; a request is served by it.
    assert (await switch(jp_fetch, str(tiny_model_dir))).code == 202
    status = await wait_ready(jp_fetch)
    assert status["state"] == "ready" and status["model"] == first
    r = await jp_fetch("jupyter-assist", "complete", method="POST", body=json.dumps({"request_id": "b", "prefix": "x = "}))
    assert r.code == 200


async def test_failed_switch_keeps_cause_and_can_switch_back(jp_fetch: Any, tiny_model_dir: Path, second_model: Path) -> None:
    await wait_ready(jp_fetch)
    (second_model / "config.json").write_text("{not json")
    await switch(jp_fetch, "tiny-b")
    status = await wait_ready(jp_fetch)
    assert status["state"] == "error" and status["error"] and status["progress"] is None
    await switch(jp_fetch, str(tiny_model_dir))
    assert (await wait_ready(jp_fetch))["state"] == "ready"
