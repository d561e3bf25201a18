"""Many requests at once: step-level scheduling must not change a token, and a completion
never waits for a chat (fp32, the tiny model)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings

from jupyter_assist.engine import Engine, GenerationParams, Request
from jupyter_assist.engine.types import PRIORITY_CHAT, PRIORITY_COMPLETE, PRIORITY_EDIT

from .conftest import running_engine
from .engine_trace import (
    NOTEBOOK,
    PROMPTS,
    Trace,
    alone,
    alone_traced,
    arrivals_of,
    check_logits,
    check_same,
    drive,
    make,
    recording,
    scheduler,
    specs_of,
)


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    # A small prefill chunk, so the notebook prompts' prefills take several steps. CPU fp32
    # everywhere: exact equality is claimed there (graph and eager passes round apart).
    with running_engine(tiny_model_dir, tmp_path_factory.mktemp("cache"), spec_chunk=8, prefill_chunk=32) as e:
        yield e


request_specs = specs_of(last_arrival=40, most_tokens=10, modes=["plain", "lookup", "draft lookup", "warm"], most=4)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=request_specs)
# A warmed prompt, taken by the first request; the second, with the same prompt while the
# first runs, must not get the K/V the first is using.
@example(specs=[(0, 0, PRIORITY_CHAT, 1, "warm"), (14, 0, PRIORITY_CHAT, 10, "plain"), (17, 0, PRIORITY_COMPLETE, 6, "plain")])
def test_interleaved_requests_equal_each_alone(engine: Engine, specs: list[tuple[int, int, int, int, str]]) -> None:
    reqs = {f"r{i}": (at, make(f"r{i}", p, prio, n, mode)) for i, (at, p, prio, n, mode) in enumerate(specs)}
    traced = {rid: alone_traced(engine, r) for rid, (_, r) in reqs.items() if r.kind == "generate"}
    engine.backend.prefix_cache.clear()
    trace = Trace()
    with recording(engine, trace):
        drive(scheduler(engine, trace), trace, arrivals_of(reqs))
    check_same(trace, {rid: ev for rid, (ev, _) in traced.items()})
    check_logits(trace, traced)


def test_a_completion_starts_at_the_next_step_and_ends_first(engine: Engine) -> None:
    chat = make("chat", 0, PRIORITY_CHAT, 40, "plain")
    comp = make("comp", 1, PRIORITY_COMPLETE, 6, "lookup")
    want = {"chat": alone(engine, chat), "comp": alone(engine, comp)}
    trace = Trace()
    arrive = 12  # the chat's prompt is prefilled in chunks, then it decodes
    drive(scheduler(engine, trace), trace, {0: [chat], arrive: [comp]})
    assert trace.steps[arrive] == "comp"  # the step right after it arrived
    ends = {rid: max(i for i, s in enumerate(trace.steps) if s == rid) for rid in want}
    assert ends["comp"] < ends["chat"]
    assert "chat" in trace.steps[ends["comp"] + 1 :]  # the chat resumed after it
    for rid, ref in want.items():
        assert trace.done(rid).text == ref.text


def test_cancelling_one_leaves_the_others_unchanged(engine: Engine) -> None:
    reqs = [make("a", 0, PRIORITY_CHAT, 20, "plain"), make("b", 2, PRIORITY_EDIT, 12, "draft lookup"), make("c", 3, PRIORITY_COMPLETE, 8, "lookup")]
    want = {r.request_id: alone(engine, r) for r in reqs}
    trace = Trace()
    sched = scheduler(engine, trace)
    arrivals = {0: [reqs[0]], 3: [reqs[1]], 6: [reqs[2]]}
    cancel_at = 8  # `b` is started and paused behind `c`
    for n in range(5000):
        for r in arrivals.pop(n, []):
            sched.add(r)
        if n == cancel_at:
            assert any(s.req.request_id == "b" for s in sched.running)
            reqs[1].cancelled.set()
            sched.step()  # that one step ends it
            assert all(s.req.request_id != "b" for s in sched.running)
            continue
        if not sched.busy() and not arrivals:
            break
        sched.step()
    assert trace.done("b").finish_reason == "cancelled"
    for rid in ("a", "c"):
        assert trace.done(rid).text == want[rid].text


def test_the_kv_budget_bounds_the_running_requests(engine: Engine) -> None:
    # Arrivals in rising priority, each one preempting the last: unbounded, all would be
    # started at once; the budget holds two of the largest.
    prios = [PRIORITY_CHAT, PRIORITY_CHAT, PRIORITY_EDIT, PRIORITY_EDIT, PRIORITY_COMPLETE, PRIORITY_COMPLETE]

    def burst() -> tuple[list[Request], dict[int, list[Request]]]:
        reqs = [make(f"q{i}", i % 2, p, 8, "plain") for i, p in enumerate(sorted(prios, reverse=True))]
        return reqs, {i * 2: [r] for i, r in enumerate(reqs)}

    reqs, arrivals = burst()
    want = {r.request_id: alone(engine, r) for r in reqs}
    free = Trace()
    drive(scheduler(engine, free), free, burst()[1])
    assert max(free.running) > 2  # without a budget they pile up

    budget = 2 * max(engine._kv_bytes(r) for r in reqs)
    trace = Trace()
    sched = scheduler(engine, trace, budget)
    drive(sched, trace, arrivals)
    assert max(trace.running) <= 2 and sched.running_peak <= 2
    for rid, ref in want.items():
        assert trace.done(rid).text == ref.text


def test_a_completion_during_a_long_generation_finishes_first(engine: Engine) -> None:
    """Through the worker thread: a completion sent while a chat streams is answered while
    the chat still runs."""

    async def scenario() -> tuple[list[str], str | None]:
        order: list[str] = []
        chat_reason: list[str | None] = []
        streaming = asyncio.Event()

        async def chat() -> None:
            req = Request("chat", PROMPTS[0], GenerationParams(max_tokens=400, loop_guard=False, lookup=False), priority=PRIORITY_CHAT)
            async for ev in engine.stream(req):
                if ev.kind == "delta":
                    streaming.set()
                elif ev.kind == "done":
                    order.append("chat")
                    chat_reason.append(ev.finish_reason)

        async def complete() -> None:
            req = Request("comp", PROMPTS[1], GenerationParams(max_tokens=4), priority=PRIORITY_COMPLETE)
            async for ev in engine.stream(req):
                if ev.kind == "done":
                    order.append("comp")

        t = asyncio.create_task(chat())
        await streaming.wait()
        await complete()
        engine.cancel("chat")
        await t
        return order, chat_reason[0]

    order, reason = asyncio.run(scenario())
    assert order == ["comp", "chat"] and reason == "cancelled"
    deadline = time.monotonic() + 10  # the worker drops a request just after its last event
    while engine.stats()["running"] and time.monotonic() < deadline:
        time.sleep(0.01)
    stats = engine.stats()
    assert stats["running_peak"] >= 2 and stats["running"] == 0 and stats["queued"] == 0
    # The completion's passes carried the paused chat's decode step too (engine/batch.py).
    assert set(stats["batch_sizes"]) == {"1", "2"} and stats["running_kv_budget_bytes"] > 0


def test_one_request_at_a_time_holds_the_graph_buffers(engine: Engine) -> None:
    """The CUDA graphs' fixed K/V buffers (run eagerly here: the same buffers and masks)
    hold one request; one that starts while they are held decodes eagerly, and neither
    loses a token."""
    from jupyter_assist.engine.cuda_graphs import GraphRunner

    backend = engine.backend
    runner = GraphRunner(backend.model, max_len=1024, buckets=(1, 2, 4, 8, 9), capture=False, first_span=64)
    chat = make("chat", 2, PRIORITY_CHAT, 24, "plain")
    comp = make("comp", 3, PRIORITY_COMPLETE, 8, "lookup")
    backend.graphs = runner
    try:
        want = {"chat": alone(engine, chat), "comp": alone(engine, comp)}
        held: list[str | None] = []

        def note_owner(n: int) -> None:
            owner = backend._graph_owner
            held.append(owner.request_id if isinstance(owner, Request) else None)

        trace = Trace()
        drive(scheduler(engine, trace), trace, {0: [chat], 6: [comp]}, each=note_owner)
    finally:
        backend.graphs = None
    assert "chat" in held and "comp" not in held  # the chat kept them while paused
    assert held[-1] is None  # given back at its end
    for rid, ref in want.items():
        assert trace.done(rid).text == ref.text


async def test_status_shows_the_scheduler(jp_fetch: Any) -> None:
    import json

    from .conftest import wait_ready

    assert (await wait_ready(jp_fetch))["state"] == "ready"
    body = json.dumps({"request_id": "s1", "prefix": "import os\nx = ", "max_tokens": 2})
    await jp_fetch("jupyter-assist", "complete", method="POST", body=body)
    stats = json.loads((await jp_fetch("jupyter-assist", "status")).body)["stats"]
    assert stats["queued"] == 0 and stats["running_kv_budget_bytes"] > 0
    assert stats["batch_sizes"].get("1", 0) >= 1 and sum(stats["running_sizes"].values()) == stats["batch_sizes"]["1"]


def test_a_long_prefill_runs_in_chunks_between_the_batch_passes(engine: Engine) -> None:
    """A chat with a long prompt arrives while two chats decode in a batch: its prompt is
    fed in chunks of at most `prefill_chunk` (32) tokens, one between each two passes of
    the running rows, so they never wait more than one chunk; then it joins their batch."""
    chats = [make("a", 2, PRIORITY_CHAT, 40, "plain"), make("b", 3, PRIORITY_CHAT, 40, "plain")]
    late = Request("late", NOTEBOOK * 2 + "total = x5", GenerationParams(max_tokens=6, loop_guard=False))
    want = {r.request_id: alone(engine, r) for r in [*chats, late]}
    backend = engine.backend
    backend.prefix_cache.clear()
    trace = Trace()
    passes: list[tuple[str, int]] = []  # ("prefill <id>", tokens) or ("batch", rows), in order
    real_forward, real_run = backend._forward, backend.batch.run

    def forward(ids: list[int], cache: Any, last: bool = False) -> Any:
        if last:  # a prefill chunk (only its last position's logits)
            passes.append((f"prefill {trace.current}", len(ids)))
        return real_forward(ids, cache, last=last)

    def run(feeds: dict[Any, list[int]]) -> dict[Any, Any]:
        passes.append(("batch", len(feeds)))
        return real_run(feeds)

    sched = scheduler(engine, trace, batched=True)
    backend._forward, backend.batch.run = forward, run  # type: ignore[method-assign]
    try:
        for r in chats:
            sched.add(r)
        while backend.batch.size < 2:
            sched.step()
        arrive = len(passes)
        sched.add(late)
        while sched.busy():
            sched.step()
    finally:
        backend._forward, backend.batch.run = real_forward, real_run  # type: ignore[method-assign]
    check_same(trace, want)
    after = passes[arrive:]
    chunks = [i for i, (kind, _) in enumerate(after) if kind == "prefill late"]
    sizes = [after[i][1] for i in chunks]
    assert len(chunks) >= 5 and max(sizes) <= 32 and sum(sizes) == len(backend.encode(late.prompt)), sizes
    assert chunks[0] <= 1  # it starts at once (the batch may have its turn first)
    for i, j in itertools.pairwise(chunks):  # between two chunks, one pass of both running rows
        assert after[i + 1 : j] == [("batch", 2)], after[i:j]
    assert ("batch", 3) in after[chunks[-1] :]  # then it decoded in their batch
