"""KV prefix cache: reuse key/values across requests that share a token prefix.

Keystroke after keystroke a completion prompt barely changes, and prompts are laid out
stable-first, so most of the prefill can be skipped. Entries are keyed by their token ids;
lookup finds the longest common prefix with any entry. An entry is *taken* out of the
cache while a request uses it (no copy: one worker, so no sharing), cropped to the common
prefix, extended, and stored back under the new prompt. LRU, bounded by bytes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def cache_len(cache: Any) -> int:
    return int(cache.get_seq_length())


def truncate(cache: Any, length: int) -> None:
    """Drop cached positions past `length` (a negative crop removes that many)."""
    extra = cache_len(cache) - length
    if extra > 0:
        cache.crop(-extra)


def cache_bytes(cache: Any) -> int:
    total = 0
    for layer in getattr(cache, "layers", []):
        for t in (getattr(layer, "keys", None), getattr(layer, "values", None)):
            if t is not None and hasattr(t, "numel"):
                total += t.numel() * t.element_size()
    return total


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    # Compare in blocks first: prompts share long prefixes, so this is the hot path.
    step = 256
    while i + step <= n and a[i : i + step] == b[i : i + step]:
        i += step
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class CacheStats:
    lookups: int = 0
    hits: int = 0
    reused_tokens: int = 0
    prompt_tokens: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def token_reuse(self) -> float:
        return self.reused_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


class PrefixCache:
    def __init__(self, max_bytes: int, min_reuse: int = 16) -> None:
        self.max_bytes = max_bytes
        self.min_reuse = min_reuse  # below this, reuse isn't worth keeping an entry busy
        # key -> (cache, bytes, logits after the last key token or None)
        self._entries: OrderedDict[tuple[int, ...], tuple[Any, int, Any]] = OrderedDict()
        self.stats = CacheStats()

    @property
    def bytes(self) -> int:
        return sum(n for _, n, _ in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, ids: Sequence[int]) -> tuple[Any | None, int, Any]:
        """Remove and return the entry sharing the longest prefix with `ids`.

        Returns (cache or None, reused tokens, logits or None). When the entry holds all
        of `ids` with the logits after them (a warmed prompt), nothing is left to feed:
        the first token comes straight from those logits. Otherwise the cache is cropped
        so at least one prompt token remains to be fed (the model needs it for logits)."""
        self.stats.lookups += 1
        self.stats.prompt_tokens += len(ids)
        best_key, best = None, 0
        for key in self._entries:
            n = common_prefix(key, ids)
            if n > best:
                best_key, best = key, n
        exact = best_key is not None and best == len(best_key) == len(ids) and self._entries[best_key][2] is not None
        if not exact:
            best = min(best, len(ids) - 1)
            if best_key is None or best < self.min_reuse or self.max_bytes <= 0:
                return None, 0, None
        assert best_key is not None
        cache, _, logits = self._entries.pop(best_key)
        if not exact:
            truncate(cache, best)
            logits = None
        self.stats.hits += 1
        self.stats.reused_tokens += best
        return cache, best, logits

    def put(self, ids: Sequence[int], cache: Any, logits: Any = None) -> None:
        """Store `cache` (already holding exactly `ids`), with the logits after `ids` when
        known, and evict LRU entries over budget."""
        if self.max_bytes <= 0 or not ids:
            return
        key = tuple(ids)
        size = cache_bytes(cache) + (logits.numel() * logits.element_size() if logits is not None else 0)
        if size > self.max_bytes:
            return
        self._entries.pop(key, None)
        self._entries[key] = (cache, size, logits)
        while self.bytes > self.max_bytes and len(self._entries) > 1:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
