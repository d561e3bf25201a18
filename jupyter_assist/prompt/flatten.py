"""Flatten a prompt tree into leaves, each kept for cutoffs c with lo < c <= hi.

`hi` is the lowest priority on the leaf's path (a child never outlives its scope); `lo`
is raised by `First`: an alternative is shown only when every earlier one is cut. The
rendering at a cutoff is then a filter over the leaves, with no tree walk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .nodes import BASE, Empty, First, Isolate, Message, Node, Scope, Text

INF = float("inf")


class Leaf(NamedTuple):
    text: str
    hi: float
    lo: float
    msg: int  # index into the message list, -1 outside messages
    reserve: int  # tokens an Empty node holds back


class Entry:
    """A node the inspector shows (named), that has callbacks, or an isolate."""

    __slots__ = ("end", "hi", "inner", "label", "lo", "node", "start")

    def __init__(self, node: Node, label: str, hi: float, lo: float, start: int) -> None:
        self.node, self.label, self.hi, self.lo = node, label, hi, lo
        self.start = self.end = start  # its leaves are leaves[start:end]
        self.inner: Any = None  # an isolate's own Rendered


@dataclass
class Flat:
    leaves: list[Leaf] = field(default_factory=list)
    roles: list[tuple[str, float, float]] = field(default_factory=list)  # per message: role, hi, lo
    entries: list[Entry] = field(default_factory=list)
    his: set[float] = field(default_factory=set)  # every hi: where the rendering can change

    def key(self) -> tuple[object, ...]:
        """Content identity, for caching isolate renders."""
        return tuple(self.leaves), tuple(self.roles), tuple((e.label, e.hi, e.lo, e.start, e.end) for e in self.entries)


IsolateRenderer = Callable[[Isolate, "Flat"], Any]  # -> Rendered


class Flattener:
    def __init__(self, render_isolate: IsolateRenderer) -> None:
        self.flat = Flat()
        self.render_isolate = render_isolate

    def walk(self, node: Node, parent: float, hi: float, lo: float, msg: int, prefix: str) -> None:
        p = node.p
        own = p if p is not None else parent + node.rel
        if own < hi:
            hi = own
        flat = self.flat
        flat.his.add(hi)  # every node's level: the set of kept nodes can change there
        kind = type(node)
        entry = None
        if node.name is not None or node.on_include is not None or node.on_eject is not None or kind is Isolate:
            entry = Entry(node, prefix + node.name if node.name is not None else "", hi, lo, len(flat.leaves))
            flat.entries.append(entry)
        if kind is Text:
            if node.text:  # type: ignore[attr-defined]
                flat.leaves.append(Leaf(node.text, hi, lo, msg, 0))  # type: ignore[attr-defined]
        elif kind is Scope:
            for child in node.children:  # type: ignore[attr-defined]
                self.walk(child, own, hi, lo, msg, prefix)
        elif kind is First:
            block = lo
            for child in node.children:  # type: ignore[attr-defined]
                self.walk(child, own, hi, block, msg, prefix)
                block = max(block, min(hi, child.priority(own)))
        elif kind is Empty:
            flat.leaves.append(Leaf("", hi, lo, msg, max(0, int(node.tokens))))  # type: ignore[attr-defined]
        elif kind is Message:
            if msg != -1:
                raise ValueError("Messages cannot nest.")
            index = len(flat.roles)
            flat.roles.append((node.role, hi, lo))  # type: ignore[attr-defined]
            for child in node.children:  # type: ignore[attr-defined]
                self.walk(child, own, hi, lo, index, prefix)
        elif kind is Isolate:
            sub = Flattener(self.render_isolate)
            inner_prefix = prefix + (node.name + "/" if node.name else "")
            for child in node.children:  # type: ignore[attr-defined]
                sub.walk(child, BASE, BASE, -INF, -1, inner_prefix)
            if sub.flat.roles:
                raise ValueError("An isolate renders text; it cannot hold messages.")
            inner = self.render_isolate(node, sub.flat)  # type: ignore[arg-type]
            if inner.text:
                flat.leaves.append(Leaf(inner.text, hi, lo, msg, 0))
            entry.inner = inner  # type: ignore[union-attr]
        elif isinstance(node, (Scope, First, Text, Empty, Message, Isolate)):  # subclasses
            raise TypeError(f"Subclasses of prompt nodes are not supported: {kind.__name__}")
        else:
            raise TypeError(f"Not a prompt node: {node!r}")
        if entry is not None:
            entry.end = len(flat.leaves)
