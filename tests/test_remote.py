"""Remote backend against a real OpenAI-compatible server (`transformers serve`) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jupyter_assist.engine import Engine, EngineNotReady, GenerationParams, LoadOptions, RemoteOptions, Request
from jupyter_assist.engine.remote import DEFAULT_WINDOW, served_window
from jupyter_assist.engine.types import PRIORITY_CHAT, PRIORITY_COMPLETE
from jupyter_assist.testing.processes import free_port, stop

from .conftest import wait_loaded


@pytest.fixture(scope="module")
def served(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "HF_HOME": str(log.parent / "hf")}
    cli = Path(sys.executable).with_name("transformers")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), str(tiny_model_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
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
                    raise RuntimeError(f"transformers serve did not start:\n{log.read_text()[-3000:]}") from None
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
            done = {"text": ev.text, "reason": ev.finish_reason, "prompt_tokens": ev.prompt_tokens, "logprob": ev.logprob}
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
        # Asked for logprobs, transformers serve (5.x) ignores the field and sends none:
        # `done` says it does not know (next edit then keeps to the renames).
        assert done["logprob"] is None
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
    that can be stopped and started again on the same port. Every answer is `answer`'s
    chunks ("1" then "2"); with `hold` cleared, a stream sends the first and waits there
    until `hold` is set (or the client closes the connection: `aborted`). It counts the
    streams open at once. Asked for `logprobs`, each chunk (one token) carries the next of
    `token_logprobs` in the legacy completions shape (vLLM's), or with `logprobs_shape`
    "content" in the chat one (llama.cpp's); `token_logprobs` None: none, as `transformers
    serve` does. `reject_logprobs`: a request with the field gets HTTP 400."""

    def __init__(self, port: int, models: list[dict] | None = None) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.models = models if models is not None else [{"id": "fake"}]
        self.hold = threading.Event()
        self.hold.set()
        self.active = self.peak = self.aborted = 0
        self.prompts: list[str] = []  # in the order requests arrived
        self.bodies: list[dict] = []  # the request bodies, in the same order
        self.answer = ["1", "2"]
        self.token_logprobs: list[float] | None = [-0.25, -0.75]
        self.logprobs_shape = "completions"
        self.reject_logprobs = False
        self._count = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"object": "list", "data": fake.models}).encode()
                self.send_response(200 if self.path == "/v1/models" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _client_gone(self) -> bool:
                if not select.select([self.connection], [], [], 0)[0]:
                    return False
                try:
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except ConnectionError:
                    return True

            def _chunk(self, body: dict, i: int, reason: str | None) -> None:
                choice: dict = {"text": fake.answer[i], "finish_reason": reason}
                if body.get("logprobs") and fake.token_logprobs is not None:
                    lp = fake.token_logprobs[i % len(fake.token_logprobs)]
                    if fake.logprobs_shape == "content":
                        choice["logprobs"] = {"content": [{"token": fake.answer[i], "logprob": lp, "top_logprobs": []}]}
                    else:
                        choice["logprobs"] = {"tokens": [fake.answer[i]], "token_logprobs": [lp], "top_logprobs": [{fake.answer[i]: lp}]}
                self.wfile.write(f"data: {json.dumps({'choices': [choice]})}\n\n".encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with fake._count:
                    fake.active += 1
                    fake.peak = max(fake.peak, fake.active)
                    fake.prompts.append(body["prompt"])
                    fake.bodies.append(body)
                try:
                    if fake.reject_logprobs and "logprobs" in body:
                        error = json.dumps({"error": {"message": "logprobs is not supported", "type": "invalid_request_error"}}).encode()
                        self.send_response(400)
                        self.send_header("Content-Length", str(len(error)))
                        self.end_headers()
                        self.wfile.write(error)
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    self._chunk(body, 0, None)
                    while not fake.hold.wait(0.02):
                        if self._client_gone():
                            with fake._count:
                                fake.aborted += 1
                            return
                    for i in range(1, len(fake.answer)):
                        self._chunk(body, i, "length" if i == len(fake.answer) - 1 else None)
                    self.wfile.write(b"data: [DONE]\n\n")
                finally:
                    with fake._count:
                        fake.active -= 1

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


async def _until(cond: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(free_port())
    server.start()
    yield server
    server.hold.set()
    server.stop()


def _fake_engine(fake: FakeOpenAI, tokenizer: Path, **options: int) -> Engine:
    e = Engine(str(tokenizer), LoadOptions(), Path("/nonexistent"), RemoteOptions(fake.url + "/v1", **options))
    e.start()
    wait_loaded(e)
    assert e.status.state == "ready", e.status.error
    return e


def test_remote_requests_stream_at_once(fake: FakeOpenAI, tiny_model_dir: Path) -> None:
    e = _fake_engine(fake, tiny_model_dir)
    fake.hold.clear()  # each stream sends "1", then waits

    async def scenario() -> list[tuple[str, dict]]:
        both = [asyncio.ensure_future(_collect(e, Request(f"c{i}", f"x{i} = ", GenerationParams(max_tokens=3)))) for i in range(2)]
        await _until(lambda: fake.active == 2, f"the server saw {fake.active} streams at once, not 2")
        assert e.stats()["running"] == 2 and e.queue_length() == 0
        fake.hold.set()
        return list(await asyncio.wait_for(asyncio.gather(*both), 20))

    try:
        for _, done in asyncio.run(scenario()):
            assert done.get("text") == "12", done
        assert e.stats()["running"] == 0 and e.status.served == 2
    finally:
        e.shutdown()


def test_remote_concurrency_is_bounded_and_completions_go_first(fake: FakeOpenAI, tiny_model_dir: Path) -> None:
    e = _fake_engine(fake, tiny_model_dir, max_concurrency=2)
    fake.hold.clear()

    def send(name: str, priority: int) -> asyncio.Future[tuple[str, dict]]:
        return asyncio.ensure_future(_collect(e, Request(name, name, GenerationParams(max_tokens=3), priority=priority)))

    async def scenario() -> tuple[str, list[tuple[str, dict]]]:
        first = [send("chat-a", PRIORITY_CHAT), send("chat-b", PRIORITY_CHAT)]
        await _until(lambda: fake.active == 2, "two streams open")
        later = [send("chat-c", PRIORITY_CHAT), send("complete-d", PRIORITY_COMPLETE)]
        await _until(lambda: e.queue_length() == 2, f"queue_length {e.queue_length()}, wanted 2 waiting")
        stats = e.stats()
        assert (stats["running"], stats["queued"], stats["max_concurrency"]) == (2, 2, 2)
        assert fake.active == 2 and fake.peak == 2
        # Free one slot only (two freed at once would race their two requests to the
        # server): the best waiting request must take it.
        assert e.cancel("chat-a")
        await _until(lambda: len(fake.prompts) == 3, f"a third stream ({fake.prompts})")
        third = fake.prompts[2]
        fake.hold.set()
        return third, list(await asyncio.wait_for(asyncio.gather(*first, *later), 20))

    try:
        third, results = asyncio.run(scenario())
        assert third == "complete-d", fake.prompts  # queued after chat-c, sent before it
        for _, done in results[1:]:
            assert done.get("text") == "12", done
        # (fake.peak may now read 3: the server notices chat-a's closed stream a poll later.)
        assert e.queue_length() == 0
    finally:
        e.shutdown()


def test_remote_cancel_closes_a_stalled_stream(fake: FakeOpenAI, tiny_model_dir: Path) -> None:
    # The server sends one chunk, then nothing: cancelling must not wait for a next chunk.
    e = _fake_engine(fake, tiny_model_dir)
    fake.hold.clear()

    async def scenario() -> dict:
        done: dict = {}
        async for ev in e.stream(Request("stall", "x = ", GenerationParams(max_tokens=50))):
            if ev.kind == "delta":
                assert e.cancel("stall")
            elif ev.kind == "done":
                done.update(reason=ev.finish_reason, text=ev.text)
        return done

    try:
        assert asyncio.run(asyncio.wait_for(scenario(), 10)) == {"reason": "cancelled", "text": "1"}
        asyncio.run(_until(lambda: fake.aborted == 1, "the server saw the connection closed"))
        assert e.status.cancelled == 1
    finally:
        e.shutdown()


def test_remote_streams_at_once_against_transformers_serve(served: str, tiny_model_dir: Path) -> None:
    e = _engine(str(tiny_model_dir), served, str(tiny_model_dir))
    params = GenerationParams(max_tokens=16)
    prompt = "def walk(path):\n"

    async def scenario() -> tuple[dict, tuple[str, dict]]:
        cut: dict = {}

        async def long() -> None:
            async for ev in e.stream(Request("long", "import os\n", GenerationParams(max_tokens=4000))):
                if ev.kind == "delta" and "other" not in cut:
                    cut["other"] = asyncio.ensure_future(_collect(e, Request("other", prompt, params)))
                    await _until(lambda: e.stats()["running"] == 2, "two streams in flight")
                    assert e.cancel("long")
                elif ev.kind == "done":
                    cut.update(reason=ev.finish_reason)

        await asyncio.wait_for(long(), 60)
        return cut, await asyncio.wait_for(cut["other"], 60)

    try:
        _, alone = asyncio.run(_collect(e, Request("alone", prompt, params)))
        cut, (streamed, other) = asyncio.run(scenario())
        assert cut["reason"] == "cancelled"
        assert "error" not in other and alone["text"], (alone, other)
        assert other["text"] == streamed == alone["text"] and other["reason"] == alone["reason"]
    finally:
        e.shutdown()


@pytest.mark.parametrize(
    "models,window",
    [
        ([{"id": "fake", "max_model_len": 3000}], 3000),
        ([{"id": "other", "max_model_len": 1000}, {"id": "fake", "max_model_len": 3000}], 3000),
        ([{"id": "a", "max_model_len": 1000}, {"id": "b", "max_model_len": 3000}], None),  # which one is ours?
        ([{"id": "fake", "max_model_len": "lots"}], None),
        ([{"id": "fake"}], None),
    ],
)
def test_served_window_reads_max_model_len(models: list[dict], window: int | None) -> None:
    assert served_window({"object": "list", "data": models}, "fake") == window


def _tokenizer_with_window(tiny_model_dir: Path, dest: Path, n: int | None) -> Path:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    if n is not None:
        tok.model_max_length = n
    tok.save_pretrained(dest)
    return dest


@pytest.mark.parametrize(
    "served_len,tokenizer_len,window",
    [
        (3000, 2048, 3000),  # the server says
        (None, 2048, 2048),  # else the tokenizer
        (None, None, DEFAULT_WINDOW),  # the tiny tokenizer does not know (1e30)
    ],
)
def test_remote_context_window(tiny_model_dir: Path, tmp_path: Path, served_len: int | None, tokenizer_len: int | None, window: int) -> None:
    fake = FakeOpenAI(free_port(), [{"id": "fake", **({"max_model_len": served_len} if served_len else {})}])
    fake.start()
    e = _fake_engine(fake, _tokenizer_with_window(tiny_model_dir, tmp_path / "tok", tokenizer_len))
    try:
        assert e.backend.text.window == window  # what chat and edit prompts are budgeted by
        assert e.stats()["context_window"] == window
    finally:
        e.shutdown()
        fake.stop()


@pytest.mark.parametrize("shape", ["completions", "content"])
def test_remote_done_carries_the_mean_token_logprob(fake: FakeOpenAI, tiny_model_dir: Path, shape: str) -> None:
    fake.logprobs_shape = shape
    e = _fake_engine(fake, tiny_model_dir)
    try:
        _, done = asyncio.run(_collect(e, Request("lp", "x = ", GenerationParams(max_tokens=3))))
        assert done["text"] == "12" and done["logprob"] == pytest.approx(-0.5), done  # mean of -0.25 and -0.75
        assert fake.bodies[-1]["logprobs"] == 1
    finally:
        e.shutdown()


def test_remote_without_logprobs_says_none(fake: FakeOpenAI, tiny_model_dir: Path) -> None:
    fake.token_logprobs = None  # asked, the server sends none (transformers serve)
    e = _fake_engine(fake, tiny_model_dir)
    try:
        _, done = asyncio.run(_collect(e, Request("n", "x = ", GenerationParams(max_tokens=3))))
        assert done == {"text": "12", "reason": "length", "prompt_tokens": done["prompt_tokens"], "logprob": None}
    finally:
        e.shutdown()


def test_remote_that_rejects_logprobs_is_asked_without_them(fake: FakeOpenAI, tiny_model_dir: Path) -> None:
    fake.reject_logprobs = True
    e = _fake_engine(fake, tiny_model_dir)
    try:
        for rid in ("r1", "r2"):
            _, done = asyncio.run(_collect(e, Request(rid, "x = ", GenerationParams(max_tokens=3))))
            assert done.get("text") == "12" and done["logprob"] is None, done
        # Rejected once, asked again without the field; the next request goes without it at once.
        assert ["logprobs" in b for b in fake.bodies] == [True, False, False]
    finally:
        e.shutdown()


def test_remote_clamps_an_impossible_token(fake: FakeOpenAI, tiny_model_dir: Path) -> None:
    from jupyter_assist.engine.remote import LOGPROB_FLOOR, chunk_logprobs

    assert chunk_logprobs({"logprobs": {"token_logprobs": [None, -1.5, float("-inf"), float("nan")]}}) == [-1.5, LOGPROB_FLOOR]
    assert chunk_logprobs({"logprobs": None}) == [] and chunk_logprobs({"logprobs": {"content": [{"logprob": True}]}}) == []
    fake.token_logprobs = [float("-inf")]  # json.dumps writes -Infinity, which json.loads reads
    e = _fake_engine(fake, tiny_model_dir)
    try:
        _, done = asyncio.run(_collect(e, Request("inf", "x = ", GenerationParams(max_tokens=3))))
        assert done["logprob"] == LOGPROB_FLOOR  # finite: the `done` event stays valid JSON
    finally:
        e.shutdown()
