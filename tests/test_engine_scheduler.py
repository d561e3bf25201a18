"""Many requests at once: step-level scheduling must not change a token, and a completion
never waits for a chat (fp32, the tiny model)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jupyter_assist.engine import Engine, GenerationParams, Request
from jupyter_assist.engine.scheduler import Scheduler
from jupyter_assist.engine.types import PRIORITY_CHAT, PRIORITY_COMPLETE, PRIORITY_EDIT, PRIORITY_WARM, Event

from .conftest import running_engine

NOTEBOOK = "".join(f"x{i} = compute({i}, scale=0.5)\nprint(x{i})\n" for i in range(12))
PROMPTS = (NOTEBOOK + "total = x1", NOTEBOOK + "total = x3 +", "def walk(path):\n    for root in path:\n", "import os\n")
DRAFT = "x1 = compute(1, scale=0.5)\nprint(x1)\n"


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    # A small prefill chunk, so the notebook prompts' prefills take several steps. CPU fp32
    # everywhere: exact equality is claimed there (graph and eager passes round apart).
    with running_engine(tiny_model_dir, tmp_path_factory.mktemp("cache"), spec_chunk=8, prefill_chunk=32) as e:
        yield e


@dataclass
class Trace:
    """What one scheduler run did: each request's events and the step it was advanced at."""

    events: dict[str, list[Event]] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)  # request advanced at each step
    running: list[int] = field(default_factory=list)  # started requests after each step
    current: str = ""  # the request being advanced
    logits: dict[str, list[Any]] = field(default_factory=dict)  # of each decode or verify pass

    def done(self, rid: str) -> Event:
        ev = self.events[rid][-1]
        assert ev.kind == "done", ev
        return ev


def scheduler(engine: Engine, trace: Trace, budget: int = 1 << 40) -> Scheduler:
    """The engine's scheduling of `_serve` steps, driven from the test thread (the
    engine's worker idles meanwhile), recording which request each step advanced."""

    def start(req: Request) -> Iterator[None]:
        rid = req.request_id
        trace.events[rid] = []
        req.emit = trace.events[rid].append
        steps = engine._serve(req)
        while True:
            trace.current = rid
            try:
                next(steps)
            except StopIteration:
                break
            trace.steps.append(rid)
            yield
        trace.steps.append(rid)

    return Scheduler(start, engine._kv_bytes, lambda: budget)


def drive(sched: Scheduler, trace: Trace, arrivals: dict[int, list[Request]], limit: int = 5000) -> None:
    """Step until everything ends, adding each request at its arrival step."""
    for n in range(limit):
        for req in arrivals.pop(n, []):
            sched.add(req)
        if not sched.busy() and not arrivals:
            return
        sched.step()
        trace.running.append(len(sched.running))
    raise AssertionError("the scheduler did not finish")


class recording:
    """Keeps the logits of every pass past the prompt (decode steps, verify chunks) under
    the request `trace.current` names: the model's view of each request's K/V, more
    sensitive than the tiny model's text, which mostly follows the last token."""

    def __init__(self, engine: Engine, trace: Trace) -> None:
        self.backend, self.trace = engine.backend, trace

    def __enter__(self) -> Trace:
        real = self.real = self.backend._forward

        def forward(ids: list[int], cache: Any, last: bool = False) -> Any:
            out = real(ids, cache, last=last)
            if not last:  # a prefill's chunks depend on what the prefix cache held
                self.trace.logits.setdefault(self.trace.current, []).append(out.clone())
            return out

        self.backend._forward = forward
        return self.trace

    def __exit__(self, *exc: Any) -> None:
        self.backend._forward = self.real


def alone(engine: Engine, req: Request) -> Event:
    """`req` by itself, from a cold prefix cache."""
    return alone_traced(engine, req)[0]


def alone_traced(engine: Engine, req: Request) -> tuple[Event, list[Any]]:
    backend = engine.backend
    saved = backend.prefix_cache.max_bytes
    backend.prefix_cache.max_bytes = 0
    backend.prefix_cache.clear()
    trace = Trace(current=req.request_id)
    try:
        events: list[Event] = []
        with recording(engine, trace):
            backend.generate(req, events.append)
    finally:
        backend.prefix_cache.max_bytes = saved
    assert events[-1].kind == "done"
    return events[-1], trace.logits.get(req.request_id, [])


def same_logits(got: list[Any], want: list[Any]) -> bool:
    import torch

    return len(got) == len(want) and all(torch.allclose(g, w, atol=1e-4, rtol=1e-4) for g, w in zip(got, want))


def make(rid: str, prompt: int, priority: int, max_tokens: int, mode: str) -> Request:
    params = GenerationParams(max_tokens=max_tokens, loop_guard=False, lookup=mode != "plain")
    if mode == "warm":
        return Request(rid, PROMPTS[prompt], GenerationParams(max_tokens=1), priority=PRIORITY_WARM, kind="warm")
    return Request(rid, PROMPTS[prompt], params, priority=priority, draft=DRAFT if mode == "draft" else None)


def fresh(req: Request) -> Request:
    return Request(req.request_id, req.prompt, req.params, priority=req.priority, draft=req.draft, kind=req.kind)


request_specs = st.lists(
    st.tuples(
        st.integers(0, 40),  # arrival step
        st.integers(0, len(PROMPTS) - 1),
        st.sampled_from([PRIORITY_COMPLETE, PRIORITY_EDIT, PRIORITY_CHAT]),
        st.integers(1, 10),  # max_tokens
        st.sampled_from(["plain", "lookup", "draft", "warm"]),
    ),
    min_size=2,
    max_size=4,
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=request_specs)
# A warmed prompt, taken by the first request; the second, with the same prompt while the
# first runs, must not get the K/V the first is using.
@example(specs=[(0, 0, PRIORITY_CHAT, 1, "warm"), (14, 0, PRIORITY_CHAT, 10, "plain"), (17, 0, PRIORITY_COMPLETE, 6, "plain")])
def test_interleaved_requests_equal_each_alone(engine: Engine, specs: list[tuple[int, int, int, int, str]]) -> None:
    reqs = {f"r{i}": (at, make(f"r{i}", p, prio, n, mode)) for i, (at, p, prio, n, mode) in enumerate(specs)}
    want = {rid: alone_traced(engine, fresh(r)) for rid, (_, r) in reqs.items() if r.kind == "generate"}
    engine.backend.prefix_cache.clear()
    trace = Trace()
    arrivals: dict[int, list[Request]] = {}
    for at, r in reqs.values():
        arrivals.setdefault(at, []).append(r)
    with recording(engine, trace):
        drive(scheduler(engine, trace), trace, arrivals)
    for rid, (ref, ref_logits) in want.items():
        got = trace.done(rid)
        assert (got.text, got.finish_reason, got.completion_tokens) == (ref.text, ref.finish_reason, ref.completion_tokens), rid
        assert "".join(e.text for e in trace.events[rid][:-1]) == got.text
        assert same_logits(trace.logits.get(rid, []), ref_logits), rid


def test_a_completion_starts_at_the_next_step_and_ends_first(engine: Engine) -> None:
    chat = make("chat", 0, PRIORITY_CHAT, 40, "plain")
    comp = make("comp", 1, PRIORITY_COMPLETE, 6, "lookup")
    want = {"chat": alone(engine, fresh(chat)), "comp": alone(engine, fresh(comp))}
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
    reqs = [make("a", 0, PRIORITY_CHAT, 20, "plain"), make("b", 2, PRIORITY_EDIT, 12, "draft"), make("c", 3, PRIORITY_COMPLETE, 8, "lookup")]
    want = {r.request_id: alone(engine, fresh(r)) for r in reqs}
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
    want = {r.request_id: alone(engine, fresh(r)) for r in reqs}
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
        want = {"chat": alone(engine, fresh(chat)), "comp": alone(engine, fresh(comp))}
        held: list[str | None] = []
        trace = Trace()
        sched = scheduler(engine, trace)
        arrivals = {0: [chat], 6: [comp]}
        for n in range(5000):
            for r in arrivals.pop(n, []):
                sched.add(r)
            if not sched.busy() and not arrivals:
                break
            sched.step()
            owner = backend._graph_owner
            held.append(owner.request_id if isinstance(owner, Request) else None)
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
