"""Remote backend: any OpenAI-compatible server (vLLM, SGLang, `transformers serve`,
Ollama, llama.cpp) through its streaming `/v1/completions` route.

Prompts are rendered here exactly as for the local model (the model's own tokenizer and
chat template, FIM sentinels included), so every task works unchanged and the server's
prefix caching sees the same stable-first prompts. Each request streams on its own
connection (httpx, async, on the event loop: see remote_dispatch.py for how many at once);
cancelling closes that connection, which makes vLLM and friends abort the generation.

Every generation asks for the sampled tokens' log-probabilities (`logprobs: 1`: one
log-softmax per token on the server, a few bytes per chunk) and `done` carries their mean,
as the local backend's does: next edit shows a model rewrite only when it passes a
threshold. A server that sends none (`transformers serve` ignores the field) gives
`logprob` None, and next edit keeps to the renames analysis finds; one that rejects the
field is asked again without it, and no more.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ..prompt.model import DEFAULT_WINDOW, ModelText
from .decoding import StopRule
from .models import EMBEDDED, ModelError
from .types import Event, MarkedOutput, Request

log = logging.getLogger(__name__)
Emit = Callable[[Event], None]


CHECK_TIMEOUT_S = 5.0  # a reachability check; generation itself keeps the longer timeout
HUB_PROBE_TIMEOUT_S = 3.0
SANE_WINDOW = 1_000_000  # tokenizers that do not know say 1e30 (transformers' VERY_LARGE_INTEGER)
LOGPROB_FLOOR = -100.0  # a token the server says was impossible (-inf): finite, so `done` stays JSON


class RemoteError(RuntimeError):
    """The remote server is unreachable or answered with an error."""


class RemoteUnreachable(RemoteError):
    """No connection to the remote server (refused, timed out, unknown host)."""


def load_tokenizer(source: str, model: str) -> Any:
    """The tokenizer that renders prompts for the remote model: `source`, else `model`, but
    never the embedded default's name (the server does not serve it). Local files first;
    the hub only when it is reachable, since offline huggingface_hub retries for ~50 s."""
    name = source or ("" if model == EMBEDDED else model)
    if not name:
        raise ModelError(
            "backend='openai' needs the remote model's tokenizer to render prompts: set "
            "AssistExtension.remote_tokenizer to a local folder (or hub id) holding it, or "
            "AssistExtension.model to the model the server serves (a local folder or hub id)."
        )
    import huggingface_hub.constants
    from transformers import AutoTokenizer

    hint = "set AssistExtension.remote_tokenizer (or AssistExtension.model) to a local folder with the tokenizer"
    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as e:
        local_error: Exception = e
    if Path(name).expanduser().exists() or name.startswith(("/", ".", "~")):  # a path, not a hub id
        raise ModelError(f"Could not load the tokenizer for the remote model from {name!r}; {hint}: {local_error}")
    if huggingface_hub.constants.HF_HUB_OFFLINE or not _hub_reachable():
        raise ModelError(
            f"The tokenizer {name!r} for the remote model is not in the local Hugging Face cache and the hub is offline or unreachable; {hint}."
        )
    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as e:
        raise ModelError(f"Could not load the tokenizer {name!r} for the remote model; {hint}: {e}") from e


def _hub_reachable() -> bool:
    import huggingface_hub.constants

    url = urllib.parse.urlsplit(huggingface_hub.constants.ENDPOINT)
    if urllib.request.getproxies().get(url.scheme):  # a direct probe says nothing behind a proxy
        return True
    try:
        socket.create_connection((url.hostname or "", url.port or 443), timeout=HUB_PROBE_TIMEOUT_S).close()
        return True
    except OSError:
        return False


def served_window(models: Any, model: str) -> int | None:
    """`max_model_len` of `model` in a `GET /models` answer (vLLM reports it), or of the only
    model served when none has that id (the server may name a local folder differently)."""
    entries = models.get("data") if isinstance(models, dict) else None
    if not isinstance(entries, list):
        return None
    entries = [m for m in entries if isinstance(m, dict)]
    named = [m for m in entries if m.get("id") == model]
    entry = named[0] if named else entries[0] if len(entries) == 1 else None
    n = entry.get("max_model_len") if entry is not None else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def chunk_logprobs(choice: Any) -> list[float]:
    """The sampled tokens' log-probabilities in one streamed choice: the legacy completions
    shape (`logprobs.token_logprobs`: vLLM, SGLang, OpenAI) or the chat one that some servers
    also use for completions (`logprobs.content[*].logprob`: llama.cpp); [] without them."""
    lp = choice.get("logprobs") if isinstance(choice, dict) else None
    if not isinstance(lp, dict):
        return []
    values = lp.get("token_logprobs")
    if values is None and isinstance(lp.get("content"), list):
        values = [c.get("logprob") for c in lp["content"] if isinstance(c, dict)]
    if not isinstance(values, list):
        return []
    numbers = (float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool))
    return [max(v, LOGPROB_FLOOR) for v in numbers if not math.isnan(v)]


def _rejects_logprobs(status: int, detail: str) -> bool:
    """Whether an error answer says the server does not take the `logprobs` field."""
    return status in (400, 422) and "logprob" in detail.lower()


class RemoteBackend:
    def __init__(self, url: str, model: str, tokenizer: Any, api_key: str = "", timeout: float = 60.0) -> None:
        self.base = url.rstrip("/")
        if not self.base.endswith("/v1"):
            self.base += "/v1"
        self.model_name = model
        self.tokenizer = tokenizer
        self.api_key = api_key
        self.timeout = timeout
        self.info: dict[str, Any] = {"model": model, "device": f"remote {self.base}", "dtype": None, "quantization": None}
        self.server_window: int | None = None  # from GET /models, once the server answered it
        self.ask_logprobs = True  # until the server rejects the field
        self.text = ModelText.of_tokenizer(tokenizer, lambda: self.context_window)  # what prompts need
        # One connection pool per event loop (httpx clients belong to the loop that opened them).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()

    @classmethod
    def load(cls, url: str, model: str, tokenizer_source: str, api_key: str = "") -> RemoteBackend:
        if not url:
            raise ModelError("backend='openai' needs AssistExtension.remote_url (e.g. http://127.0.0.1:8000/v1).")
        return cls(url, model, load_tokenizer(tokenizer_source, model), api_key)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def check(self) -> None:
        """Raise RemoteUnreachable unless the server answers `GET /models` (any HTTP answer
        counts: the server is there) within a few seconds; note the context window it says."""
        req = urllib.request.Request(f"{self.base}/models", method="GET", headers=self._headers())
        try:
            with urllib.request.urlopen(req, timeout=CHECK_TIMEOUT_S) as resp:
                body = resp.read(1 << 20)
        except urllib.error.HTTPError as e:
            e.close()
            return
        except (TimeoutError, urllib.error.URLError, ConnectionError) as e:
            raise RemoteUnreachable(f"Remote model server {self.base} unreachable: {getattr(e, 'reason', e)}") from None
        try:
            self.server_window = served_window(json.loads(body), self.model_name) or self.server_window
        except ValueError:  # not JSON: the server is there, it just does not say
            pass

    @property
    def context_window(self) -> int:
        """Prompt + answer tokens the served model takes: what the server says, else the
        tokenizer's `model_max_length` when it is a real figure, else DEFAULT_WINDOW (the
        same default as a local model that does not say)."""
        if self.server_window:
            return self.server_window
        n = getattr(self.tokenizer, "model_max_length", None)
        return n if isinstance(n, int) and 0 < n < SANE_WINDOW else DEFAULT_WINDOW

    # -- text helpers (same contract as LocalBackend) ---------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        return self.text.chat_prompt(messages)

    def stats(self) -> dict[str, Any]:
        return {"context_window": self.context_window}

    def close(self) -> None:
        """Close the connection pools (each on its own loop, where that loop still runs)."""
        clients, self._clients = list(self._clients.items()), weakref.WeakKeyDictionary()
        for loop, client in clients:
            if loop.is_closed():
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if loop is running:
                _CLOSING.add(task := loop.create_task(client.aclose()))
                task.add_done_callback(_CLOSING.discard)
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)

    # -- generation -------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            timeout = httpx.Timeout(self.timeout, connect=CHECK_TIMEOUT_S * 2)
            # No pool cap here: RemoteDispatch bounds the streams in flight.
            client = httpx.AsyncClient(timeout=timeout, headers=self._headers(), limits=httpx.Limits(max_connections=None))
            self._clients[loop] = client
        return client

    def _body(self, req: Request) -> dict[str, Any]:
        p = req.params
        warm = req.kind == "warm"
        body: dict[str, Any] = {
            "model": self.model_name,
            "prompt": req.prompt,
            # A warm-up is a 1-token request: servers with prefix caching (vLLM) keep the prompt's KV.
            "max_tokens": 1 if warm else p.max_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "stream": True,
        }
        if p.stop and not warm:
            body["stop"] = list(p.stop)[:4]  # the OpenAI limit; the rest we apply ourselves
        if p.seed is not None:
            body["seed"] = p.seed
        if self.ask_logprobs and not warm:
            body["logprobs"] = 1  # the sampled token's own log-probability comes with it
        return body

    def _counts(self, prompt: str, text: str) -> tuple[int, int]:
        return len(self.encode(prompt)), len(self.encode(text)) if text else 0

    async def generate(self, req: Request, emit: Emit) -> None:
        """Stream `req` from the server and end with `done`. Cancelling the calling task
        closes the connection (the server aborts) and still ends with `done` (cancelled)
        carrying the text so far. A warm-up streams no deltas."""
        p = req.params
        warm = req.kind == "warm"
        # The server counts tokens for max_tokens; stop strings beyond its 4 are ours.
        out = MarkedOutput(
            lambda ids: "",
            StopRule(max_tokens=p.max_tokens, stop_strings=() if warm else p.stop),
            (),
            False,
            (lambda text: None) if warm else (lambda text: emit(Event("delta", text=text))),
        )
        try:
            finish = await self._stream(req, out)
        except asyncio.CancelledError:  # our dispatcher's cancel: the connection is closed
            finish = "cancelled"
        except (httpx.TimeoutException, httpx.NetworkError) as e:
            raise RemoteUnreachable(f"Remote model server {self.base} unreachable: {type(e).__name__}: {e}") from None
        if warm:
            out.detok.text = ""
        out.flush()
        # Tokenizing grows with the prompt: off the event loop.
        prompt_tokens, completion = await asyncio.to_thread(self._counts, req.prompt, out.text)
        # logprob: the mean of what the server said; None when it said nothing.
        emit(
            Event(
                "done",
                text=out.text,
                finish_reason=finish,  # type: ignore[arg-type]
                prompt_tokens=prompt_tokens,
                completion_tokens=completion,
                logprob=out.logprob,
                token_logprobs=out.token_logprobs(),
            )
        )

    async def _stream(self, req: Request, out: MarkedOutput) -> str:
        """POST `req` and push its text and log-probabilities into `out`; the finish reason.
        A server that rejects the `logprobs` field is asked again without it."""
        while True:
            body = self._body(req)
            # Leaving the block closes the response; unread, its connection is closed, not pooled.
            async with self._client().stream("POST", f"{self.base}/completions", json=body, headers={"Accept": "text/event-stream"}) as resp:
                if resp.status_code >= 400:
                    detail = (await resp.aread())[:500].decode("utf-8", "replace")
                    if "logprobs" in body and _rejects_logprobs(resp.status_code, detail):
                        log.warning("jupyter-assist: %s takes no logprobs (%s): next edit gets no model proposals", self.base, detail)
                        self.ask_logprobs = False
                        continue
                    raise RemoteError(f"Remote model server answered HTTP {resp.status_code}: {detail}")
                finish = "length"
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    choice = (json.loads(data).get("choices") or [{}])[0]
                    for lp in chunk_logprobs(choice):
                        out.note_logprob(lp)
                    if out.push_text(choice.get("text") or ""):
                        return "stop"
                    reason = choice.get("finish_reason")
                    if reason:
                        finish = "stop" if reason == "stop" else "length"
                return finish


_CLOSING: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks
