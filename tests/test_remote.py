"""Remote backend against a real OpenAI-compatible server (`transformers serve`) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from jupyter_assist.engine import Engine, GenerationParams, LoadOptions, RemoteOptions, Request
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


def test_remote_down_gives_clear_error(tiny_model_dir: Path) -> None:
    e = _engine(str(tiny_model_dir), f"http://127.0.0.1:{free_port()}", str(tiny_model_dir))
    try:
        _, done = asyncio.run(_collect(e, Request("d", "x = ", GenerationParams(max_tokens=3))))
        assert "unreachable" in done["error"]
        assert e.status.state == "ready"  # the engine keeps serving; the next request may succeed
    finally:
        e.shutdown()
