from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_assist.engine import Engine, EngineNotReady, GenerationParams, LoadOptions, Request
from jupyter_assist.engine.types import PRIORITY_CHAT, PRIORITY_COMPLETE

from .conftest import collect, wait_loaded

PROMPT = "import os\n\ndef walk(path):\n    for root, dirs, files in os.walk(path):\n"


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    e = Engine(str(tiny_model_dir), LoadOptions(threads=1), tmp_path_factory.mktemp("cache"))
    e.start()
    wait_loaded(e)
    assert e.status.state == "ready", e.status.error
    yield e
    e.shutdown()


def test_status_reports_model(engine: Engine) -> None:
    import torch

    s = engine.status
    if torch.cuda.is_available():  # device=auto picks CUDA there, with NF4 by default
        assert s.device == "cuda" and s.dtype in ("bfloat16", "float16") and s.quantization == "nf4"
    else:
        assert s.device == "cpu" and s.dtype in ("float32", "bfloat16") and s.quantization is None
    assert s.load_seconds is not None


def test_stream_matches_hf_greedy(engine: Engine) -> None:
    import torch

    deltas, done = asyncio.run(collect(engine, Request("g", PROMPT, GenerationParams(max_tokens=20))))
    assert len(deltas) > 1 and "".join(deltas) == done["text"]
    tok, model = engine.backend.tokenizer, engine.backend.model
    ids = torch.tensor([tok.encode(PROMPT, add_special_tokens=False)])
    ref = model.generate(ids, max_new_tokens=done["n"], do_sample=False)[0, ids.shape[1] :]
    assert done["text"] == tok.decode(ref, skip_special_tokens=True)


def test_max_tokens_and_stop_strings(engine: Engine) -> None:
    _, free = asyncio.run(collect(engine, Request("a", PROMPT, GenerationParams(max_tokens=12))))
    assert free["n"] <= 12 and free["reason"] in ("length", "loop", "eos")
    # A stop string taken from the free-running output must cut it right there.
    text = free["text"]
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    assert stop.strip(), f"need visible text to pick a stop string from: {text!r}"
    deltas, done = asyncio.run(collect(engine, Request("b", PROMPT, GenerationParams(max_tokens=12, stop=(stop,)))))
    assert done["reason"] == "stop"
    assert done["text"] == text[: text.find(stop)]
    assert stop not in "".join(deltas)


def test_cancel_frees_worker(engine: Engine) -> None:
    async def scenario() -> tuple[dict, dict, float]:
        long = Request("long", PROMPT, GenerationParams(max_tokens=3000, loop_guard=False))
        started = asyncio.Event()
        result: dict = {}

        async def consume() -> None:
            async for ev in engine.stream(long):
                started.set()
                if ev.kind == "done":
                    result.update(reason=ev.finish_reason, n=ev.completion_tokens)

        task = asyncio.create_task(consume())
        await started.wait()
        t0 = time.monotonic()
        assert engine.cancel("long")
        await task
        cancel_s = time.monotonic() - t0
        _, second = await collect(engine, Request("next", PROMPT, GenerationParams(max_tokens=4)))
        return result, second, cancel_s

    first, second, cancel_s = asyncio.run(scenario())
    assert first["reason"] == "cancelled" and first["n"] < 3000
    assert cancel_s < 2.0  # one decode step here is ~1-5 ms; generous for a loaded CI box
    assert second["reason"] in ("length", "loop", "eos") and second["n"] >= 1
    assert not engine.cancel("long")  # gone from the active set


def test_leaving_the_stream_cancels(engine: Engine) -> None:
    async def scenario() -> Request:
        req = Request("leave", PROMPT, GenerationParams(max_tokens=3000, loop_guard=False))
        async for ev in engine.stream(req):
            if ev.kind == "delta":
                break
        return req

    req = asyncio.run(scenario())
    assert req.cancelled.is_set()


def test_completion_runs_before_queued_chat(engine: Engine) -> None:
    order: list[str] = []

    async def run(req: Request) -> None:
        async for ev in engine.stream(req):
            if ev.kind == "done":
                order.append(req.request_id)

    async def scenario() -> None:
        slow = GenerationParams(max_tokens=3000, loop_guard=False)
        blocker = asyncio.create_task(run(Request("blocker", PROMPT, slow)))
        await asyncio.sleep(0.2)  # the worker is busy with `blocker`
        chat = asyncio.create_task(run(Request("chat", PROMPT, GenerationParams(max_tokens=3), priority=PRIORITY_CHAT)))
        await asyncio.sleep(0.05)
        comp = asyncio.create_task(run(Request("complete", PROMPT, GenerationParams(max_tokens=3), priority=PRIORITY_COMPLETE)))
        await asyncio.sleep(0.05)
        engine.cancel("blocker")
        await asyncio.gather(blocker, chat, comp)

    # Without batching, the chat queues behind the blocker of its class (batched, it would
    # join the blocker's passes at once: tests/test_engine_batch.py covers that order).
    batch, engine.backend.batch = engine.backend.batch, None
    try:
        asyncio.run(scenario())
    finally:
        engine.backend.batch = batch
    # The completion may also overtake the running blocker (it preempts it at a step).
    assert order.index("complete") < order.index("chat") and sorted(order) == ["blocker", "chat", "complete"]


def test_out_of_memory_clears_the_kv_cache_and_the_engine_goes_on(engine: Engine) -> None:
    import torch

    backend = engine.backend
    prompt = "import json\n" * 20
    asyncio.run(collect(engine, Request("fill", prompt, GenerationParams(max_tokens=2))))
    assert len(backend.prefix_cache) > 0

    real = backend._forward
    calls = []

    def failing(ids, cache, **kw):  # the second forward (a decode step) runs out of memory
        calls.append(len(ids))
        if len(calls) == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(ids, cache, **kw)

    backend._forward = failing
    # Decode steps through `_forward`: not the CUDA graphs (on a GPU), nor the batch (its
    # out-of-memory case: tests/test_engine_batch.py).
    graphs, backend.graphs = backend.graphs, None
    batch, backend.batch = backend.batch, None
    try:
        # Another prompt: the cached entry stays in the cache while this one runs.
        events = asyncio.run(_events(engine, Request("oom", "def f():\n" * 10, GenerationParams(max_tokens=8))))
    finally:
        backend._forward, backend.graphs, backend.batch = real, graphs, batch
    assert events[-1].kind == "error" and "Out of memory" in events[-1].message, events[-1]
    assert "KV cache was cleared" in events[-1].message
    assert len(backend.prefix_cache) == 0
    _, done = asyncio.run(collect(engine, Request("after", prompt, GenerationParams(max_tokens=4))))
    assert done["reason"] in ("length", "eos", "stop") and done["n"] > 0


async def _events(engine: Engine, req: Request) -> list:
    return [ev async for ev in engine.stream(req)]


def test_load_failure_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    e = Engine(str(bad), LoadOptions(threads=1), tmp_path / "cache")
    e.start()
    wait_loaded(e)
    try:
        assert e.status.state == "error" and "broken" in (e.status.error or "")
        with pytest.raises(EngineNotReady, match="failed to load"):
            e.require_ready()
    finally:
        e.shutdown()
