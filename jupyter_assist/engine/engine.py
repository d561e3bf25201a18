"""The engine: one worker thread owns the model; everything else talks to it by queue.

The server's event loop never blocks on the model: requests go into a priority queue,
events come back through `loop.call_soon_threadsafe`. Cancelling sets a flag the decode
loop checks every step.

Over 350 lines: the one owner of the backend's life (load, switch, warm, serve, cancel,
status) in one class, so no other module touches the model; the pass scheduling is in
scheduler.py, the remote path in remote_dispatch.py.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import queue
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..prompt.model import ModelText
from .models import ModelChoice, ModelError, ModelSpec, choices, resolve
from .remote import RemoteBackend, RemoteUnreachable
from .remote_dispatch import RemoteDispatch
from .scheduler import Scheduler
from .types import Event, GenerationParams, Request, until_final

log = logging.getLogger(__name__)


class Backend(Protocol):
    info: dict[str, Any]
    text: ModelText  # what prompts need from the model, built at load

    def encode(self, text: str) -> list[int]: ...
    def chat_prompt(self, messages: list[dict[str, str]]) -> str: ...
    def generate(self, req: Request, emit: Any) -> None: ...
    def warm(self, prompt: str) -> int: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


@dataclass
class RemoteOptions:
    """An OpenAI-compatible server instead of a local model."""

    url: str
    api_key: str = ""
    tokenizer: str = ""  # local folder or hub id; default: the model name, unless that is "embedded"
    max_concurrency: int = 8  # requests streaming at once; the rest wait by priority


class EngineNotReady(RuntimeError):
    """The model is still loading or failed to load."""


class UnknownModel(KeyError):
    """A switch to a model that is not among `Engine.models()`."""


class SwitchRefused(RuntimeError):
    """A switch that cannot happen now (a load in progress, a remote backend)."""


@dataclass
class EngineStatus:
    state: str = "idle"  # idle | loading | ready | error
    model: str = ""
    device: str | None = None
    dtype: str | None = None
    quantization: str | None = None
    stage: str | None = None
    fraction: float | None = None
    error: str | None = None
    load_seconds: float | None = None
    served: int = 0  # generations run to their end
    cancelled: int = 0  # stopped mid-way or skipped in the queue
    switching_from: str | None = None  # while a switch loads: the model it replaces
    last_error: str | None = None  # the last failed request's cause (the status error is the load's)


class Engine:
    remote_recheck_s = 5.0  # while the remote server is unreachable, the idle worker checks it this often

    def __init__(self, model: str, load_options: Any, cache_dir: Path, remote: RemoteOptions | None = None) -> None:
        self.model_name = model
        self.configured_model = model  # the list of choices stays the same after a switch
        self._switch_to: str | None = None
        self.remote = remote
        self.load_options = load_options
        self.cache_dir = cache_dir
        self.status = EngineStatus(model=model)
        self.backend: Backend | RemoteBackend | None = None  # the remote one streams on the loop (no worker)
        self._queue: queue.PriorityQueue[Request] = queue.PriorityQueue()
        self._active: dict[str, Request] = {}
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._remote_dispatch: RemoteDispatch | None = None  # remote requests skip the worker
        # The worker's running and waiting requests, advanced one forward pass at a time.
        self._scheduler = Scheduler(self._serve, self._kv_bytes, self._kv_budget, lambda: getattr(self.backend, "batch", None))

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        """Load the model and serve requests, all on the worker thread."""
        if self._worker is None:
            self.status.state = "loading"
            self._worker = threading.Thread(target=self._run, name="jupyter-assist-engine", daemon=True)
            self._worker.start()

    def models(self) -> list[ModelChoice]:
        """What a client may switch to (a remote backend serves its own model: only that)."""
        if self.remote is not None:
            return [ModelChoice(self.model_name, self.status.model or self.model_name, self.model_name)]
        return choices(self.configured_model, self.cache_dir)

    def switch(self, name: str) -> ModelChoice:
        """Serve the model `name` (one of `models()`) instead, loaded in the background on
        the worker: started requests are cancelled (the old model's answers are moot) and
        new ones get the loading state until the new model is ready. A failed load leaves
        the error state with its cause; switching again (back) is allowed."""
        if self.remote is not None:
            raise SwitchRefused("The openai backend serves its server's model; set AssistExtension.model to change it.")
        choice = next((c for c in self.models() if c.name == name), None)
        if choice is None:
            known = ", ".join(c.name for c in self.models()) or "none"
            raise UnknownModel(f"Unknown model {name!r}: choose one of {known} (jupyter assist models list).")
        with self._lock:
            if self.status.state == "loading":
                raise SwitchRefused(f"{self.status.model} is still loading; switch once it is ready (or failed).")
            old = self.status
            self.status = EngineStatus(
                state="loading",
                model=choice.display,
                stage="waiting for running requests",
                served=old.served,
                cancelled=old.cancelled,
                switching_from=old.model,
            )
            self.model_name, self._switch_to = choice.ref, choice.ref
            for r in self._active.values():
                r.cancelled.set()
        if self._worker is None:
            self.start()
        else:  # wake an idle worker; a busy one swaps once its cancelled requests end
            wake = Request("__switch__", "", GenerationParams(), priority=-1, kind="warm")
            wake.cancelled.set()
            self._queue.put(wake)
        return choice

    def _swap(self) -> None:
        """On the worker, with nothing running: drop the old model, load the new one."""
        with self._lock:
            self._switch_to = None
        old, self.backend = self.backend, None
        if old is not None:
            gc.unfreeze()  # the old model was frozen out of the collector's reach at load
            old.close()
            del old
            gc.collect()
            _recover_memory()
        self._load()

    def _progress(self, stage: str, fraction: float | None) -> None:
        self.status.stage, self.status.fraction = stage, fraction

    def _load(self) -> None:
        from .local import LocalBackend

        t0 = time.monotonic()
        try:
            if self.remote is not None:
                self._progress("tokenizer", None)
                r = self.remote
                self.backend = RemoteBackend.load(r.url, self.model_name, r.tokenizer, r.api_key)
                self._remote_dispatch = RemoteDispatch(self.backend, r.max_concurrency, self._remote_reachable)
            else:
                spec: ModelSpec = resolve(self.model_name)
                self.status.model = spec.display
                self._progress("resolving", None)
                self.backend = LocalBackend.load(spec, self.load_options, self.cache_dir, self._progress)
        except Exception as e:  # any load failure is reported, never crashes the server
            log.exception("jupyter-assist: model load failed")
            msg = str(e) if isinstance(e, ModelError) else f"{type(e).__name__}: {e}"
            self.status.state, self.status.error = "error", msg
            self.status.stage = self.status.fraction = None
            return
        info = self.backend.info
        s = self.status
        s.model, s.device, s.dtype, s.quantization = info["model"], info["device"], info["dtype"], info["quantization"]
        if isinstance(self.backend, RemoteBackend):
            self._progress("connecting", None)
            self._check_remote(self.backend)  # unreachable: state error, with the cause
        s.stage, s.fraction, s.load_seconds = None, None, round(time.monotonic() - t0, 2)
        if s.state == "error":
            return
        # The loaded model, torch and transformers are long-lived: out of the collector's
        # reach, a full collection no longer walks them (it held the GIL, so every route
        # of the server, for ~1.7 s on a loaded 2-core box). Collected first, so no garbage
        # of the load is kept forever.
        gc.collect()
        gc.freeze()
        s.state, s.switching_from = "ready", None
        log.info("jupyter-assist: %s ready on %s (%s) in %.1fs", s.model, s.device, s.dtype, s.load_seconds)

    def _run(self) -> None:
        self._load()
        sched = self._scheduler
        try:
            while not self._stopping:
                if self._switch_to is not None and not sched.busy():
                    self._swap()
                    continue
                if sched.busy():  # take what arrived, then run one forward pass
                    self._take_arrivals()
                    if not self._stopping:
                        sched.step()  # `_serve` catches what a request raises
                    continue
                try:
                    req = self._queue.get(timeout=self.remote_recheck_s if self._remote_down() else None)
                except queue.Empty:
                    assert isinstance(self.backend, RemoteBackend)
                    self._check_remote(self.backend)
                    continue
                sched.add(req)
        finally:
            sched.close()

    def _take_arrivals(self) -> None:
        while True:
            try:
                self._scheduler.add(self._queue.get_nowait())
            except queue.Empty:
                return

    def _kv_bytes(self, req: Request) -> int:
        """What `req`'s K/V may grow to (0 for a backend that holds none here)."""
        per_token = getattr(self.backend, "kv_bytes_per_token", 0)
        if not per_token or self.backend is None:
            return 0
        new = 0 if req.kind == "warm" else req.params.max_tokens
        return per_token * (len(self.backend.encode(req.prompt)) + new)

    def _kv_budget(self) -> int:
        return int(getattr(self.backend, "running_kv_bytes", 0) or 1 << 62)

    def _serve(self, req: Request) -> Iterator[None]:
        """`req` as steps for the scheduler: one forward pass each where the backend
        runs stepwise (local), else the whole request in one step."""
        req.started_at = time.perf_counter()
        finish: list[str | None] = []

        def emit(ev: Event) -> None:
            if ev.kind == "done":
                finish.append(ev.finish_reason)
            req.emit(ev)

        def answered(ev: Event) -> None:  # output came: a remote server is reachable (again)
            self._remote_reachable(None)
            emit(ev)

        # Remote requests stream through RemoteDispatch on the loop, never through the worker.
        backend = None if isinstance(self.backend, RemoteBackend) else self.backend
        try:
            if req.cancelled.is_set():
                emit(Event("done", finish_reason="cancelled"))
            elif backend is None:
                emit(Event("error", message=self._not_ready_message()))
            elif req.kind == "warm":
                warm_steps = getattr(backend, "warm_steps", None)
                if warm_steps is not None:
                    n = yield from warm_steps(req.prompt, req.cancelled)
                else:
                    n = backend.warm(req.prompt)
                answered(Event("done", finish_reason="stop", prompt_tokens=n))
            elif hasattr(backend, "steps"):
                yield from backend.steps(req, answered)
            else:
                backend.generate(req, answered)
            if finish == ["cancelled"] and req.kind == "generate":  # a skipped warm-up is no cancelled request
                self.status.cancelled += 1
            elif finish and req.kind == "generate":
                self.status.served += 1
        except RemoteUnreachable as e:
            log.warning("jupyter-assist: %s", e)
            self._remote_reachable(e)
            emit(Event("error", message=str(e)))
        except Exception as e:
            log.exception("jupyter-assist: generation failed")
            self.status.last_error = self._recover(e)
            emit(Event("error", message=self.status.last_error))
        finally:
            with self._lock:
                if self._active.get(req.request_id) is req:
                    del self._active[req.request_id]

    def shutdown(self) -> None:
        self._stopping = True
        with self._lock:
            for r in self._active.values():
                r.cancelled.set()
        if self._worker is not None:
            self._queue.put(Request("__stop__", "", GenerationParams(), priority=-1))
            self._worker.join(timeout=10)
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    def _remote_down(self) -> bool:
        return isinstance(self.backend, RemoteBackend) and self.status.state == "error"

    def _remote_reachable(self, error: RemoteUnreachable | None) -> None:
        """The status follows the remote server: error with the cause while it cannot be
        reached, ready again once a request or check gets through."""
        if error is not None:
            self.status.state, self.status.error = "error", str(error)
        elif self._remote_down():
            self.status.state, self.status.error = "ready", None
            log.info("jupyter-assist: remote model server %s reachable again", self.remote and self.remote.url)

    def _check_remote(self, backend: RemoteBackend) -> None:
        try:
            backend.check()
        except RemoteUnreachable as e:
            log.warning("jupyter-assist: %s", e)
            self._remote_reachable(e)
            return
        self._remote_reachable(None)

    def _recover(self, error: Exception) -> str:
        """After a failed request: free what it held and say what happened. Out of memory,
        the KV prefix cache goes too (it is only a speed-up), so the next request fits."""
        oom = type(error).__name__ == "OutOfMemoryError"  # torch's, by name: no torch import here
        cache = getattr(self.backend, "prefix_cache", None)
        if oom and cache is not None:
            cache.clear()
        _recover_memory()
        if oom:
            return (
                f"Out of memory while generating ({error}). The KV cache was cleared; "
                "try again with a shorter context, a smaller model or 4-bit quantization."
            )
        return f"{type(error).__name__}: {error}"

    # -- requests -------------------------------------------------------------------
    def _not_ready_message(self) -> str:
        if self.status.state == "error":
            return f"The model failed to load: {self.status.error}"
        if self.status.switching_from:
            return (
                f"Switching from {self.status.switching_from} to {self.status.model}: the model is loading "
                f"({self.status.stage or 'starting'}); try again when the status says ready."
            )
        return f"The model is still loading ({self.status.stage or 'starting'})."

    def require_ready(self) -> Backend | RemoteBackend:
        if self._remote_down():  # let requests retry: the server may be back
            assert self.backend is not None
            return self.backend
        if self.status.state != "ready" or self.backend is None:
            raise EngineNotReady(self._not_ready_message())
        return self.backend

    def stats(self) -> dict[str, Any]:
        """Memory, cache, speculation and scheduling figures (empty until the model is loaded)."""
        if self.backend is None:
            return {}
        remote = self._remote_dispatch.stats() if self._remote_dispatch is not None else {}
        return {**self.backend.stats(), **self._scheduler.stats(), **remote, **_process_memory()}

    def queue_length(self) -> int:
        remote = self._remote_dispatch.queued if self._remote_dispatch is not None else 0
        return self._queue.qsize() + len(self._scheduler.waiting) + remote

    def cancel(self, request_id: str) -> bool:
        with self._lock:
            req = self._active.get(request_id)
        if req is None:
            return False
        req.cancelled.set()
        return True

    def reserve(self, req: Request) -> None:
        """Make `req` cancellable by id before it is queued (a held completion)."""
        with self._lock:
            old = self._active.get(req.request_id)
            if old is not None and old is not req:
                old.cancelled.set()
            self._active[req.request_id] = req

    async def stream(self, req: Request) -> AsyncGenerator[Event, None]:  # the server acloses it
        """Queue `req` and yield its events; leaving early cancels it."""
        self.require_ready()
        if self._remote_dispatch is not None:
            async for ev in self._stream_remote(self._remote_dispatch, req):
                yield ev
            return
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event] = asyncio.Queue()

        def emit(ev: Event) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, ev)
            except RuntimeError:  # the consumer's event loop is gone: nobody listens
                req.cancelled.set()

        req.emit = emit
        self.reserve(req)  # same id again supersedes the old request
        self._queue.put(req)
        try:
            async for ev in until_final(events):
                yield ev
        finally:
            req.cancelled.set()

    async def _stream_remote(self, dispatch: RemoteDispatch, req: Request) -> AsyncIterator[Event]:
        """A remote request runs on the event loop, beside the others (remote_dispatch.py),
        cancellable by id like a queued one."""
        self.reserve(req)  # same id again supersedes the old request
        try:
            async for ev in dispatch.stream(req):
                if ev.kind == "done" and req.kind == "generate":
                    if ev.finish_reason == "cancelled":
                        self.status.cancelled += 1
                    else:
                        self.status.served += 1
                yield ev
        finally:
            with self._lock:
                if self._active.get(req.request_id) is req:
                    del self._active[req.request_id]


def _process_memory() -> dict[str, int]:
    """The server process's resident memory (Linux /proc; elsewhere nothing): on CPU the
    model's weights live there, so it is the memory figure the status panel shows."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return {}
    return {"process_rss_bytes": pages * os.sysconf("SC_PAGE_SIZE")}


def _recover_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:
        pass
