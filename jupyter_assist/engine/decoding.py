"""Pure helpers for the decode loop: incremental detokenizing, stop rules, loop guard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

Decode = Callable[[Sequence[int]], str]


class IncrementalDetokenizer:
    """Turns a growing list of token ids into text deltas without splitting a character.

    Byte-level BPE can end a token in the middle of a UTF-8 sequence; the decoder then
    yields U+FFFD. We hold such a tail back until the next token completes it.
    """

    def __init__(self, decode: Decode) -> None:
        self._decode = decode
        self.ids: list[int] = []
        self.text = ""

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        full = self._decode(self.ids)
        if full.endswith("\ufffd"):
            return ""
        if not full.startswith(self.text):
            # A merge changed earlier characters (rare); emit nothing rather than garbage.
            self.text = full
            return ""
        delta = full[len(self.text) :]
        self.text = full
        return delta


@dataclass
class StopRule:
    """When to stop, judged on the generated text so far."""

    max_tokens: int
    stop_strings: tuple[str, ...] = ()
    # Repetition guard: small models loop. Stop when the last `window` tokens repeat a
    # period of at most `max_period` tokens `min_repeats` times.
    max_period: int = 8
    min_repeats: int = 4
    hits: list[str] = field(default_factory=list)

    def cut(self, text: str) -> int | None:
        """Index at which `text` must be cut because a stop string appeared, else None."""
        best: int | None = None
        for s in self.stop_strings:
            i = text.find(s)
            if i != -1 and (best is None or i < best):
                best = i
        return best

    def looping(self, ids: Sequence[int]) -> int | None:
        """Number of trailing tokens that form a repetition loop, or None."""
        n = len(ids)
        for period in range(1, self.max_period + 1):
            span = period * self.min_repeats
            if n < span:
                break
            tail = ids[n - span :]
            if all(tail[i] == tail[i % period] for i in range(span)):
                return span - period  # keep one copy of the repeated unit
        return None
