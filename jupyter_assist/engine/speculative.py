"""Speculative edits: the original text is the draft (Cursor's fast apply).

A rewritten cell mostly reproduces the original, so instead of a draft model we feed the
next chunk of the original's tokens, verify them in one forward pass, keep the agreeing
prefix, and continue from the model's own token at the first disagreement. While the
output diverges we decode one token at a time and watch for the last few output tokens to
reappear in the original; there we re-align and speculate again. Greedy only: the output
is exactly what plain greedy decoding gives.

Where the model writes text of its own (the edit itself), the original has nothing to
offer, but code repeats itself: `NgramLookup` proposes what followed the last earlier
occurrence of the output's last few tokens in the prompt or the output (prompt lookup).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass


class DraftCursor:
    """Where the output currently lines up with the draft (the original's token ids).

    The chunk size adapts like a congestion window: it doubles while whole chunks are
    accepted and drops to `min_chunk` after a rejection, so a model that has wandered off
    the draft wastes little compute on verifying tokens it will not take.
    """

    def __init__(self, draft: Sequence[int], max_chunk: int = 32, min_chunk: int = 4, realign_ngram: int = 4) -> None:
        self.draft = list(draft)
        self.pos = 0
        self.aligned = True
        self.n = realign_ngram
        self.max_chunk, self.min_chunk = max_chunk, min(min_chunk, max_chunk)
        self.size = max_chunk
        # Where each n-gram of the draft starts, in order: off the draft, every token
        # looks its output tail up here instead of scanning the whole draft.
        self._starts: dict[tuple[int, ...], list[int]] = {}
        for i in range(len(self.draft) - self.n + 1):
            self._starts.setdefault(tuple(self.draft[i : i + self.n]), []).append(i)

    def chunk(self) -> list[int]:
        return self.draft[self.pos : self.pos + self.size] if self.aligned else []

    def advance(self, proposed: int, accepted: int) -> None:
        self.pos += accepted
        if proposed:
            full = accepted == proposed
            self.size = min(self.size * 2, self.max_chunk) if full else self.min_chunk

    def observe(self, tok: int, output: Sequence[int]) -> None:
        """The model emitted `tok` on its own (output already ends with it)."""
        if self.aligned and self.pos < len(self.draft) and self.draft[self.pos] == tok:
            self.pos += 1
            return
        self.aligned = False
        self._realign(output)

    def _realign(self, output: Sequence[int]) -> None:
        if len(output) < self.n:
            return
        starts = self._starts.get(tuple(output[-self.n :]))
        if not starts:
            return
        # Prefer the nearest match ahead of where we were (edits mostly keep order), then
        # the first anywhere (a line moved up).
        k = bisect.bisect_left(starts, max(self.pos - self.n, 0))
        self.pos, self.aligned = (starts[k] if k < len(starts) else starts[0]) + self.n, True


class NgramLookup:
    """Prompt lookup over a growing token sequence (the prompt, then the output).

    Indexes every n-gram (n_min..n_max tokens) by where its latest occurrence ends, one
    token behind the end of the sequence, so the sequence's own tail never matches itself.
    """

    def __init__(self, tokens: Sequence[int], size: int = 8, n_min: int = 2, n_max: int = 4) -> None:
        self.tokens: list[int] = []
        self.size, self.n_min, self.n_max = size, n_min, n_max
        self._ends: dict[tuple[int, ...], int] = {}
        self.extend(tokens)

    def extend(self, tokens: Sequence[int]) -> None:
        for tok in tokens:
            self._index(len(self.tokens))  # n-grams ending before the new token
            self.tokens.append(tok)

    def _index(self, end: int) -> None:
        for n in range(self.n_min, min(self.n_max, end) + 1):
            self._ends[tuple(self.tokens[end - n : end])] = end

    def propose(self) -> list[int]:
        """Up to `size` tokens that followed the longest recurring tail; [] if none."""
        for n in range(self.n_max, self.n_min - 1, -1):
            if len(self.tokens) <= n:
                continue
            end = self._ends.get(tuple(self.tokens[-n:]))
            if end is not None:
                return self.tokens[end : end + self.size]
        return []


@dataclass
class SpecStats:
    """Tokens proposed and accepted in verify passes, from the original (draft) or from
    prompt lookup, and the passes themselves: the figures the status reports."""

    proposed: int = 0
    accepted: int = 0
    lookup_proposed: int = 0
    lookup_accepted: int = 0
    passes: int = 0

    def note(self, from_draft: bool, proposed: int, accepted: int) -> None:
        """One verify pass of `proposed` tokens of which the first `accepted` agreed."""
        if from_draft:
            self.proposed += proposed
            self.accepted += accepted
        else:
            self.lookup_proposed += proposed
            self.lookup_accepted += accepted
        self.passes += 1

    @property
    def acceptance(self) -> float:
        return round(self.accepted / max(self.proposed, 1), 3)

    @property
    def lookup_acceptance(self) -> float:
        return round(self.lookup_accepted / max(self.lookup_proposed, 1), 3)

    @property
    def tokens_per_pass(self) -> float:
        """Tokens each pass produced: its accepted proposals plus the model's own next
        token (plain decoding makes 1)."""
        return round((self.accepted + self.lookup_accepted + self.passes) / max(self.passes, 1), 2)
