"""Step-level scheduling: many requests started at once, one forward pass at a time.

Each request runs as a generator that yields after every forward pass (a prefill chunk, a
decode step, a verify chunk). Every step the worker advances the started or waiting
request with the best priority (completion < edit < chat < warm, then arrival), so a
completion that arrives while a chat streams starts at the next pass and runs to its end
ahead of the chat, which then resumes with its K/V intact: nothing is recomputed, and
each request computes exactly what it would alone.

A started request holds its K/V until it ends. Their total is bounded: a waiting request
starts only while what all started ones may grow to (prompt + max_tokens each) fits the
budget; otherwise it waits for one to end. One request always runs, whatever its size (as
before this scheduler: the context check and the out-of-memory recovery cover it). The
batch's rows count as what its tensors really take where that is more (spare room, the
short rows' pad columns): the batch gets the budget less what the others set aside as its
room, and a request that waits only for the batch's spare room has it given back.

Batching (engine/batch.py): a request in a decode or verify loop parks its next tokens and
yields. When the best request is parked, one forward pass runs every parked request's
tokens (a row each) and each of them is advanced; when it is not (a prefill chunk, say),
it runs alone as before, so a completion never waits for the chat it batches with.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .types import Request

Steps = Iterator[None]

log = logging.getLogger(__name__)


@dataclass
class Running:
    req: Request
    steps: Steps
    kv_bytes: int


class Batcher(Protocol):
    @property
    def size(self) -> int: ...  # rows (requests) in the batch now

    def parked(self, owner: object) -> bool: ...

    def run_parked(self, owners: list[object]) -> None: ...

    def bound(self, room: Callable[[], int], reserve: Callable[[object], int]) -> None: ...

    def holds(self, owner: object) -> bool: ...  # a row of the batch

    def allocated_bytes(self) -> int: ...

    def shrink(self, room: Callable[[], int], for_owner: object) -> None: ...


class Scheduler:
    """Owned by the worker thread; `stats` may be read from any thread (a snapshot)."""

    def __init__(
        self,
        start: Callable[[Request], Steps],
        kv_bytes: Callable[[Request], int],
        budget_bytes: Callable[[], int],
        batcher: Callable[[], Batcher | None] = lambda: None,
    ) -> None:
        self._start = start
        self._kv_bytes = kv_bytes  # what a request's K/V may grow to
        self._budget = budget_bytes
        self._batcher = batcher  # the backend's batch of decode rows, if it has one
        self.batch_sizes: Counter[int] = Counter()  # requests each forward pass advanced
        self._batched_last = False  # the last step was a batched pass
        self.waiting: list[Request] = []  # not started yet, in arrival order
        self.running: list[Running] = []
        self.steps_run = 0
        self.running_peak = 0
        self.running_sizes: Counter[int] = Counter()  # started requests at each step
        self._needs: dict[int, int] = {}  # by Request.seq: its K/V bound, worked out once

    def add(self, req: Request) -> None:
        try:
            need = self._kv_bytes(req)
        except Exception:  # an estimate only: the request itself reports what is wrong
            log.exception("jupyter-assist: no K/V estimate for %s", req.request_id)
            need = 0
        self.waiting.append(req)
        self._needs[req.seq] = need

    def busy(self) -> bool:
        return bool(self.running or self.waiting)

    def held_bytes(self) -> int:
        """What the started requests may take: each one's bound, and for the batch's rows
        their bounds or the batch's tensors, whichever is more."""
        batch = self._batcher()
        if batch is None or not batch.size:
            return sum(r.kv_bytes for r in self.running)
        rows = sum(r.kv_bytes for r in self.running if batch.holds(r.req))
        return self._outside(batch) + max(rows, batch.allocated_bytes())

    def _outside(self, batch: Batcher) -> int:
        """What the started requests outside the batch set aside."""
        return sum(r.kv_bytes for r in self.running if not batch.holds(r.req))

    def _reserve(self, owner: object) -> int:
        return next((r.kv_bytes for r in self.running if r.req is owner), 0)

    def _fits(self, req: Request, need: int) -> bool:
        """Whether `req`, needing `need`, may start; where only the batch's spare room or
        its lower-ranked rows' pad columns are in the way, the batch gives them back first."""
        budget = self._budget()
        if self.held_bytes() + need <= budget:
            return True
        batch = self._batcher()
        if batch is None or not batch.size:
            return False
        if self._outside(batch) + sum(r.kv_bytes for r in self.running if batch.holds(r.req)) + need > budget:
            return False  # the bounds themselves are over: it waits
        batch.shrink(lambda: budget - need - self._outside(batch), req)
        return self.held_bytes() + need <= budget

    def step(self) -> None:
        """Advance the best runnable request by one forward pass (a cancelled one first:
        its step ends it without a pass)."""
        batch = self._batcher()
        if batch is not None:  # its room: the budget less what requests outside it set aside
            batch.bound(lambda: self._budget() - self._outside(batch), self._reserve)
        seq = self._pick()
        if seq is None:
            return
        self.steps_run += 1
        self.running_sizes[len(self.running)] += 1
        group = [seq]
        batched = False
        if batch is not None and batch.parked(seq.req) and not seq.req.cancelled.is_set():
            # Requests of its class not parked (a prefill) take turns with the batch.
            turn = [r for r in self.running if r.req.priority == seq.req.priority and not batch.parked(r.req)]
            if turn and self._batched_last:
                group = [min(turn, key=lambda r: r.req)]
            else:
                group = [r for r in self.running if batch.parked(r.req) and not r.req.cancelled.is_set()]
                batch.run_parked([r.req for r in group])
                batched = True
        # Any other step (a new request's first prefill chunk included) was the turn.
        self._batched_last = batched
        self.batch_sizes[len(group)] += 1
        for r in group:
            self._advance(r)

    def _advance(self, seq: Running) -> None:
        try:
            next(seq.steps)
        except StopIteration:
            self.running.remove(seq)
        except Exception:  # the worker must outlive any single request
            log.exception("jupyter-assist: request %s failed", seq.req.request_id)
            self.running.remove(seq)

    def _pick(self) -> Running | None:
        for r in self.running:
            if r.req.cancelled.is_set():
                return r
        for req in self.waiting:
            if req.cancelled.is_set():  # ends at its first step, holding nothing
                return self._begin(req, 0)
        best = min(self.running, key=lambda r: r.req, default=None)
        batching = self._batcher() is not None
        for req in sorted(self.waiting):
            # Batching: one of the best's class starts too, to join its batch.
            if best is not None and not req < best.req and not (batching and req.priority == best.req.priority):
                break
            need = self._needs[req.seq]
            if not self.running or self._fits(req, need):
                return self._begin(req, need)
        return best

    def _begin(self, req: Request, kv_bytes: int) -> Running:
        self.waiting.remove(req)
        self._needs.pop(req.seq, None)
        seq = Running(req, self._start(req), kv_bytes)
        self.running.append(seq)
        self.running_peak = max(self.running_peak, len(self.running))
        return seq

    def close(self) -> None:
        for r in self.running:
            close = getattr(r.steps, "close", None)
            if close is not None:
                close()
        self.running.clear()

    def stats(self) -> dict[str, Any]:
        batch = self._batcher()
        return {
            "running": len(self.running),
            "queued": len(self.waiting),
            "running_peak": self.running_peak,
            "running_kv_bytes": self.held_bytes(),
            "running_kv_budget_bytes": self._budget(),
            # Requests each step advanced (a batched pass carries several); `running_sizes`
            # counts how many were started at each step.
            "batch_sizes": {str(k): v for k, v in sorted(dict(self.batch_sizes).items())},
            "batch_rows": getattr(self._batcher(), "size", 0),
            "batch_kv_bytes": batch.allocated_bytes() if batch is not None else 0,
            "batch_evictions": getattr(batch, "evictions", 0),
            "running_sizes": {str(k): v for k, v in sorted(dict(self.running_sizes).items())},
        }
