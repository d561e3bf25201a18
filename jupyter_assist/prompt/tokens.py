"""Exact, fast token counting for prompt budgets.

A byte-level BPE tokenizer.json (GPT-2, Qwen, SmolLM2, StarCoder2...) becomes a tiktoken
Encoding: the same ids as the Hugging Face tokenizer, several times faster. Anything else
(SentencePiece models such as CodeLlama) falls back to the HF tokenizer. OpenAI-compatible
backends without a tokenizer count with cl100k_base, whose ranks ship in `data/` (no download).

Counting splits text at line starts that are pre-token boundaries for these regexes (see
`SAFE_SPLIT`) and memoises per chunk, so re-counting a prompt that differs in a few lines
(keystroke after keystroke) only tokenizes those lines.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import unicodedata
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import tiktoken

# GPT-2's pre-tokenizer regex: what HF's ByteLevel(use_regex=True) applies.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# A newline between two non-space characters: no pre-token of these regexes crosses it and
# none before it looks past it, so token counts add up across such a split.
SAFE_SPLIT = re.compile(r"(?<=[^\s]\n)(?=[^\s])")
WHOLE_MAX = 20_000  # characters: longer texts are counted by chunks, not memoised whole
CHUNK_MAX = 4_000  # characters: longer chunks (no line breaks) are not memoised
# Pairs that probe the split assumption for a given encoding before it is trusted.
_PROBES = ("x = 1\n", "if a:\n", "  b)\n", "# c\n", "'s\n", "1\n", "é\n", "<|x|>\n", "\t\n")
_PROBE_HEADS = ("y", "(", "#", "1", "'s", "é", "\u00a0z", "<")


class Tokens(Protocol):
    """What the prompt builder needs from a tokenizer."""

    name: str

    def count(self, text: str) -> int: ...

    def encode(self, text: str) -> list[int]: ...


class Counter:
    """Counts tokens of one model's tokenizer, memoised by line chunks where that is exact."""

    def __init__(self, name: str, encode: Callable[[str], list[int]], *, chunked: bool, cache_size: int = 1 << 15) -> None:
        self.name = name
        self.encode = encode
        self.chunked = chunked  # counts add up across SAFE_SPLIT points (render relies on it)
        self._chunk = functools.lru_cache(maxsize=cache_size)(self._direct)
        # Whole texts seen before: prompt nodes repeat from request to request. Sizes are
        # capped (WHOLE_MAX, CHUNK_MAX) so the caches cannot pin much memory.
        self._whole = functools.lru_cache(maxsize=cache_size // 16)(self._split)

    def _direct(self, text: str) -> int:
        return len(self.encode(text))

    def _split(self, text: str) -> int:
        if not self.chunked:
            return self._direct(text)
        if len(text) < 64:
            return self._chunk(text)
        return sum(self._chunk(c) if len(c) <= CHUNK_MAX else self._direct(c) for c in SAFE_SPLIT.split(text))

    def count(self, text: str) -> int:
        if not text:
            return 0
        return self._whole(text) if len(text) <= WHOLE_MAX else self._split(text)

    def __repr__(self) -> str:
        return f"Counter({self.name!r}, chunked={self.chunked})"


@functools.lru_cache(maxsize=64)
def counter_for(fn: Callable[[str], int], name: str = "custom") -> Tokens:
    """Wrap a plain counting function (tests, estimates) as `Tokens` (one wrapper per fn)."""

    class _Fn:
        def count(self, text: str) -> int:
            return fn(text)

        def encode(self, text: str) -> list[int]:
            raise NotImplementedError("this counter only counts")

    c = _Fn()
    c.name = name  # type: ignore[attr-defined]
    return c  # type: ignore[return-value]


# -- tiktoken from a tokenizer.json ------------------------------------------------------


class Unsupported(ValueError):
    """The tokenizer.json is not a byte-level BPE tiktoken can reproduce."""


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's bytes_to_unicode: printable stand-ins -> raw bytes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _pattern(pre: dict[str, Any] | None) -> str:
    """The single split regex of a byte-level pre-tokenizer, or Unsupported."""
    if not pre:
        raise Unsupported("no pre-tokenizer")
    steps = pre["pretokenizers"] if pre.get("type") == "Sequence" else [pre]
    pattern: str | None = None
    for step in steps:
        kind = step.get("type")
        if kind == "ByteLevel":
            if step.get("add_prefix_space"):
                raise Unsupported("ByteLevel add_prefix_space")
            if step.get("use_regex", True):
                if pattern is not None:
                    raise Unsupported("two split regexes")
                pattern = GPT2_PATTERN
        elif kind == "Split" and pattern is None:
            regex = (step.get("pattern") or {}).get("Regex")
            if not regex or step.get("invert") or step.get("behavior") != "Isolated":
                raise Unsupported(f"Split {step!r}")
            pattern = regex
        else:
            raise Unsupported(f"pre-tokenizer step {kind}")
    if pattern is None:
        raise Unsupported("no split regex")
    return pattern


def _normalize(spec: dict[str, Any] | None) -> Callable[[str], str] | None:
    if not spec:
        return None
    if spec.get("type") == "NFC":
        return lambda s: s if s.isascii() else unicodedata.normalize("NFC", s)
    raise Unsupported(f"normalizer {spec.get('type')}")


def encoding_from_tokenizer_json(spec: dict[str, Any] | str, name: str = "hf-bpe") -> tuple[tiktoken.Encoding, Callable[[str], list[int]]]:
    """A tiktoken Encoding reproducing a byte-level BPE tokenizer.json, and its encode.

    tiktoken merges the adjacent pair whose *merged token* has the lowest rank, HF the pair
    listed first in `merges`; ranking each merged token by its merge's position makes the
    two agree. When the vocabulary ids already follow merge order (the usual case) the
    ranks are the ids themselves; otherwise ids are mapped back after encoding.
    """
    if isinstance(spec, str):
        spec = json.loads(spec)
    assert isinstance(spec, dict), "a tokenizer.json holds an object"
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        raise Unsupported(f"model type {model.get('type')}")
    if model.get("dropout") or model.get("byte_fallback") or model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise Unsupported("BPE options tiktoken lacks")
    pattern = _pattern(spec.get("pre_tokenizer"))
    normalize = _normalize(spec.get("normalizer"))
    decoder = _byte_decoder()

    def raw(token: str) -> bytes:
        try:
            return bytes(decoder[ch] for ch in token)
        except KeyError:
            raise Unsupported(f"token {token!r} is not byte-level") from None

    vocab: dict[str, int] = model["vocab"]
    added = {t["content"]: int(t["id"]) for t in spec.get("added_tokens") or []}
    order: list[tuple[bytes, int]] = []  # single bytes and merge-producible tokens
    singles = {tok: tid for tok, tid in vocab.items() if len(tok) == 1 and tok not in added}
    for tok, tid in sorted(singles.items(), key=lambda kv: kv[1]):
        order.append((raw(tok), tid))
    seen = {b for b, _ in order}
    for merge in model.get("merges") or []:
        a, b = merge.split(" ", 1) if isinstance(merge, str) else merge
        tok = a + b
        if tok in vocab and tok not in added:
            rb = raw(tok)
            if rb not in seen:
                seen.add(rb)
                order.append((rb, vocab[tok]))
    ids = [tid for _, tid in order]
    merged = ids[len(singles) :]
    if all(x < y for x, y in itertools.pairwise(merged)) and (not merged or merged[0] > max(ids[: len(singles)], default=-1)):
        ranks = dict(order)
        specials = dict(added)
        back: list[int] | None = None
    else:
        ranks = {b: r for r, (b, _) in enumerate(order)}
        specials = {tok: len(order) + i for i, tok in enumerate(added)}
        back = ids + list(added.values())
    # Bytes the vocabulary lacks (SmolLM2 has no token for some control characters): HF
    # drops them; tiktoken needs a rank, so they get placeholder ranks removed afterwards.
    missing = sorted(set(range(256)) - {b[0] for b in seen if len(b) == 1})
    first_dummy = max([*ranks.values(), *specials.values()]) + 1
    for i, byte in enumerate(missing):
        ranks[bytes([byte])] = first_dummy + i
    ascii_missing = [b for b in missing if b < 0x80]
    risky = re.compile("[" + "".join(re.escape(chr(b)) for b in ascii_missing) + "]") if ascii_missing else None
    # 0xC0, 0xC1 and 0xF5-0xFF never occur in UTF-8; any other missing high byte might.
    always_filter = any(0x80 <= b <= 0xF4 and b not in (0xC0, 0xC1) for b in missing)
    enc = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
    allowed = set(specials)

    def encode(text: str) -> list[int]:
        if normalize is not None:
            text = normalize(text)
        out = enc.encode(text, allowed_special=allowed)
        if always_filter or (risky is not None and risky.search(text)):
            out = [t for t in out if t < first_dummy]
        return out if back is None else [back[r] for r in out]

    return enc, encode


def _splits_safely(encode: Callable[[str], list[int]]) -> bool:
    """Counts add up across SAFE_SPLIT points for this encoding (checked on probes)."""
    for a in _PROBES:
        for b in _PROBE_HEADS:
            if len(encode(a + b)) != len(encode(a)) + len(encode(b)):
                return False
    return True


def from_tokenizer_json(spec: dict[str, Any] | str, name: str = "hf-bpe") -> Counter:
    """A counter for a byte-level BPE tokenizer.json; raises Unsupported otherwise."""
    _, encode = encoding_from_tokenizer_json(spec, name)
    return Counter(f"tiktoken:{name}", encode, chunked=_splits_safely(encode))


_BY_TOKENIZER: weakref.WeakKeyDictionary[Any, Counter] = weakref.WeakKeyDictionary()


def from_hf(tokenizer: Any, name: str | None = None) -> Counter:
    """Counter for a loaded HF tokenizer: tiktoken when its tokenizer.json allows, else HF.

    Cached per tokenizer object: building the tiktoken ranks takes ~0.1 s.
    """
    try:
        return _BY_TOKENIZER[tokenizer]
    except (KeyError, TypeError):
        pass
    name = name or str(getattr(tokenizer, "name_or_path", "") or "hf")
    counter: Counter
    try:
        counter = from_tokenizer_json(tokenizer.backend_tokenizer.to_str(), name)
    except (Unsupported, AttributeError, KeyError, ValueError, TypeError):

        def encode(text: str) -> list[int]:
            return list(tokenizer.encode(text, add_special_tokens=False))

        counter = Counter(f"hf:{name}", encode, chunked=False)
    try:
        _BY_TOKENIZER[tokenizer] = counter
    except TypeError:
        pass
    return counter


# cl100k_base: tiktoken's ranks file (data/, MIT like tiktoken: data/LICENSE-tiktoken), loaded
# with the sha256 tiktoken itself expects (tiktoken_ext/openai_public.py); pattern and special
# tokens as there (tests/test_prompt_tokens.py compares them with tiktoken's constructor).
CL100K_FILE = Path(__file__).parent / "data" / "cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""


def cl100k_spec() -> dict[str, Any]:
    """tiktoken.Encoding's arguments for cl100k_base, from the shipped file (hash checked)."""
    from tiktoken.load import load_tiktoken_bpe
    from tiktoken_ext.openai_public import ENDOFPROMPT, ENDOFTEXT, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX

    return {
        "name": "cl100k_base",
        "pat_str": CL100K_PATTERN,
        "mergeable_ranks": load_tiktoken_bpe(str(CL100K_FILE), expected_hash=CL100K_SHA256),
        "special_tokens": {
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
    }


@functools.cache
def cl100k() -> Counter:
    """OpenAI's cl100k_base, offline."""
    enc = tiktoken.Encoding(**cl100k_spec())
    encode = functools.partial(enc.encode, allowed_special="all")
    return Counter("tiktoken:cl100k_base", encode, chunked=_splits_safely(encode))
