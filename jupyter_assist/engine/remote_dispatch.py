"""Remote requests run on the event loop, many at once: a server that batches (vLLM,
`transformers serve --continuous-batching`) sees them together, where the engine's one
worker thread would send them one after another.

Each request is a task streaming on its own connection (RemoteBackend.generate); at most
`limit` are in flight and the rest wait by priority (completions first). Cancelling a
request, from any thread and at any point (waiting for a slot, connecting, streaming),
cancels its task, which closes the connection: the server aborts the generation.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from .remote import Emit, RemoteBackend, RemoteUnreachable
from .types import Event, Request, until_final

log = logging.getLogger(__name__)


class PrioritySlots:
    """A semaphore whose waiters are served lowest (priority, seq) first. One event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.running = 0
        self.queued = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []

    @asynccontextmanager
    async def held(self, priority: int, seq: int) -> AsyncIterator[None]:
        await self._acquire(priority, seq)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int, seq: int) -> None:
        if self.running < self.limit and not self.queued:
            self.running += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, seq, fut))
        self.queued += 1
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # handed a slot just as it was cancelled
                self._release()
            else:
                self.queued -= 1  # its future stays in the heap, done: _release skips it
            raise

    def _release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                self.queued -= 1
                fut.set_result(None)  # the slot passes on: `running` stays
                return
        self.running -= 1


class _WakingEvent(threading.Event):
    """A request's `cancelled` flag that also cancels its task when set (from any thread):
    callers keep setting `req.cancelled` as for a local request."""

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        super().__init__()
        self._loop, self._task = loop, task

    def set(self) -> None:
        super().set()
        try:
            self._loop.call_soon_threadsafe(self._task.cancel)
        except RuntimeError:  # the loop is closed: the task went with it
            pass


class RemoteDispatch:
    def __init__(self, backend: RemoteBackend, limit: int, reachable: Callable[[RemoteUnreachable | None], None]) -> None:
        self.backend = backend
        self.slots = PrioritySlots(limit)
        self._reachable = reachable  # the engine's status follows the server
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    @property
    def running(self) -> int:
        return self.slots.running

    @property
    def queued(self) -> int:
        return self.slots.queued

    def stats(self) -> dict[str, Any]:
        return {"running": self.running, "queued": self.queued, "max_concurrency": self.slots.limit}

    async def stream(self, req: Request) -> AsyncIterator[Event]:
        """`req`'s events, ending with `done` or `error`. Leaving early cancels it."""
        if req.cancelled.is_set():  # cancelled before it was sent (a held completion)
            yield Event("done", finish_reason="cancelled")
            return
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event] = asyncio.Queue()
        task = loop.create_task(self._serve(req, events.put_nowait))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

        # Cancelled before its first step, the task never ran its handlers: say so here.
        def never_ran(t: asyncio.Task[None]) -> None:
            if t.cancelled():
                events.put_nowait(Event("done", finish_reason="cancelled"))

        task.add_done_callback(never_ran)
        before, req.cancelled = req.cancelled, _WakingEvent(loop, task)
        if before.is_set():  # set by another thread meanwhile
            req.cancelled.set()
        try:
            async for ev in until_final(events):
                yield ev
        finally:
            task.cancel()  # a consumer that left: close the connection (no-op once finished)

    async def _serve(self, req: Request, emit: Emit) -> None:
        def answered(ev: Event) -> None:  # output came: the server is reachable (again)
            self._reachable(None)
            emit(ev)

        try:
            async with self.slots.held(req.priority, req.seq):
                await self.backend.generate(req, answered)
        except asyncio.CancelledError:  # before the stream opened (waiting for a slot)
            emit(Event("done", finish_reason="cancelled"))
        except RemoteUnreachable as e:
            log.warning("jupyter-assist: %s", e)
            self._reachable(e)
            emit(Event("error", message=str(e)))
        except Exception as e:  # one failed request must not take others down
            log.exception("jupyter-assist: remote request %s failed", req.request_id)
            emit(Event("error", message=f"{type(e).__name__}: {e}"))
