"""Remote backend: any OpenAI-compatible server (vLLM, SGLang, `transformers serve`,
Ollama, llama.cpp) through its streaming `/v1/completions` route.

Prompts are rendered here exactly as for the local model (the model's own tokenizer and
chat template, FIM sentinels included), so every task works unchanged and the server's
prefix caching sees the same stable-first prompts. Cancelling closes the HTTP stream,
which makes vLLM and friends abort the generation.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from .decoding import Output, StopRule
from .models import EMBEDDED, ModelError
from .types import Event, Request

log = logging.getLogger(__name__)
Emit = Callable[[Event], None]


CHECK_TIMEOUT_S = 5.0  # a reachability check; generation itself keeps the longer timeout
HUB_PROBE_TIMEOUT_S = 3.0


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
        raise ModelError(f"The tokenizer {name!r} for the remote model is not in the local Hugging Face cache "
                         f"and the hub is offline or unreachable; {hint}.")
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


class RemoteBackend:
    def __init__(self, url: str, model: str, tokenizer: Any, api_key: str = "", timeout: float = 60.0) -> None:
        self.base = url.rstrip("/")
        if not self.base.endswith("/v1"):
            self.base += "/v1"
        self.model_name = model
        self.tokenizer = tokenizer
        self.api_key = api_key
        self.timeout = timeout
        self.info = {"model": model, "device": f"remote {self.base}", "dtype": None, "quantization": None}

    @classmethod
    def load(cls, url: str, model: str, tokenizer_source: str, api_key: str = "") -> "RemoteBackend":
        if not url:
            raise ModelError("backend='openai' needs AssistExtension.remote_url (e.g. http://127.0.0.1:8000/v1).")
        return cls(url, model, load_tokenizer(tokenizer_source, model), api_key)

    def check(self) -> None:
        """Raise RemoteUnreachable unless the server answers `GET /models` (any HTTP answer
        counts: the server is there) within a few seconds."""
        req = urllib.request.Request(f"{self.base}/models", method="GET")
        if self.api_key:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            urllib.request.urlopen(req, timeout=CHECK_TIMEOUT_S).close()
        except urllib.error.HTTPError as e:
            e.close()
        except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
            raise RemoteUnreachable(f"Remote model server {self.base} unreachable: {getattr(e, 'reason', e)}") from None

    # -- text helpers (same contract as LocalBackend) ---------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "

    def warm(self, prompt: str) -> int:
        """A 1-token request: servers with prefix caching (vLLM) keep the prompt's KV."""
        events: list[Event] = []
        from .types import GenerationParams

        self.generate(Request("warm", prompt, GenerationParams(max_tokens=1)), events.append)
        return events[-1].prompt_tokens if events and events[-1].kind == "done" else 0

    def stats(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass

    # -- generation -------------------------------------------------------------------
    def _open(self, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(f"{self.base}/completions", data=json.dumps(body).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "text/event-stream")
        if self.api_key:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            detail = e.read()[:500].decode("utf-8", "replace")
            raise RemoteError(f"Remote model server answered HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise RemoteUnreachable(f"Remote model server {self.base} unreachable: {reason}") from None

    def generate(self, req: Request, emit: Emit) -> None:
        p = req.params
        body: dict[str, Any] = {
            "model": self.model_name,
            "prompt": req.prompt,
            "max_tokens": p.max_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "stream": True,
        }
        if p.stop:
            body["stop"] = list(p.stop)[:4]  # the OpenAI limit; the rest we apply ourselves
        if p.seed is not None:
            body["seed"] = p.seed
        # The server counts tokens for max_tokens; stop strings beyond its 4 are ours.
        out = Output(lambda ids: "", StopRule(max_tokens=p.max_tokens, stop_strings=p.stop), (), False,
                     lambda text: emit(Event("delta", text=text)))
        finish = "length"
        prompt_tokens = len(self.encode(req.prompt))
        resp = self._open(body)
        try:
            for raw in resp:
                if req.cancelled.is_set():
                    finish = "cancelled"
                    break
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                choice = (json.loads(data).get("choices") or [{}])[0]
                if out.push_text(choice.get("text") or ""):
                    finish = "stop"
                    break
                reason = choice.get("finish_reason")
                if reason:
                    finish = "stop" if reason == "stop" else "length"
        finally:
            resp.close()  # closing the stream aborts the generation on the server
        out.flush()
        text = out.text
        completion = len(self.encode(text)) if text else 0
        emit(Event("done", text=text, finish_reason=finish, prompt_tokens=prompt_tokens, completion_tokens=completion))  # type: ignore[arg-type]
