"""Engine-level request and event types (independent of HTTP)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .decoding import Output

FinishReason = Literal["stop", "length", "eos", "cancelled", "loop"]

# Lower runs first: a completion the user waits on beats a chat reply.
PRIORITY_COMPLETE = 0
PRIORITY_EDIT = 5
PRIORITY_AGENT = 8  # one agent step: after edits the user waits on, before chat
PRIORITY_CHAT = 10
PRIORITY_WARM = 20

_seq = itertools.count()


@dataclass
class GenerationParams:
    max_tokens: int = 64
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    loop_guard: bool = True  # stop when the output repeats itself (small models loop)
    # Greedy only: verify what the text so far predicts (prompt lookup) in chunks. Same
    # output, fewer forward passes; off for timing plain decoding.
    lookup: bool = True
    # The answer must start with this text (token healing: the prompt's last token, taken
    # back): the first steps pick only consistent tokens, and the text is not returned.
    # Only backends with `constrains_prefix` honour it; "" decodes exactly as without.
    prefix: str = ""
    # The answer's first token past `prefix` puts text on the line: no end, no newline, no
    # blank (an empty cursor line, where an empty answer shows nothing). Same backends.
    nonblank: bool = False
    # With `nonblank`: texts the answer may not start with, leading blanks aside (`# Out:`:
    # at an empty line the model wrote the cell's output in our comment format). Same backends.
    avoid: tuple[str, ...] = ()


@dataclass
class Event:
    kind: Literal["delta", "done", "error"]
    text: str = ""
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    message: str = ""
    # `done`: the mean log-probability of the generated tokens under the model (how sure it
    # was: next edit drops unsure rewrites); None when the backend does not know it.
    logprob: float | None = None
    # `done`: each generated token's log-probability, with where its text ends in `text`
    # (next edit judges only the tokens its rewrite changed); None as for `logprob`.
    token_logprobs: list[tuple[int, float]] | None = None


class MarkedOutput(Output):
    """An `Output` that also keeps where each noted token's text ends (`token_logprobs`).
    A log-probability is noted before its token (or text chunk) is pushed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._marks: list[tuple[int, float]] = []
        self._pending: list[float] = []

    def note_logprob(self, logprob: float) -> None:
        super().note_logprob(logprob)
        self._pending.append(logprob)

    def _mark(self) -> None:
        end = len(self.detok.text)
        self._marks.extend((end, lp) for lp in self._pending)
        self._pending.clear()

    def push(self, tok: int) -> str | None:
        done = super().push(tok)
        self._mark()
        return done

    def push_text(self, delta: str) -> str | None:
        done = super().push_text(delta)
        self._mark()
        return done

    def token_logprobs(self) -> list[tuple[int, float]] | None:
        """In the answer's characters (`text`: past `hide`, cut at a stop); None: none noted."""
        if not self._marks:
            return None
        n = len(self.text)
        shift = len(self.detok.text) - n
        return [(min(max(end - shift, 0), n), lp) for end, lp in self._marks]


@dataclass
class Request:
    request_id: str
    prompt: str
    params: GenerationParams
    priority: int = PRIORITY_CHAT
    # What the answer is expected to mostly copy (edits): text, or token ids when known.
    draft: str | list[int] | None = None
    kind: Literal["generate", "warm"] = "generate"
    started_at: float | None = None  # perf_counter() when the worker took it
    # The prompt inspector's map (which context pieces were kept or dropped), built lazily.
    inspect: Callable[[], list[dict[str, Any]]] | None = None  # warm: prefill the prompt into the KV cache only
    cancelled: threading.Event = field(default_factory=threading.Event)
    seq: int = field(default_factory=lambda: next(_seq))
    # Set by the engine: delivers events to the waiting coroutine (thread-safe).
    emit: Callable[[Event], None] = lambda ev: None

    def __lt__(self, other: Request) -> bool:
        return (self.priority, self.seq) < (other.priority, other.seq)


async def until_final(events: asyncio.Queue[Event]) -> AsyncIterator[Event]:
    """A request's events from its queue, up to and including `done` or `error`."""
    while True:
        ev = await events.get()
        yield ev
        if ev.kind in ("done", "error"):
            return
