"""Driving the engine's scheduler from a test thread and recording what each step did:
shared by test_engine_scheduler (one request per step) and test_engine_batch (batched
steps). fp32 on the tiny model, where a request's tokens and logits must not depend on
what ran beside it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from jupyter_assist.engine import Engine, GenerationParams, Request
from jupyter_assist.engine.scheduler import Scheduler
from jupyter_assist.engine.types import PRIORITY_CHAT, PRIORITY_COMPLETE, PRIORITY_EDIT, PRIORITY_WARM, Event

NOTEBOOK = "".join(f"x{i} = compute({i}, scale=0.5)\nprint(x{i})\n" for i in range(12))
PROMPTS = (NOTEBOOK + "total = x1", NOTEBOOK + "total = x3 +", "def walk(path):\n    for root in path:\n", "import os\n")
DRAFT = "x1 = compute(1, scale=0.5)\nprint(x1)\n"
SAMPLED = {"temperature": 0.8, "top_p": 0.9, "seed": 7}


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


def scheduler(engine: Engine, trace: Trace, budget: int = 1 << 40, batched: bool = False) -> Scheduler:
    """The engine's scheduling of `_serve` steps (with the backend's batch if `batched`),
    driven from the test thread (the engine's worker idles meanwhile), recording which
    requests each step advanced."""

    def start(req: Request) -> Iterator[None]:
        rid = req.request_id
        trace.events[rid] = []
        req.emit = trace.events[rid].append
        steps = engine._serve(req)
        while True:
            trace.current = rid  # a pass it runs alone is recorded under it
            try:
                next(steps)
            except StopIteration:
                break
            trace.steps.append(rid)
            yield
        trace.steps.append(rid)

    backend = engine.backend
    return Scheduler(start, engine._kv_bytes, lambda: budget, (lambda: backend.batch) if batched else lambda: None)


def drive(
    sched: Scheduler, trace: Trace, arrivals: dict[int, list[Request]], each: Callable[[int], None] = lambda n: None, limit: int = 5000
) -> None:
    """Step until everything ends, adding each request at its arrival step; `each(n)`
    runs after step n."""
    for n in range(limit):
        for req in arrivals.pop(n, []):
            sched.add(req)
        if not sched.busy() and not arrivals:
            return
        sched.step()
        trace.running.append(len(sched.running))
        each(n)
    raise AssertionError("the scheduler did not finish")


def arrivals_of(reqs: dict[str, tuple[int, Request]]) -> dict[int, list[Request]]:
    """The requests by arrival step, from {id: (arrival step, request)}."""
    arrivals: dict[int, list[Request]] = {}
    for at, r in reqs.values():
        arrivals.setdefault(at, []).append(r)
    return arrivals


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
    """A copy of `req` by itself, from a cold prefix cache."""
    return alone_traced(engine, req)[0]


def alone_traced(engine: Engine, req: Request) -> tuple[Event, list[Any]]:
    """A copy of `req` by itself, from a cold prefix cache (`req` stays unstarted): its end
    and the logits of its passes."""
    req = fresh(req)
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


def make(rid: str, prompt: int, priority: int, max_tokens: int, mode: str) -> Request:
    """A request for PROMPTS[prompt]. `mode`: "warm" (a warm-up), "plain" (greedy), or
    words of "sampled" (SAMPLED's sampling), "lookup" (prompt lookup) and "draft" (DRAFT)."""
    if mode == "warm":
        return Request(rid, PROMPTS[prompt], GenerationParams(max_tokens=1), priority=PRIORITY_WARM, kind="warm")
    words = mode.split()
    extra = SAMPLED if "sampled" in words else {}
    params = GenerationParams(max_tokens=max_tokens, loop_guard=False, lookup="lookup" in words, **extra)  # type: ignore[arg-type]
    return Request(rid, PROMPTS[prompt], params, priority=priority, draft=DRAFT if "draft" in words else None)


def specs_of(last_arrival: int, most_tokens: int, modes: list[str], most: int) -> st.SearchStrategy[list[tuple[int, int, int, int, str]]]:
    """Lists of 2 to `most` requests for `make`: (arrival step, prompt, priority,
    max_tokens, mode)."""
    return st.lists(
        st.tuples(
            st.integers(0, last_arrival),
            st.integers(0, len(PROMPTS) - 1),
            st.sampled_from([PRIORITY_COMPLETE, PRIORITY_EDIT, PRIORITY_CHAT]),
            st.integers(1, most_tokens),
            st.sampled_from(modes),
        ),
        min_size=2,
        max_size=most,
    )


def fresh(req: Request) -> Request:
    return Request(req.request_id, req.prompt, req.params, priority=req.priority, draft=req.draft, kind=req.kind)


def same_logits(got: list[Any], want: list[Any]) -> bool:
    import torch

    return len(got) == len(want) and all(torch.allclose(g, w, atol=1e-4, rtol=1e-4) for g, w in zip(got, want))


def check_same(trace: Trace, want: dict[str, Event]) -> None:
    """Each request ended as it did alone (text, finish reason, token count), and its
    deltas add up to its text."""
    for rid, ref in want.items():
        got = trace.done(rid)
        assert (got.text, got.finish_reason, got.completion_tokens) == (ref.text, ref.finish_reason, ref.completion_tokens), rid
        assert "".join(e.text for e in trace.events[rid][:-1]) == got.text


def check_logits(trace: Trace, traced: dict[str, tuple[Event, list[Any]]]) -> None:
    """Each request's passes saw the logits it saw alone."""
    for rid, (_, ref_logits) in traced.items():
        assert same_logits(trace.logits.get(rid, []), ref_logits), rid
