"""HTTP handlers: transport only. Auth, validation, streaming and cancel live here; what
each feature does lives in `jupyter_assist.tasks`."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Callable

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado.iostream import StreamClosedError

from ..engine import EngineNotReady, Request
from ..engine.types import PRIORITY_WARM, Event
from ..tasks import chat, complete, edit, fix, generate
from ..wire import CancelRequest, ChatRequest, CompleteRequest, EditRequest, FixRequest, GenerateRequest, WarmRequest

if TYPE_CHECKING:
    from .app import AssistExtension

PREFIX = "/jupyter-assist"


class AssistHandler(APIHandler):
    auth_resource = "jupyter_assist"

    @property
    def assist(self) -> "AssistExtension":
        return self.settings["jupyter_assist"]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            reason = exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": reason}))

    def parse(self, model: type[BaseModel]) -> Any:
        body = self.request.body
        if len(body) > self.assist.max_body_bytes:
            raise tornado.web.HTTPError(413, f"Request body over {self.assist.max_body_bytes} bytes.")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise tornado.web.HTTPError(400, f"Body is not valid UTF-8: {e}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise tornado.web.HTTPError(400, f"Body is not valid JSON: {e}") from None
        try:
            return model.model_validate(data)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "body"
            raise tornado.web.HTTPError(400, f"Invalid request: {where}: {first['msg']}") from None


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
                "stats": self.assist.engine.stats(),
            }
        )


class HistoryHandler(AssistHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish({"requests": list(self.assist.history)})


class CancelHandler(AssistHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body: CancelRequest = self.parse(CancelRequest)
        self.finish({"cancelled": self.assist.engine.cancel(body.request_id)})


class StreamHandler(AssistHandler):
    """POST a task request; answer NDJSON events as the model produces them."""

    task: str
    wire: type[BaseModel]
    _req: Request | None = None

    def build(self, body: Any) -> Request:
        raise NotImplementedError

    def finish_text(self, body: Any, text: str) -> dict[str, Any]:
        return {"text": text}

    async def _send(self, obj: dict[str, Any]) -> None:
        self.write(json.dumps(obj) + "\n")
        await self.flush()

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(self.wire)
        engine = self.assist.engine
        try:
            req = self.build(body)
            # Set before waiting: a client that gives up while the request is queued
            # (the user typed on) must cancel it, not leave it to run.
            self._req = req
            if self.request.connection.stream.closed():  # type: ignore[union-attr]
                req.cancelled.set()
            stream = engine.stream(req)
            first = await stream.__anext__()  # fails fast (503) before headers go out
        except EngineNotReady as e:
            raise tornado.web.HTTPError(503, str(e)) from None
        except ValueError as e:
            raise tornado.web.HTTPError(400, str(e)) from None
        t0 = time.monotonic()
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        try:
            ev: Event | None = first
            while ev is not None:
                await self._send_event(body, req, ev, t0)
                if ev.kind in ("done", "error"):
                    break
                ev = await stream.__anext__()
        except StreamClosedError:
            req.cancelled.set()
        finally:
            await stream.aclose()
        self.finish()

    async def _send_event(self, body: Any, req: Request, ev: Event, t0: float) -> None:
        if ev.kind == "delta":
            await self._send({"type": "delta", "text": ev.text})
            return
        if ev.kind == "error":
            await self._send({"type": "error", "message": ev.message})
            return
        latency = round((time.monotonic() - t0) * 1000, 1)
        done = {
            "type": "done",
            **self.finish_text(body, ev.text),
            "finish_reason": ev.finish_reason,
            "prompt_tokens": ev.prompt_tokens,
            "completion_tokens": ev.completion_tokens,
            "latency_ms": latency,
        }
        self.assist.history.append(
            {"request_id": req.request_id, "task": self.task, "prompt": req.prompt, "text": done["text"],
             "finish_reason": ev.finish_reason, "latency_ms": latency}
        )
        await self._send(done)

    def on_connection_close(self) -> None:
        if self._req is not None:
            self._req.cancelled.set()


class CompleteHandler(StreamHandler):
    task, wire = "complete", CompleteRequest

    def build(self, body: CompleteRequest) -> Request:
        backend = self.assist.engine.require_ready()
        return complete.build(body, backend, self.assist.completion_settings)

    def finish_text(self, body: CompleteRequest, text: str) -> dict[str, Any]:
        return {"text": complete.finish(text, body)}


class ChatHandler(StreamHandler):
    task, wire = "chat", ChatRequest

    def build(self, body: ChatRequest) -> Request:
        backend = self.assist.engine.require_ready()
        return chat.build(body, backend, self.assist.chat_max_tokens)


class GenerateHandler(StreamHandler):
    task, wire = "generate", GenerateRequest

    def build(self, body: GenerateRequest) -> Request:
        backend = self.assist.engine.require_ready()
        return generate.build(body, backend, self.assist.generate_max_tokens)

    def finish_text(self, body: GenerateRequest, text: str) -> dict[str, Any]:
        return {"text": text, "code": generate.extract_code(text)}


class EditHandler(StreamHandler):
    task, wire = "edit", EditRequest

    def build(self, body: EditRequest) -> Request:
        backend = self.assist.engine.require_ready()
        return edit.build(body, backend)

    def finish_text(self, body: EditRequest, text: str) -> dict[str, Any]:
        new = edit.new_source(text, body.source)
        return {"text": new, "hunks": edit.hunks(body.source, new)}


class FixHandler(StreamHandler):
    task, wire = "fix", FixRequest

    def build(self, body: FixRequest) -> Request:
        backend = self.assist.engine.require_ready()
        return fix.build(body, backend)

    def finish_text(self, body: FixRequest, text: str) -> dict[str, Any]:
        source = body.cells[body.cell_index].source
        new = edit.new_source(text, source)
        return {"text": new, "hunks": edit.hunks(source, new)}


class WarmHandler(AssistHandler):
    """Prefill a cell's completion context; answers once the KV cache holds it."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body: WarmRequest = self.parse(WarmRequest)
        engine = self.assist.engine
        try:
            backend = engine.require_ready()
        except EngineNotReady as e:
            raise tornado.web.HTTPError(503, str(e)) from None
        req = complete.build(CompleteRequest(**body.model_dump()), backend, self.assist.completion_settings)
        req.kind, req.priority = "warm", PRIORITY_WARM
        tokens = 0
        async for ev in engine.stream(req):
            if ev.kind == "error":
                raise tornado.web.HTTPError(500, ev.message)
            tokens = ev.prompt_tokens
        self.finish({"prompt_tokens": tokens})


def route_table() -> list[tuple[str, Callable[..., Any]]]:
    routes = {
        "status": StatusHandler,
        "history": HistoryHandler,
        "cancel": CancelHandler,
        "complete": CompleteHandler,
        "chat": ChatHandler,
        "generate": GenerateHandler,
        "edit": EditHandler,
        "warm": WarmHandler,
        "fix": FixHandler,
    }
    return [(f"{PREFIX}/{name}", handler) for name, handler in routes.items()]
