"""Constrained first tokens: an answer that must start with a given text (token healing),
that must put text on an empty line, that must not start with a given text.

Token healing (llama.cpp's server, guidance) takes the cursor's last, possibly partial,
token back out of the prompt and lets the model regenerate it: the first decode steps may
only pick tokens consistent with the removed text, i.e. a non-empty prefix of what is still
required, or a token that starts with all of it. Once the text is covered, decoding goes
on unconstrained (plain or speculative); with nothing required no step is constrained.

`TokenTexts` is built once per tokenizer, lazily (byte-level vocabularies read straight from
their byte mapping, 151K tokens in well under a second; others decoded in one batch, which
takes seconds), and answers which tokens are consistent by a sorted list and bisection.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections.abc import Callable, Generator, Sequence
from typing import Any

_PROBE = "def mean(xs, w=None):\n    return sum(xs) / len(xs)  # plain\n\tx[0] += 1\n"
_LAST = "\U0010ffff"  # sorts after any character a token text holds


class TokenTexts:
    """Each token's text, and the tokens consistent with a required text."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        # Empty texts (special tokens) and partial UTF-8 sequences never spell a prefix.
        keep = [i for i, t in enumerate(self.texts) if t and "\ufffd" not in t]
        self._ids = sorted(keep, key=self.texts.__getitem__)
        self._sorted = [self.texts[i] for i in self._ids]
        self._nonblank: dict[tuple[str, ...], list[int]] = {}

    def text(self, token: int) -> str:
        return self.texts[token] if 0 <= token < len(self.texts) else ""

    def nonblank(self, avoid: tuple[str, ...] = ()) -> list[int]:
        """Tokens that put visible text on the current line before any line break, less
        those that, leading blanks aside, start with one of `avoid` (built once for each)."""
        if avoid not in self._nonblank:
            ids = [i for i in self._ids if self.texts[i].split("\n", 1)[0].strip()]
            self._nonblank[avoid] = [i for i in ids if not self.texts[i].lstrip().startswith(avoid)] if avoid else ids
        return self._nonblank[avoid]

    def allowed(self, rest: str) -> list[int]:
        """Tokens whose text is a proper prefix of `rest` or starts with `rest`; of a run of
        blanks (healed indentation), only its run less the last blank is: byte-level BPE
        splits a run there (`"   " + " x"`), and offered one space at a time the model took
        them one by one, into more blanks and a loop."""
        whole = [len(rest) - 1] if len(rest) > 1 and not rest.strip() else range(1, len(rest))
        return [i for k in whole for i in self._exactly(rest[:k])] + self.starting_with(rest)

    def _exactly(self, text: str) -> list[int]:
        lo = bisect.bisect_left(self._sorted, text)
        return self._ids[lo : bisect.bisect_right(self._sorted, text, lo)]

    def starting_with(self, text: str) -> list[int]:
        """Tokens whose text starts with `text`."""
        lo = bisect.bisect_left(self._sorted, text)
        hi = bisect.bisect_left(self._sorted, text + _LAST, lo)
        return self._ids[lo:hi]


_BY_TOKENIZER: weakref.WeakKeyDictionary[Any, TokenTexts | None] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def token_texts(tokenizer: Any) -> TokenTexts | None:
    """The index of an HF tokenizer, built on first use; None where tokens' texts, joined,
    do not spell the text they encode (e.g. SentencePiece's dropped leading spaces)."""
    with _LOCK:
        try:
            return _BY_TOKENIZER[tokenizer]
        except KeyError:
            pass
        try:
            index: TokenTexts | None = TokenTexts(_byte_level_texts(tokenizer) or _decoded_texts(tokenizer))
            ids = tokenizer.encode(_PROBE, add_special_tokens=False)
            if "".join(index.text(i) for i in ids) != _PROBE:  # type: ignore[union-attr]
                index = None
        except (AttributeError, TypeError, ValueError):
            index = None
        _BY_TOKENIZER[tokenizer] = index
        return index


def _decoded_texts(tokenizer: Any) -> list[str]:
    ids = [[i] for i in range(len(tokenizer))]
    return list(tokenizer.batch_decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))


def _byte_level_texts(tokenizer: Any) -> list[str] | None:
    """Token texts of a byte-level BPE (GPT-2's byte-to-character mapping), else None."""
    fast = getattr(tokenizer, "backend_tokenizer", None)
    if fast is None or type(fast.decoder).__name__ != "ByteLevel":
        return None
    from ..prompt.tokens import _byte_decoder

    to_byte = _byte_decoder()
    texts = [""] * len(tokenizer)
    for piece, i in fast.get_vocab(with_added_tokens=False).items():
        if 0 <= i < len(texts):
            try:
                texts[i] = bytes(to_byte[c] for c in piece).decode("utf-8", errors="replace")
            except KeyError:
                texts[i] = "\ufffd"  # not from the byte mapping: never consistent
    for i, added in getattr(tokenizer, "added_tokens_decoder", {}).items():
        if 0 <= i < len(texts):
            texts[i] = "" if added.special else added.content
    return texts


def masked(logits: Any, ids: list[int]) -> Any:
    """`logits` with every token but `ids` at -inf."""
    import torch

    idx = torch.tensor(ids, dtype=torch.long, device=logits.device)
    out = torch.full_like(logits, float("-inf"))
    out[idx] = logits[idx]
    return out


def force_prefix(
    required: str,
    texts: TokenTexts,
    logits: Any,
    pick: Callable[[Any], int],
    push: Callable[[int], str | None],
    feed: Callable[[list[int]], Any],
    cancelled: Callable[[], bool] = lambda: False,
) -> Generator[None, None, Any]:
    """Decode steps until the output covers `required`, each picking (`pick`, e.g. argmax)
    among the consistent tokens only; one forward pass (`feed`) per step, like a plain
    step. Returns the logits after the last token fed, or None when `push` ended the
    answer. Nothing consistent left (not seen with byte-level BPE):
    the constraint ends there."""
    rest = required
    while rest:
        ids = texts.allowed(rest)
        if not ids or cancelled():  # a cancel: the decode loop that follows sees it
            return logits
        tok = pick(masked(logits, ids))
        t = texts.text(tok)
        rest = rest[len(t) :] if rest.startswith(t) else ""
        if push(tok):
            return None
        logits = feed([tok])[-1]
        yield
    return logits


def banned(logits: Any, ids: list[int]) -> Any:
    """`logits` with `ids` at -inf."""
    import torch

    out = logits.clone()
    out[torch.tensor(ids, dtype=torch.long, device=logits.device)] = float("-inf")
    return out


def steer_off(
    avoid: Sequence[str],
    texts: TokenTexts,
    logits: Any,
    pick: Callable[[Any], int],
    push: Callable[[int], str | None],
    feed: Callable[[list[int]], Any],
    said: Callable[[], str],
) -> Generator[None, None, Any]:
    """Decode steps while the answer so far (`said()`, less leading blanks) has begun to
    spell one of `avoid` but not all of it: tokens that would complete it are masked out.
    Returns the logits after the last step (as they were when the answer starts otherwise),
    or None when `push` ended the answer."""
    while True:
        text = said().lstrip()
        begun = [a for a in avoid if text and a.startswith(text) and a != text]
        if not begun:
            return logits
        ids = [i for a in begun for i in texts.starting_with(a[len(text) :])]
        tok = pick(banned(logits, ids) if ids else logits)
        if push(tok):
            return None
        logits = feed([tok])[-1]
        yield


def force_nonblank(
    texts: TokenTexts,
    logits: Any,
    pick: Callable[[Any], int],
    push: Callable[[int], str | None],
    feed: Callable[[list[int]], Any],
    avoid: tuple[str, ...] = (),
) -> Generator[None, None, Any]:
    """One decode step among the tokens that put text on the line (`TokenTexts.nonblank`,
    none that starts one of `avoid` whole); the logits after it, or None when `push` ended
    the answer."""
    tok = pick(masked(logits, texts.nonblank(avoid)))
    if push(tok):
        return None
    logits = feed([tok])[-1]
    yield
    return logits
