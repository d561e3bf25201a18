"""Render a prompt tree against a token budget: p(X, n) = s.

The output at cutoff c is the nodes whose priority is >= c (see flatten.py); the chosen
cutoff is the lowest priority level whose rendering fits the budget, counted exactly with
the model's tokenizer. Per-leaf counts give an estimate for every level at once, so the
exact search starts next to the answer and usually needs two or three full counts.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

from .flatten import INF, Flat, Flattener, Leaf
from .model import plain_chat
from .nodes import BASE, Isolate, Node, Scope
from .tokens import Tokens, counter_for

ChatTemplate = Callable[[list[dict[str, str]]], str]
Search = Literal["binary", "linear", "linear_down"]


class PromptTooLarge(ValueError):
    """Even the mandatory nodes (priority >= BASE) exceed the budget."""

    def __init__(self, needed: int, budget: int, parts: Sequence[tuple[str, int]]) -> None:
        detail = ", ".join(f"{name} {n}" for name, n in parts) or "no named parts"
        short = f"the budget is {budget} tokens" if budget > 0 else f"no tokens are left for it (budget {budget})"
        super().__init__(
            f"The request does not fit the model's context: it needs {needed} tokens ({detail}) "
            f"but {short}. Send less text (a shorter cell, selection or message)."
        )
        self.needed, self.budget, self.parts = needed, budget, list(parts)


@dataclass
class NodeReport:
    """One named node in the inspector map."""

    name: str
    kept: bool
    tokens: int  # the tokens it brings if kept, or would bring if dropped
    priority: float
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        p = self.priority
        shown: object = "mandatory" if p >= BASE else (int(p) if float(p).is_integer() else round(p, 3))
        return {"name": self.name, "kept": self.kept, "tokens": self.tokens, "priority": shown, **({"note": self.note} if self.note else {})}


@dataclass
class Rendered:
    text: str
    tokens: int  # exact count of `text` plus reserved tokens
    budget: int
    cutoff: float
    messages: list[dict[str, str]] | None = None
    reserved: int = 0
    levels: int = 0  # distinct priority levels
    counts: int = 0  # full exact counts the search needed
    _map: Callable[[], list[NodeReport]] | None = field(default=None, repr=False)
    _nodes: list[NodeReport] | None = field(default=None, repr=False)

    @property
    def nodes(self) -> list[NodeReport]:
        """The inspector map, built on first use (a keystroke's render never needs it)."""
        if self._nodes is None:
            self._nodes = self._map() if self._map else []
        return self._nodes

    def report(self) -> list[dict[str, object]]:
        return [n.as_dict() for n in self.nodes]


class RenderCache:
    """Small LRU of isolate renders, keyed by content, budget and tokenizer."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._d: OrderedDict[tuple[object, ...], Rendered] = OrderedDict()
        self.hits = 0
        self._lock = threading.Lock()  # the server builds prompts on several threads

    def get(self, key: tuple[object, ...]) -> Rendered | None:
        with self._lock:
            r = self._d.get(key)
            if r is not None:
                self._d.move_to_end(key)
                self.hits += 1
            return r

    def put(self, key: tuple[object, ...], value: Rendered) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)


DEFAULT_CACHE = RenderCache()


def _opens(text: str) -> bool:
    """A SAFE_SPLIT point (tokens.py) can sit before this text: it starts with a non-space."""
    return bool(text) and not text[0].isspace()


def _closes(text: str) -> bool:
    """A SAFE_SPLIT point can sit after this text: it ends with a non-space and a newline."""
    return len(text) > 1 and text[-1] == "\n" and not text[-2].isspace()


def count_parts(parts: list[str], tokens: Tokens) -> int:
    """Exact count of "".join(parts): memoised per part where parts meet at SAFE_SPLIT
    points (counts add up there), per joined run where they do not."""
    if not getattr(tokens, "chunked", False):
        return tokens.count("".join(parts))
    total = 0
    run: list[str] = []
    for part in parts:
        if run and not (_closes(run[-1]) and _opens(part)):
            run.append(part)
            continue
        if run:
            total += tokens.count(run[0] if len(run) == 1 else "".join(run))
        run = [part]
    if run:
        total += tokens.count(run[0] if len(run) == 1 else "".join(run))
    return total


def _at(flat: Flat, c: float, template: ChatTemplate | None) -> tuple[list[str], list[dict[str, str]] | None, int]:
    """What renders at cutoff c: text parts (for messages: the templated text), messages, reserve."""
    reserve = 0
    if not flat.roles:
        parts = []
        for lf in flat.leaves:
            if lf.lo < c <= lf.hi:
                if lf.text:
                    parts.append(lf.text)
                reserve += lf.reserve
        return parts, None, reserve
    contents: list[list[str]] = [[] for _ in flat.roles]
    for lf in flat.leaves:
        if lf.lo < c <= lf.hi:
            if lf.msg < 0 and lf.text:
                raise ValueError("A prompt with messages must keep all its text inside messages.")
            contents[lf.msg].append(lf.text)
            reserve += lf.reserve
    msgs = [{"role": role, "content": "".join(p)} for (role, hi, lo), p in zip(flat.roles, contents) if lo < c <= hi]
    text = template(msgs) if template else plain_chat(msgs, generation_prompt=False)
    return [text], msgs, reserve


def _levels(flat: Flat) -> list[float]:
    """Cutoffs at which the rendering can change, capped at BASE: above it only mandatory
    nodes remain, and those are never cut."""
    return sorted({min(h, BASE) for h in flat.his if h > -INF} | {BASE})


def _estimates(leaves: list[Leaf], levels: list[float], sizes: list[int]) -> list[int]:
    """The sum of per-leaf counts at every level (a difference array over level indices)."""
    diff = [0] * (len(levels) + 1)
    after = {v: i + 1 for i, v in enumerate(levels)}  # bisect_right, for values in levels
    for lf, n in zip(leaves, sizes):
        n += lf.reserve
        if n:
            a = after.get(lf.lo)
            a = bisect.bisect_right(levels, lf.lo) if a is None else a
            b = after.get(lf.hi)
            b = bisect.bisect_right(levels, lf.hi) if b is None else b
            if a < b:
                diff[a] += n
                diff[b] -= n
    out, run = [], 0
    for d in diff[:-1]:
        run += d
        out.append(run)
    return out


def _first_at_most(values: list[int], limit: int) -> int:
    lo, hi = 0, len(values) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] <= limit:
            hi = mid
        else:
            lo = mid + 1
    return lo


def search_level(n: int, fits: Callable[[int], bool], guess: int, mode: Search = "binary") -> int:
    """Index of the lowest of n levels that fits (the top one, n - 1, is known to fit).

    `binary` gallops out from `guess` until it brackets the boundary, then bisects: it
    assumes that fitting is monotone in the level. `linear` tries every level from the
    bottom up (no such assumption: the reference); `linear_down` walks down from the top
    while levels fit (a cheaper linear baseline with the same assumption as `binary`).
    """
    top = n - 1
    if mode == "linear":
        return next(k for k in range(n) if k == top or fits(k))
    if mode == "linear_down":
        k = top
        while k > 0 and fits(k - 1):
            k -= 1
        return k
    g = min(max(guess, 0), top)
    step = 1
    if fits(g):  # gallop down to a level that does not fit (or past level 0)
        hi, lo = g, g - 1
        while lo >= 0 and fits(lo):
            hi, step = lo, step * 2
            lo = hi - step
        lo = max(lo, -1)
    else:  # gallop up to a level that fits
        lo, hi = g, g + 1
        while hi < top and not fits(hi):
            lo, step = hi, step * 2
            hi = lo + step
        hi = min(hi, top)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _inspect(flat: Flat, sizes: list[int], c: float) -> list[NodeReport]:
    every, kept_only = [0], [0]  # prefix sums of leaf counts
    for lf, n in zip(flat.leaves, sizes):
        n += lf.reserve
        every.append(every[-1] + n)
        kept_only.append(kept_only[-1] + (n if lf.lo < c <= lf.hi else 0))
    out: list[NodeReport] = []
    for e in flat.entries:
        kept = e.lo < c <= e.hi
        sums = kept_only if kept else every
        if e.label:
            out.append(NodeReport(e.label, kept, sums[e.end] - sums[e.start], e.hi))
        if e.inner is not None:
            out.extend(NodeReport(r.name, r.kept and kept, r.tokens, r.priority, r.note) for r in e.inner.nodes)
    return out


def _render_flat(flat: Flat, budget: int, tokens: Tokens, template: ChatTemplate | None, mode: Search) -> Rendered:
    sizes = [tokens.count(lf.text) for lf in flat.leaves]
    levels = _levels(flat)
    exact: dict[int, tuple[int, list[str], list[dict[str, str]] | None, int]] = {}

    def measure(k: int) -> tuple[int, list[str], list[dict[str, str]] | None, int]:
        if k not in exact:
            parts, msgs, reserve = _at(flat, levels[k], template)
            exact[k] = (count_parts(parts, tokens) + reserve, parts, msgs, reserve)
        return exact[k]

    top = len(levels) - 1
    if measure(top)[0] > budget:
        must = [
            (e.label, sum(sizes[e.start : e.end]) + sum(lf.reserve for lf in flat.leaves[e.start : e.end]))
            for e in flat.entries
            if e.hi >= BASE and e.label
        ]
        raise PromptTooLarge(measure(top)[0], budget, must)
    est = _estimates(flat.leaves, levels, sizes)
    if mode == "binary" and any(a < b for a, b in itertools.pairwise(est)):
        # A `first` whose fallback outweighs what it replaces: size is not monotone in the
        # cutoff, so bisection could miss the lowest level that fits. Scan instead.
        mode = "linear"
    k = search_level(len(levels), lambda i: measure(i)[0] <= budget, _first_at_most(est, budget), mode)
    n, parts, msgs, reserve = measure(k)
    c = levels[k]
    for e in flat.entries:  # callbacks run now; the map is built when asked for
        kept = e.lo < c <= e.hi
        callback = e.node.on_include if kept else e.node.on_eject
        if callback is not None:
            callback(e.node)
    return Rendered("".join(parts), n, budget, c, msgs, reserve, len(levels), len(exact), lambda: _inspect(flat, sizes, c))


def render(
    root: Node | Sequence[Node],
    budget: int,
    tokens: Tokens | Callable[[str], int],
    *,
    template: ChatTemplate | None = None,
    cache: RenderCache | None = DEFAULT_CACHE,
    search: Search = "binary",
) -> Rendered:
    """Render `root` within `budget` tokens.

    The result holds exactly the nodes whose priority is >= the chosen cutoff, and no lower
    cutoff fits. The binary search takes the per-node token counts to add up where nodes
    meet (true at line starts, where notebook context joins; a tree whose sizes are not
    monotone in the cutoff is scanned linearly); `search="linear"` assumes nothing.
    Prompts of `Message` nodes also return `messages`; their text is `template(messages)`
    (the model's chat template), counted as a whole. An `Isolate` inside is rendered on its
    own budget and cached in `cache`. Raises PromptTooLarge when even the mandatory nodes
    (priority >= BASE) do not fit.
    """
    counter = cast(Tokens, tokens) if hasattr(tokens, "count") else counter_for(tokens)

    def render_isolate(node: Isolate, flat: Flat) -> Rendered:
        key = (counter, node.budget, flat.key())
        hit = cache.get(key) if cache is not None else None
        if hit is None:
            hit = _render_flat(flat, node.budget, counter, None, "binary")
            if cache is not None:
                cache.put(key, hit)
        return hit

    tree = root if isinstance(root, Node) else Scope(children=list(root))
    fl = Flattener(render_isolate)
    fl.walk(tree, BASE, BASE, -INF, -1, "")
    return _render_flat(fl.flat, budget, counter, template, search)
