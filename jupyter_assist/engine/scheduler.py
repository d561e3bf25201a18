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
before this scheduler: the context check and the out-of-memory recovery cover it).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .types import Request

Steps = Iterator[None]

log = logging.getLogger(__name__)


@dataclass
class Running:
    req: Request
    steps: Steps
    kv_bytes: int


class Scheduler:
    """Owned by the worker thread; `stats` may be read from any thread (a snapshot)."""

    def __init__(
        self,
        start: Callable[[Request], Steps],
        kv_bytes: Callable[[Request], int],
        budget_bytes: Callable[[], int],
    ) -> None:
        self._start = start
        self._kv_bytes = kv_bytes  # what a request's K/V may grow to
        self._budget = budget_bytes
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
        return sum(r.kv_bytes for r in self.running)

    def step(self) -> None:
        """Advance the best runnable request by one forward pass (a cancelled one first:
        its step ends it without a pass)."""
        seq = self._pick()
        if seq is None:
            return
        self.steps_run += 1
        self.running_sizes[len(self.running)] += 1
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
        for req in sorted(self.waiting):
            if best is not None and not req < best.req:
                break
            need = self._needs[req.seq]
            if not self.running or self.held_bytes() + need <= self._budget():
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
        return {
            "running": len(self.running),
            "queued": len(self.waiting),
            "running_peak": self.running_peak,
            "running_kv_bytes": self.held_bytes(),
            "running_kv_budget_bytes": self._budget(),
            # One forward pass carries one request's tokens (no batching across requests
            # yet): batch sizes are all 1; `running_sizes` counts how many were started.
            "batch_sizes": {"1": self.steps_run} if self.steps_run else {},
            "running_sizes": {str(k): v for k, v in sorted(dict(self.running_sizes).items())},
        }
