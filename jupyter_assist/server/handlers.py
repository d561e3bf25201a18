"""HTTP handlers: transport only. Auth, validation, streaming and cancel live here; what
each feature does lives in `jupyter_assist.tasks` (the registry `TASKS`).

Over 350 lines: one small class per route (status, models, tasks' streams, prompt, warm,
cancel, history, telemetry), sharing the stream/hold/record code of StreamHandler."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel
from tornado.iostream import StreamClosedError

from ..engine import EngineNotReady, Request, SwitchRefused, UnknownModel
from ..engine.types import PRIORITY_WARM, Event, GenerationParams
from ..tasks import TASKS, Built
from ..tasks import warm as warmup
from ..wire import CancelRequest, SwitchModelRequest, TelemetryEvent, WarmRequest
from .body import parse as parse_body
from .offload import off_loop
from .state import SETTINGS_KEY, ServerState

PREFIX = "/jupyter-assist"


class AssistHandler(APIHandler):
    auth_resource = "jupyter_assist"

    @property
    def assist(self) -> ServerState:
        state: ServerState = self.settings[SETTINGS_KEY]
        return state

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            reason = exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": reason}))

    def parse_now(self, model: type[BaseModel]) -> Any:
        """The body as `model` (413 / 400 on failure), on this thread: call it off the loop."""
        return parse_body(self.request.body, model, self.assist.max_body_bytes)

    async def parse(self, model: type[BaseModel]) -> Any:
        return await off_loop(self.parse_now, model)


class StatusHandler(AssistHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        s = self.assist.engine.status
        progress = {"stage": s.stage, "fraction": s.fraction} if s.stage else None
        self.finish(
            {
                "state": s.state,
                "model": s.model,
                "device": s.device,
                "dtype": s.dtype,
                "quantization": s.quantization,
                "progress": progress,
                "error": s.error,
                "queue": self.assist.engine.queue_length(),
                "load_seconds": s.load_seconds,
                "served": s.served,
                "cancelled": s.cancelled,
                "switching_from": s.switching_from,
                "last_error": s.last_error,
                "stats": self.assist.engine.stats(),
            }
        )


class ModelsHandler(AssistHandler):
    """GET: the models the server can switch to; POST {model}: switch (loads in the background)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        engine = self.assist.engine
        models = await off_loop(engine.models)  # stats the cache folder
        self.finish(
            {
                "models": [{"name": c.name, "display": c.display, "current": c.ref == engine.model_name} for c in models],
                "switchable": engine.remote is None,
            }
        )

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body: SwitchModelRequest = await self.parse(SwitchModelRequest)
        try:
            choice = await off_loop(self.assist.engine.switch, body.model)
        except UnknownModel as e:
            raise tornado.web.HTTPError(404, e.args[0]) from None
        except SwitchRefused as e:
            raise tornado.web.HTTPError(409, str(e)) from None
        self.set_status(202)  # accepted: GET status shows the load's progress
        self.finish({"model": choice.name, "state": self.assist.engine.status.state})


class HistoryHandler(AssistHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish({"requests": list(self.assist.history)})


class CancelHandler(AssistHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body: CancelRequest = await self.parse(CancelRequest)
        self.finish({"cancelled": self.assist.engine.cancel(body.request_id)})


class TaskHandler(AssistHandler):
    task: str

    def initialize(self, task: str) -> None:
        self.task = task

    def build(self) -> tuple[Any, Built[Any]]:
        """Validate the body and build the request (400 / 503 on failure). Work that grows
        with the body: call it off the loop."""
        spec = TASKS[self.task]
        body = self.parse_now(spec.wire)
        try:
            built = spec.build(body, self.assist.engine.require_ready().text, self.assist.tasks)
        except EngineNotReady as e:
            raise tornado.web.HTTPError(503, str(e)) from None
        except ValueError as e:
            raise tornado.web.HTTPError(400, str(e)) from None
        req = built.request
        if getattr(body, "temperature", None) is not None:
            req.params.temperature = body.temperature  # > 0 also turns speculation off
        if getattr(body, "seed", None) is not None:
            req.params.seed = body.seed
        return body, built


class PromptHandler(TaskHandler):
    """The prompt inspector: what a request would send the model, and which context
    pieces were kept or dropped, with token counts. Generates nothing."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        self.task = self.get_query_argument("task", "complete")
        if self.task not in TASKS:
            raise tornado.web.HTTPError(400, f"Unknown task {self.task!r}; use one of {', '.join(TASKS)}.")
        self.finish(await off_loop(self._inspect))

    def _inspect(self) -> dict[str, Any]:
        req = self.build()[1].request
        model = self.assist.engine.require_ready().text
        return {
            "task": self.task,
            "prompt": req.prompt,
            "prompt_tokens": len(model.encode(req.prompt)),
            "max_tokens": req.params.max_tokens,
            "stop": list(req.params.stop),
            "map": req.inspect() if req.inspect else [],
        }


_WARMING: set[asyncio.Future[None]] = set()


async def _drain(events: Any) -> None:
    """Run a warm-up stream to its end; a failure is the real request's to report."""
    try:
        async for _ in events:
            pass
    except Exception:
        pass


class StreamHandler(TaskHandler):
    """POST a task request; answer NDJSON events as the model produces them."""

    _req: Request | None = None
    _warm: Request | None = None  # the held request's prefill, while it may be queued
    _first_ms = 0.0  # request arrival -> first event (time to first token for a delta)

    async def _send(self, obj: dict[str, Any]) -> None:
        self.write(json.dumps(obj) + "\n")
        await self.flush()

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        t0 = time.monotonic()  # latencies count from the request's arrival: prompt build, queue, prefill
        body, built = await off_loop(self.build)
        req = built.request
        # Set before waiting: a client that gives up while the request is queued (the
        # user typed on) must cancel it, not leave it to run.
        self._req = req
        if self.request.connection.stream.closed():  # type: ignore[union-attr]
            req.cancelled.set()
        delay_ms = getattr(body, "delay_ms", 0)
        if delay_ms and not req.cancelled.is_set():
            await self._hold(req, t0 + delay_ms / 1000)
        stream = self.assist.engine.stream(req)
        head = built.head
        try:
            if head is not None:  # headers go out now; a later failure is an error event
                self._ndjson_headers()
                await self._send(head)
            first = await stream.__anext__()  # without a head: fails fast (503) before headers go out
        except EngineNotReady as e:
            if head is None:
                raise tornado.web.HTTPError(503, str(e)) from None
            first = Event("error", message=str(e))
        except StreamClosedError:
            req.cancelled.set()
            await stream.aclose()
            return
        self._first_ms = round((time.monotonic() - t0) * 1000, 1)
        if head is None:
            self._ndjson_headers()
        try:
            ev: Event | None = first
            while ev is not None:
                await self._send_event(built, ev, t0)
                if ev.kind in ("done", "error"):
                    break
                ev = await stream.__anext__()
        except StreamClosedError:
            req.cancelled.set()
            # The client left (e.g. chat Stop): still record how the request ended. The
            # engine answers `done` (cancelled) at its next decode step.
            async for ev in stream:
                if ev.kind == "done":
                    await self._record(built, ev, round((time.monotonic() - t0) * 1000, 1))
        finally:
            await stream.aclose()
        self.finish()

    async def _hold(self, req: Request, until: float) -> None:
        """Prefill `req`'s prompt into the KV cache, then wait until `until` (monotonic):
        the client's debounce runs out while the prompt is built and prefilled. Cancelled
        meanwhile (the user typed on), the engine ends `req` without decoding."""
        engine = self.assist.engine
        engine.reserve(req)
        warm = Request(f"{req.request_id}/warm", req.prompt, GenerationParams(max_tokens=0), priority=PRIORITY_WARM, kind="warm")
        self._warm = warm  # a client that leaves meanwhile cancels it (on_connection_close)
        if req.cancelled.is_set():
            warm.cancelled.set()
        task = asyncio.ensure_future(_drain(engine.stream(warm)))
        _WARMING.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(_WARMING.discard)
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        if req.cancelled.is_set():
            warm.cancelled.set()  # if still queued, skip it

    def _ndjson_headers(self) -> None:
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")

    async def _send_event(self, built: Built[Any], ev: Event, t0: float) -> None:
        if ev.kind == "delta":
            await self._send({"type": "delta", "text": ev.text})
            return
        if ev.kind == "error":
            await self._send({"type": "error", "message": ev.message})
            return
        await self._send(await self._record(built, ev, round((time.monotonic() - t0) * 1000, 1)))

    async def _record(self, built: Built[Any], ev: Event, latency: float) -> dict[str, Any]:
        """The `done` event of a finished request, recorded in the history (and telemetry)."""
        req = built.request
        done = {
            "type": "done",
            **await off_loop(built.finish, ev),
            "finish_reason": ev.finish_reason,
            "prompt_tokens": ev.prompt_tokens,
            "completion_tokens": ev.completion_tokens,
            "latency_ms": latency,
            "first_ms": self._first_ms,
        }
        self.assist.history.append(
            {
                "request_id": req.request_id,
                "task": self.task,
                "prompt": req.prompt,
                "healed": req.params.prefix,
                "text": done["text"],
                "finish_reason": ev.finish_reason,
                "latency_ms": latency,
                "first_ms": self._first_ms,
                "finished_at": time.time(),
            }
        )
        self.assist.telemetry_log.served(self.task, req.request_id, latency, ev.finish_reason, ev.prompt_tokens, ev.completion_tokens)
        return done

    def on_connection_close(self) -> None:
        for req in (self._req, self._warm):
            if req is not None:
                req.cancelled.set()


class WarmHandler(AssistHandler):
    """Prefill a cell's completion context (or its edit prompt, `task: "edit"`); answers
    once the KV cache holds it."""

    _req: Request | None = None

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        req = await off_loop(self._build)
        self._req = req
        if self.request.connection.stream.closed():  # type: ignore[union-attr]
            req.cancelled.set()  # gone while the prompt was built: the engine skips it
        tokens = 0
        async for ev in self.assist.engine.stream(req):
            if ev.kind == "error":
                raise tornado.web.HTTPError(500, ev.message)
            tokens = ev.prompt_tokens
        self.finish({"prompt_tokens": tokens})

    def _build(self) -> Request:
        body: WarmRequest = self.parse_now(WarmRequest)
        try:
            return warmup.build(body, self.assist.engine.require_ready().text, self.assist.tasks)
        except EngineNotReady as e:
            raise tornado.web.HTTPError(503, str(e)) from None
        except ValueError as e:
            raise tornado.web.HTTPError(400, str(e)) from None

    def on_connection_close(self) -> None:
        # An abandoned warm-up (the user left the cell) must not hold the queue.
        if self._req is not None:
            self._req.cancelled.set()


class TelemetryHandler(AssistHandler):
    """Local, opt-in telemetry: the frontend reports what happened to a suggestion."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish({"enabled": self.assist.telemetry_log.enabled})

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body: TelemetryEvent = await self.parse(TelemetryEvent)
        try:
            recorded = self.assist.telemetry_log.record(body.model_dump(exclude_none=True))
        except OSError as e:  # logged by telemetry; the server keeps serving
            raise tornado.web.HTTPError(500, f"Could not write telemetry: {e}") from None
        self.finish({"recorded": recorded})


def route_table() -> list[tuple[Any, ...]]:
    plain = {
        "status": StatusHandler,
        "history": HistoryHandler,
        "cancel": CancelHandler,
        "warm": WarmHandler,
        "telemetry": TelemetryHandler,
        "models": ModelsHandler,
    }
    routes: list[tuple[Any, ...]] = [(f"{PREFIX}/{name}", handler) for name, handler in plain.items()]
    routes += [(f"{PREFIX}/{name}", StreamHandler, {"task": name}) for name in TASKS]
    routes.append((f"{PREFIX}/prompt", PromptHandler, {"task": "complete"}))
    return routes
