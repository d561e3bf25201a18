"""Batched decoding: requests advanced together in one forward pass give what each gives
alone (fp32, the tiny model), a completion still runs at the next pass and ends first,
cancelling one row leaves the others unchanged, and the K/V budget holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jupyter_assist.engine import Engine, GenerationParams, LoadOptions, Request
from jupyter_assist.engine.scheduler import Scheduler
from jupyter_assist.engine.types import PRIORITY_CHAT, PRIORITY_COMPLETE, PRIORITY_EDIT, PRIORITY_WARM

from .test_engine import wait_loaded
from .test_engine_scheduler import DRAFT, PROMPTS, Trace, alone, drive, fresh

SAMPLED = {"temperature": 0.8, "top_p": 0.9, "seed": 7}


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    opts = LoadOptions(device="cpu", dtype="float32", quantization="none", threads=1, spec_chunk=8, prefill_chunk=32)
    e = Engine(str(tiny_model_dir), opts, tmp_path_factory.mktemp("cache"))
    e.start()
    wait_loaded(e)
    assert e.status.state == "ready", e.status.error
    yield e
    e.shutdown()


def batched(engine: Engine, trace: Trace, budget: int = 1 << 40) -> Scheduler:
    """The engine's scheduling of `_serve` steps with the backend's batch, driven from the
    test thread, recording which requests each step advanced."""

    def start(req: Request) -> Iterator[None]:
        rid = req.request_id
        trace.events[rid] = []
        req.emit = trace.events[rid].append
        steps = engine._serve(req)
        while True:
            try:
                next(steps)
            except StopIteration:
                break
            trace.steps.append(rid)
            yield
        trace.steps.append(rid)

    backend = engine.backend
    return Scheduler(start, engine._kv_bytes, lambda: budget, lambda: backend.batch)


def drive_marked(sched: Scheduler, trace: Trace, arrivals: dict[int, list[Request]]) -> list[int]:
    """`drive`, returning where each step's entries start in `trace.steps` (a batched
    step advances several requests)."""
    marks: list[int] = []
    for n in range(5000):
        for req in arrivals.pop(n, []):
            sched.add(req)
        if not sched.busy() and not arrivals:
            return marks
        marks.append(len(trace.steps))
        sched.step()
    raise AssertionError("the scheduler did not finish")


def make(rid: str, prompt: int, priority: int, max_tokens: int, mode: str) -> Request:
    if mode == "warm":
        return Request(rid, PROMPTS[prompt], GenerationParams(max_tokens=1), priority=PRIORITY_WARM, kind="warm")
    extra = SAMPLED if mode == "sampled" else {}
    params = GenerationParams(max_tokens=max_tokens, loop_guard=False, lookup=mode == "lookup", **extra)  # type: ignore[arg-type]
    return Request(rid, PROMPTS[prompt], params, priority=priority, draft=DRAFT if mode == "draft" else None)


def check_same(engine: Engine, trace: Trace, want: dict[str, Any]) -> None:
    for rid, ref in want.items():
        got = trace.done(rid)
        assert (got.text, got.finish_reason, got.completion_tokens) == (ref.text, ref.finish_reason, ref.completion_tokens), rid
        assert "".join(e.text for e in trace.events[rid][:-1]) == got.text
    assert engine.backend.batch.size == 0  # every row left


request_specs = st.lists(
    st.tuples(
        st.integers(0, 30),  # arrival step
        st.integers(0, len(PROMPTS) - 1),
        st.sampled_from([PRIORITY_COMPLETE, PRIORITY_EDIT, PRIORITY_CHAT]),
        st.integers(1, 24),  # max_tokens
        st.sampled_from(["plain", "plain", "sampled", "lookup", "draft", "warm"]),
    ),
    min_size=2,
    max_size=5,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=request_specs)
@example(specs=[(0, 0, PRIORITY_CHAT, 20, "plain"), (0, 2, PRIORITY_CHAT, 20, "plain"), (3, 3, PRIORITY_EDIT, 12, "sampled"),
                (9, 1, PRIORITY_COMPLETE, 6, "lookup")])
def test_batched_requests_equal_each_alone(engine: Engine, specs: list[tuple[int, int, int, int, str]]) -> None:
    reqs = {f"r{i}": (at, make(f"r{i}", p, prio, n, mode)) for i, (at, p, prio, n, mode) in enumerate(specs)}
    want = {rid: alone(engine, fresh(r)) for rid, (_, r) in reqs.items() if r.kind == "generate"}
    engine.backend.prefix_cache.clear()
    trace = Trace()
    arrivals: dict[int, list[Request]] = {}
    for at, r in reqs.values():
        arrivals.setdefault(at, []).append(r)
    sched = batched(engine, trace)
    drive(sched, trace, arrivals)
    check_same(engine, trace, want)


def test_decode_steps_share_passes(engine: Engine) -> None:
    reqs = [make(f"p{i}", 2 + i % 2, PRIORITY_CHAT, 20, "sampled" if i == 3 else "plain") for i in range(4)]
    want = {r.request_id: alone(engine, fresh(r)) for r in reqs}
    trace = Trace()
    sched = batched(engine, trace)
    drive(sched, trace, {0: reqs})
    check_same(engine, trace, want)
    assert max(sched.batch_sizes) == 4 and sched.stats()["batch_sizes"]["4"] >= 10


def test_a_completion_arriving_during_a_long_generation_finishes_first(engine: Engine) -> None:
    chats = [make("chat", 0, PRIORITY_CHAT, 60, "plain"), make("chat2", 2, PRIORITY_CHAT, 60, "sampled")]
    comp = make("comp", 1, PRIORITY_COMPLETE, 6, "plain")
    want = {r.request_id: alone(engine, fresh(r)) for r in [*chats, comp]}
    trace = Trace()
    sched = batched(engine, trace)
    arrive = 20  # both chats are decoding in a batch by then
    marks = drive_marked(sched, trace, {0: chats, arrive: [comp]})
    check_same(engine, trace, want)
    assert trace.steps[marks[arrive] :][:1] == ["comp"]  # its first prefill chunk runs at the very next step
    ends = {rid: max(i for i, s in enumerate(trace.steps) if s == rid) for rid in want}
    assert ends["comp"] < min(ends["chat"], ends["chat2"])
    assert sched.batch_sizes[3] > 0  # it decoded in the chats' batch


def test_cancelling_one_row_leaves_the_others_unchanged(engine: Engine) -> None:
    reqs = [make("a", 0, PRIORITY_CHAT, 30, "plain"), make("b", 2, PRIORITY_CHAT, 30, "draft"),
            make("c", 3, PRIORITY_CHAT, 30, "sampled"), make("d", 1, PRIORITY_CHAT, 30, "lookup")]
    want = {r.request_id: alone(engine, fresh(r)) for r in reqs}
    trace = Trace()
    sched = batched(engine, trace)
    batch = engine.backend.batch
    for r in reqs:
        sched.add(r)
    for _ in range(5000):
        if batch.size == 4 and not reqs[1].cancelled.is_set():
            reqs[1].cancelled.set()  # `b` is a row of the batch now
            sched.step()  # that one step ends it
            assert all(s.req.request_id != "b" for s in sched.running) and batch.size == 3
            continue
        if not sched.busy():
            break
        sched.step()
    assert reqs[1].cancelled.is_set()
    assert trace.done("b").finish_reason == "cancelled"
    del want["b"]
    check_same(engine, trace, want)


def test_the_kv_budget_holds_under_many_arrivals(engine: Engine) -> None:
    reqs = [make(f"q{i}", i % 4, PRIORITY_CHAT if i % 3 else PRIORITY_EDIT, 12, "plain" if i % 2 else "sampled") for i in range(12)]
    want = {r.request_id: alone(engine, fresh(r)) for r in reqs}
    budget = 3 * max(engine._kv_bytes(r) for r in reqs)
    trace = Trace()
    sched = batched(engine, trace, budget)
    batch = engine.backend.batch
    rows: list[int] = []
    waits: list[int] = []
    arrivals = {i: [r] for i, r in enumerate(reqs)}
    for n in range(5000):
        for r in arrivals.pop(n, []):
            sched.add(r)
        if not sched.busy() and not arrivals:
            break
        sched.step()
        assert sched.held_bytes() <= budget
        rows.append(batch.size)
        waits.append(len(sched.waiting))
    # It batched, and the budget (not the arrivals) bounded the rows: some waited.
    assert max(rows) >= 3 and sched.running_peak < len(reqs) and max(waits) > 0
    check_same(engine, trace, want)


def test_out_of_memory_in_a_batched_pass_fails_its_rows_and_the_engine_goes_on(engine: Engine) -> None:
    import torch

    batch = engine.backend.batch
    real, calls = batch.model, []

    def failing(**kw: Any) -> Any:  # the third batched pass runs out of memory
        calls.append(kw["input_ids"].shape[0])
        if len(calls) == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(**kw)

    reqs = [make("m0", 2, PRIORITY_CHAT, 20, "plain"), make("m1", 3, PRIORITY_CHAT, 20, "sampled")]
    trace = Trace()
    batch.model = failing
    try:
        drive(batched(engine, trace), trace, {0: reqs})
    finally:
        batch.model = real
    assert calls[2] == 2  # both rows were in the failing pass
    for rid in ("m0", "m1"):
        ev = trace.events[rid][-1]
        assert ev.kind == "error" and "Out of memory" in ev.message, ev
    assert batch.size == 0 and not batch.pending
    again = [make("n0", 2, PRIORITY_CHAT, 8, "plain"), make("n1", 3, PRIORITY_CHAT, 8, "plain")]
    want = {r.request_id: alone(engine, fresh(r)) for r in again}
    trace = Trace()
    drive(batched(engine, trace), trace, {0: again})
    check_same(engine, trace, want)
