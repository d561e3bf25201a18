"""Remote backend against a real OpenAI-compatible server (`transformers serve`) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from jupyter_assist.engine import Engine, EngineNotReady, GenerationParams, LoadOptions, RemoteOptions, Request
from jupyter_assist.testing.processes import free_port, stop

from .test_engine import wait_loaded


@pytest.fixture(scope="module")
def served(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "HF_HOME": str(log.parent / "hf")}
    cli = Path(sys.executable).with_name("transformers")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), str(tiny_model_dir)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"transformers serve did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        stop(proc)


def _engine(model: str, url: str, tokenizer: str) -> Engine:
    e = Engine(model, LoadOptions(), Path("/nonexistent"), RemoteOptions(url + "/v1", tokenizer=tokenizer))
    e.start()
    wait_loaded(e)
    return e


async def _collect(engine: Engine, req: Request) -> tuple[str, dict]:
    text, done = "", {}
    async for ev in engine.stream(req):
        if ev.kind == "delta":
            text += ev.text
        elif ev.kind == "done":
            done = {"text": ev.text, "reason": ev.finish_reason, "prompt_tokens": ev.prompt_tokens}
        else:
            done = {"error": ev.message}
    return text, done


def test_remote_streams_like_local(served: str, tiny_model_dir: Path) -> None:
    e = _engine(str(tiny_model_dir), served, str(tiny_model_dir))
    try:
        assert e.status.state == "ready", e.status.error
        assert e.status.device.startswith("remote http://127.0.0.1")
        prompt = "import os\n\ndef walk(path):\n"
        streamed, done = asyncio.run(_collect(e, Request("r1", prompt, GenerationParams(max_tokens=12))))
        assert "error" not in done, done
        assert done["text"] and streamed == done["text"] and done["prompt_tokens"] > 5
    finally:
        e.shutdown()


def test_remote_cancel_stops_stream(served: str, tiny_model_dir: Path) -> None:
    e = _engine(str(tiny_model_dir), served, str(tiny_model_dir))

    async def scenario() -> dict:
        req = Request("long", "def f():\n", GenerationParams(max_tokens=2000))
        done: dict = {}

        async def consume() -> None:
            async for ev in e.stream(req):
                if ev.kind == "delta":
                    e.cancel("long")
                if ev.kind == "done":
                    done.update(reason=ev.finish_reason, text=ev.text)

        await asyncio.wait_for(consume(), 60)
        return done

    try:
        done = asyncio.run(scenario())
        assert done["reason"] == "cancelled"
        # The worker is free again: a short request completes.
        _, nxt = asyncio.run(_collect(e, Request("n", "x = ", GenerationParams(max_tokens=3))))
        assert nxt.get("reason") in ("length", "stop")
    finally:
        e.shutdown()


class FakeOpenAI:
    """A minimal OpenAI-compatible server (GET /v1/models, streaming POST /v1/completions)
    that can be stopped and started again on the same port."""

    def __init__(self, port: int) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"object": "list", "data": [{"id": "fake"}]}).encode()
                self.send_response(200 if self.path == "/v1/models" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in ({"text": "1", "finish_reason": None}, {"text": "2", "finish_reason": "length"}):
                    self.wfile.write(f"data: {json.dumps({'choices': [chunk]})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _wait_state(engine: Engine, state: str, timeout: float) -> float:
    """Seconds until the engine's status reaches `state` (fails past `timeout`)."""
    t0 = time.monotonic()
    while engine.status.state != state:
        assert time.monotonic() - t0 < timeout, f"status {engine.status.state!r} ({engine.status.error}), wanted {state!r}"
        time.sleep(0.05)
    return time.monotonic() - t0


@pytest.mark.parametrize("model,tokenizer", [("embedded", ""), ("embedded", "nobody-here/no-such-tokenizer-4f2a")])
def test_remote_without_a_loadable_tokenizer_fails_fast(model: str, tokenizer: str) -> None:
    # No tokenizer named (the embedded default is not what the server serves), or a hub id
    # that is not cached here: a clear error at once, not ~50 s of hub retries.
    from transformers import AutoTokenizer  # noqa: F401  (the bound is on retries, not on a cold import on a busy box)

    e = Engine(model, LoadOptions(), Path("/nonexistent"), RemoteOptions(f"http://127.0.0.1:{free_port()}/v1", tokenizer=tokenizer))
    e.start()
    try:
        _wait_state(e, "error", 15)
        assert "remote_tokenizer" in (e.status.error or ""), e.status.error
        with pytest.raises(EngineNotReady):
            e.require_ready()
    finally:
        e.shutdown()


def test_remote_unreachable_at_load_is_an_error_until_it_comes_up(tiny_model_dir: Path) -> None:
    fake = FakeOpenAI(free_port())
    e = Engine(str(tiny_model_dir), LoadOptions(), Path("/nonexistent"), RemoteOptions(fake.url + "/v1"))
    e.remote_recheck_s = 0.5
    e.start()
    try:
        _wait_state(e, "error", 15)
        assert "unreachable" in (e.status.error or "") and fake.url in (e.status.error or "")
        fake.start()
        _wait_state(e, "ready", 15)  # the idle worker's re-check saw it come up
        assert e.status.error is None
        _, done = asyncio.run(_collect(e, Request("u", "x = ", GenerationParams(max_tokens=3))))
        assert done.get("text") == "12", done
    finally:
        e.shutdown()
        fake.stop()


def test_remote_down_turns_status_to_error_and_a_request_brings_it_back(tiny_model_dir: Path) -> None:
    fake = FakeOpenAI(free_port())
    fake.start()
    e = Engine(str(tiny_model_dir), LoadOptions(), Path("/nonexistent"), RemoteOptions(fake.url + "/v1"))
    e.remote_recheck_s = 600  # no re-check in this test: the request itself must notice
    e.start()
    try:
        _wait_state(e, "ready", 30)
        fake.stop()
        _, done = asyncio.run(_collect(e, Request("d", "x = ", GenerationParams(max_tokens=3))))
        assert "unreachable" in done["error"]
        assert e.status.state == "error" and "unreachable" in (e.status.error or "")
        fake.start()
        _, done = asyncio.run(_collect(e, Request("d2", "x = ", GenerationParams(max_tokens=3))))
        assert done.get("text") == "12", done
        assert e.status.state == "ready" and e.status.error is None
    finally:
        e.shutdown()
        fake.stop()
