"""Batched decoding: requests advanced together in one forward pass give what each gives
alone (fp32, the tiny model), a completion still runs at the next pass and ends first,
cancelling one row leaves the others unchanged, and the K/V budget holds."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings

from jupyter_assist.engine import Engine, GenerationParams, Request
from jupyter_assist.engine.kvcache import cache_bytes
from jupyter_assist.engine.scheduler import Scheduler
from jupyter_assist.engine.types import PRIORITY_CHAT, PRIORITY_COMPLETE, PRIORITY_EDIT

from .conftest import running_engine
from .engine_trace import NOTEBOOK, PROMPTS, Trace, alone, alone_traced, arrivals_of, check_logits, drive, make, recording, scheduler, specs_of
from .engine_trace import check_same as check_same_alone


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tiny_model_dir, tmp_path_factory.mktemp("cache"), spec_chunk=8, prefill_chunk=32) as e:
        yield e


def batched(engine: Engine, trace: Trace, budget: int = 1 << 40) -> Scheduler:
    """`scheduler` with the backend's batch: a step may advance several requests."""
    return scheduler(engine, trace, budget, batched=True)


class recording_rows(recording):
    """`recording`, and each row's logits from the batched passes, under its request: the
    model's view of each request's K/V (positions, masks), which the tiny model's text
    barely shows."""

    def __enter__(self) -> Trace:
        super().__enter__()
        batch = self.backend.batch
        real = self.real_run = batch.run

        def run(feeds: dict[Any, list[int]]) -> dict[Any, Any]:
            out = real(feeds)
            for row, logits in out.items():
                self.trace.logits.setdefault(row.owner.request_id, []).append(logits.clone())
            return out

        batch.run = run
        return self.trace

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        self.backend.batch.run = self.real_run


def check_same(engine: Engine, trace: Trace, want: dict[str, Any]) -> None:
    check_same_alone(trace, want)
    assert engine.backend.batch.size == 0  # every row left


request_specs = specs_of(last_arrival=30, most_tokens=24, modes=["plain", "plain", "sampled", "lookup", "draft", "warm"], most=5)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=request_specs)
@example(
    specs=[
        (0, 0, PRIORITY_CHAT, 20, "plain"),
        (0, 2, PRIORITY_CHAT, 20, "plain"),
        (3, 3, PRIORITY_EDIT, 12, "sampled"),
        (9, 1, PRIORITY_COMPLETE, 6, "lookup"),
    ]
)
def test_batched_requests_equal_each_alone(engine: Engine, specs: list[tuple[int, int, int, int, str]]) -> None:
    reqs = {f"r{i}": (at, make(f"r{i}", p, prio, n, mode)) for i, (at, p, prio, n, mode) in enumerate(specs)}
    traced = {rid: alone_traced(engine, r) for rid, (_, r) in reqs.items() if r.kind == "generate"}
    engine.backend.prefix_cache.clear()
    trace = Trace()
    sched = batched(engine, trace)
    with recording_rows(engine, trace):
        drive(sched, trace, arrivals_of(reqs))
    check_same(engine, trace, {rid: ev for rid, (ev, _) in traced.items()})
    check_logits(trace, traced)


def test_decode_steps_share_passes(engine: Engine) -> None:
    reqs = [make(f"p{i}", 2 + i % 2, PRIORITY_CHAT, 20, "sampled" if i == 3 else "plain") for i in range(4)]
    traced = {r.request_id: alone_traced(engine, r) for r in reqs}
    trace = Trace()
    sched = batched(engine, trace)
    with recording_rows(engine, trace):
        drive(sched, trace, {0: reqs})
    check_same(engine, trace, {rid: ev for rid, (ev, _) in traced.items()})
    check_logits(trace, traced)
    stats = sched.stats()
    assert max(sched.batch_sizes) == 4 and stats["batch_sizes"]["4"] >= 10 and stats["batch_rows"] == 0


def proposed_accepted(engine: Engine) -> tuple[int, int]:
    s = engine.backend.spec_stats
    if isinstance(s, dict):
        return s["proposed"] + s["lookup_proposed"], s["accepted"] + s["lookup_accepted"]
    return s.proposed + s.lookup_proposed, s.accepted + s.lookup_accepted


def test_verify_chunks_share_passes_and_roll_back(engine: Engine) -> None:
    """Drafts and prompt lookup in the batch: rows feed chunks of different lengths, and
    the rejected part of each is rolled back."""
    reqs = [
        make("d0", 0, PRIORITY_EDIT, 24, "draft"),
        make("d1", 2, PRIORITY_EDIT, 24, "draft"),
        make("l2", 1, PRIORITY_EDIT, 24, "lookup"),
        make("p3", 3, PRIORITY_EDIT, 24, "plain"),
    ]
    for r in reqs[:2]:  # drafts the answers mostly copy: accepted chunks, then a rejected part
        text = alone(engine, make("g", PROMPTS.index(r.prompt), PRIORITY_EDIT, 24, "plain")).text
        r.draft = text[: len(text) // 2] + " = 1\n" + text[len(text) // 2 :]
    traced = {r.request_id: alone_traced(engine, r) for r in reqs}
    before = proposed_accepted(engine)
    trace = Trace()
    sched = batched(engine, trace)
    widths: list[int] = []
    batch = engine.backend.batch
    real = batch.run
    batch.run = lambda feeds: (widths.append(len({len(v) for v in feeds.values()})), real(feeds))[1]  # type: ignore[method-assign]
    try:
        with recording_rows(engine, trace):
            drive(sched, trace, {0: reqs})
    finally:
        batch.run = real  # type: ignore[method-assign]
    check_same(engine, trace, {rid: ev for rid, (ev, _) in traced.items()})
    check_logits(trace, traced)
    after = proposed_accepted(engine)
    assert after[0] - before[0] > after[1] - before[1]  # some drafted tokens were rolled back
    assert max(widths) > 1 and sched.batch_sizes[4] > 0  # rows of different lengths in one pass


def test_a_completion_arriving_during_a_long_generation_finishes_first(engine: Engine) -> None:
    chats = [make("chat", 0, PRIORITY_CHAT, 60, "plain"), make("chat2", 2, PRIORITY_CHAT, 60, "sampled")]
    comp = make("comp", 1, PRIORITY_COMPLETE, 6, "plain")
    want = {r.request_id: alone(engine, r) for r in [*chats, comp]}
    trace = Trace()
    sched = batched(engine, trace)
    for r in chats:
        sched.add(r)
    while engine.backend.batch.size < 2:  # both chats decoding in a batch
        sched.step()
    sched.add(comp)
    arrive = len(trace.steps)
    groups: list[set[str]] = []  # what each step advanced, from its arrival to its end
    while sched.busy():
        n = len(trace.steps)
        sched.step()
        groups.append(set(trace.steps[n:]))
    check_same(engine, trace, want)
    assert trace.steps[arrive] == "comp"  # its first prefill chunk runs at the very next step
    end = max(i for i, g in enumerate(groups) if "comp" in g)
    assert all("comp" in g for g in groups[: end + 1])  # no pass left it out until it ended
    assert any(g == {"chat", "chat2"} for g in groups[end + 1 :])  # the chats went on after it
    assert sched.batch_sizes[3] > 0  # it decoded in the chats' batch


def test_cancelling_one_row_leaves_the_others_unchanged(engine: Engine) -> None:
    reqs = [
        make("a", 0, PRIORITY_CHAT, 30, "plain"),
        make("b", 2, PRIORITY_CHAT, 30, "draft"),
        make("c", 3, PRIORITY_CHAT, 30, "sampled"),
        make("d", 1, PRIORITY_CHAT, 30, "lookup"),
    ]
    want = {r.request_id: alone(engine, r) for r in reqs}
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


def budgeted(engine: Engine, reqs: list[Request], times: int) -> tuple[dict[str, Any], int, Trace, Any, Any]:
    """Each request's answer alone, and a batched scheduler whose K/V budget is `times` the
    largest request's: (answers, budget, trace, scheduler, the backend's batch)."""
    want = {r.request_id: alone(engine, r) for r in reqs}
    budget = times * max(engine._kv_bytes(r) for r in reqs)
    trace = Trace()
    return want, budget, trace, batched(engine, trace, budget), engine.backend.batch


def test_the_kv_budget_holds_under_many_arrivals(engine: Engine) -> None:
    reqs = [make(f"q{i}", i % 4, PRIORITY_CHAT if i % 3 else PRIORITY_EDIT, 12, "plain" if i % 2 else "sampled") for i in range(12)]
    want, budget, trace, sched, batch = budgeted(engine, reqs, 4)
    rows: list[int] = []
    waits: list[int] = []

    def check_step(n: int) -> None:
        assert sched.held_bytes() <= budget
        rows.append(batch.size)
        waits.append(len(sched.waiting))

    drive(sched, trace, {i: [r] for i, r in enumerate(reqs)}, each=check_step)
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
    want = {r.request_id: alone(engine, r) for r in again}
    trace = Trace()
    drive(batched(engine, trace), trace, {0: again})
    check_same(engine, trace, want)


def batch_kv_bytes(batch: Any) -> int:
    """What the batch's K/V tensors take (their spare room and pad columns included)."""
    return sum(t.nbytes for layer in batch.layers for t in (layer.keys, layer.values) if t is not None)


class held_caches:
    """Every `DynamicCache` a request takes (new or from the prefix cache), to sum what
    the started requests hold outside the batch at each step."""

    def __init__(self, engine: Engine) -> None:
        self.backend = engine.backend
        self.caches: weakref.WeakSet[Any] = weakref.WeakSet()

    def __enter__(self) -> held_caches:
        b = self.backend
        self.real_new, self.real_take = b._new_cache, b.prefix_cache.take

        def new() -> Any:
            c = self.real_new()
            self.caches.add(c)
            return c

        def take(ids: Any) -> Any:
            got = self.real_take(ids)
            if got[0] is not None:
                self.caches.add(got[0])
            return got

        b._new_cache, b.prefix_cache.take = new, take  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        self.backend._new_cache, self.backend.prefix_cache.take = self.real_new, self.real_take  # type: ignore[method-assign]

    def outside_bytes(self) -> int:
        stored = {id(c) for c, _, _ in self.backend.prefix_cache._entries.values()}
        return sum(cache_bytes(c) for c in list(self.caches) if id(c) not in stored)


def test_the_batch_kv_allocated_stays_within_the_budget_under_mixed_arrivals(engine: Engine) -> None:
    """The bytes really allocated (the batch's tensors with their spare rows, columns and
    the short rows' pad columns, plus the started requests' own caches), not the requests'
    estimates, stay within the budget, while long and short requests arrive and batch."""
    long_prompt = NOTEBOOK * 2 + "total = x5"
    prompts = [long_prompt, PROMPTS[2], PROMPTS[3], PROMPTS[0], "x = 1\n", PROMPTS[1]]
    reqs = []
    for i in range(16):
        params = GenerationParams(max_tokens=4 + (7 * i) % 23, loop_guard=False, lookup=i % 5 == 4)
        reqs.append(Request(f"k{i}", prompts[i % len(prompts)], params, priority=(PRIORITY_CHAT, PRIORITY_EDIT, PRIORITY_COMPLETE)[i % 3]))
    want, budget, trace, sched, batch = budgeted(engine, reqs, 2)
    rows: list[int] = []
    waits: list[int] = []
    with held_caches(engine) as held:

        def check_step(n: int) -> None:
            in_batch = batch_kv_bytes(batch)
            assert in_batch <= budget, (n, in_batch, budget)
            assert in_batch + held.outside_bytes() <= budget, (n, in_batch, held.outside_bytes(), budget)
            rows.append(batch.size)
            waits.append(len(sched.waiting))

        drive(sched, trace, {2 * i: [r] for i, r in enumerate(reqs)}, each=check_step)
    assert max(rows) >= 3 and max(waits) > 0  # it batched, and some requests waited
    check_same(engine, trace, want)


def test_rows_that_outgrow_the_room_leave_the_batch_with_their_kv(engine: Engine) -> None:
    """Two rows of different lengths: the short one's pad columns grow with the long one,
    past the two requests' reservations; the later row then goes back to its own cache
    (nothing recomputed: the same answer), and the memory stays bounded."""
    params = GenerationParams(max_tokens=60, loop_guard=False)
    reqs = [Request("long", PROMPTS[2] * 3, params), Request("short", PROMPTS[3], params)]
    want = {r.request_id: alone(engine, r) for r in reqs}
    assert all(w.completion_tokens == 60 for w in want.values())
    budget = sum(engine._kv_bytes(r) for r in reqs)
    trace = Trace()
    sched = batched(engine, trace, budget)
    batch = engine.backend.batch
    before = batch.evictions
    rows: list[int] = []
    with held_caches(engine) as held:
        for r in reqs:
            sched.add(r)
        while sched.busy():
            sched.step()
            assert batch_kv_bytes(batch) + held.outside_bytes() <= budget
            assert sched.stats()["batch_kv_bytes"] == batch.allocated_bytes() <= budget
            rows.append(batch.size)
    # Batched, then apart for good (the later one on its own cache: it does not fit again).
    first = rows.index(1)
    assert batch.evictions == before + 1 and rows.count(2) > 20 and rows[first:].count(1) >= 3 and 2 not in rows[first:], rows
    assert sched.stats()["batch_evictions"] == batch.evictions
    check_same(engine, trace, want)


def test_a_completion_that_fits_the_budget_but_not_the_batch_starts_at_once(engine: Engine) -> None:
    """The requests' bounds leave room for a completion, the batch's tensors (the short
    chat's pad columns) do not: the batch gives back its spare, then its lower-ranked row
    (the later chat, onto its own cache), and the completion starts at the next step."""
    params = GenerationParams(max_tokens=60, loop_guard=False)
    chats = [Request("long", PROMPTS[2] * 3, params), Request("short", PROMPTS[3], params)]
    comp = Request("comp", PROMPTS[3], GenerationParams(max_tokens=30, loop_guard=False), priority=PRIORITY_COMPLETE)
    want = {r.request_id: alone(engine, r) for r in [*chats, comp]}
    need = engine._kv_bytes(comp)
    budget = sum(engine._kv_bytes(r) for r in chats) + need
    trace = Trace()
    sched = batched(engine, trace, budget)
    batch = engine.backend.batch
    before = batch.evictions
    with held_caches(engine) as held:

        def check(n: int = 0) -> None:
            assert batch_kv_bytes(batch) + held.outside_bytes() <= budget

        for r in chats:
            sched.add(r)
        # Until both rows, packed without spare, no longer fit beside the completion.
        while batch.size < 2 or 2 * (max(r.pos for r in batch.rows) + 1) * batch.cell_bytes <= budget - need:
            sched.step()
            check()
        assert batch.evictions == before
        sched.add(comp)
        arrive = len(trace.steps)
        drive(sched, trace, {}, each=check)
    assert trace.steps[arrive] == "comp" and batch.evictions == before + 1
    check_same(engine, trace, want)


def test_a_verify_chunk_stays_within_its_reserve(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request's K/V may grow to prompt + max_tokens (what the scheduler reserves): the
    draft's first chunk (spec_chunk, 8 here) is cut to what the answer may still take."""
    from jupyter_assist.engine import local

    greedy = alone(engine, make("g", 0, PRIORITY_EDIT, 16, "plain")).text  # a draft the model takes whole
    req = Request("v", PROMPTS[0], GenerationParams(max_tokens=3, loop_guard=False), priority=PRIORITY_EDIT, draft=greedy)
    fed: list[int] = []
    real = local.feed_steps

    def spy(session: Any, ids: list[int], cancelled: Any) -> Any:
        fed.append(session.length + len(ids))
        return real(session, ids, cancelled)

    monkeypatch.setattr(local, "feed_steps", spy)
    done = alone(engine, req)
    prompt = done.prompt_tokens
    assert fed and max(fed) <= prompt + 3, (fed, prompt)
    assert done.completion_tokens == 3 and greedy.startswith(done.text)
