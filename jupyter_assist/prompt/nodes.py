"""Prompt nodes (priompt semantics): a prompt is a tree, rendered against a token budget.

Every node has a priority: an absolute `p`, or `rel` added to its parent's. A node is kept
when its priority and every ancestor's are at or above the render's cutoff, so a scope's
children never outlive it. Nodes at `BASE` or above are mandatory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Union

BASE = 1e9  # default priority; a cutoff never rises above it, so these nodes are mandatory

Child = Union["Node", str, None]
Callback = Callable[["Node"], None]
Role = Literal["system", "user", "assistant"]


@dataclass(eq=False)
class Node:
    """Common fields. `name` shows the node in the inspector map."""

    p: float | None = field(default=None, kw_only=True)
    rel: float = field(default=0.0, kw_only=True)
    name: str | None = field(default=None, kw_only=True)
    on_include: Callback | None = field(default=None, kw_only=True)
    on_eject: Callback | None = field(default=None, kw_only=True)

    def priority(self, parent: float) -> float:
        return self.p if self.p is not None else parent + self.rel


@dataclass(eq=False)
class Text(Node):
    text: str = ""


@dataclass(eq=False)
class Scope(Node):
    children: list[Node] = field(default_factory=list)


@dataclass(eq=False)
class First(Node):
    """The first child that survives the cutoff wins; the others are dropped.

    Typical use: the full text, then a shorter fallback ("... 40 lines omitted").
    """

    children: list[Node] = field(default_factory=list)


@dataclass(eq=False)
class Empty(Node):
    """Renders nothing but counts `tokens`: room kept for the model's answer."""

    tokens: int = 0


@dataclass(eq=False)
class Isolate(Node):
    """A sub-prompt rendered on its own budget, independent of the outer cutoff.

    What it renders depends only on its own content and budget, so it stays byte-stable
    while the rest of the prompt changes; renders are cached (see `renderer.RenderCache`).
    """

    budget: int = 0
    children: list[Node] = field(default_factory=list)


@dataclass(eq=False)
class Message(Node):
    """A chat message; a prompt that holds messages renders to a message list."""

    role: Role = "user"
    children: list[Node] = field(default_factory=list)


def _nodes(children: Sequence[Child]) -> list[Node]:
    return [Text(text=c) if isinstance(c, str) else c for c in children if c is not None and c != ""]


# Short constructors, so trees read like markup.
def text(s: str, **kw: object) -> Text:
    return Text(text=s, **kw)  # type: ignore[arg-type]


def scope(*children: Child, **kw: object) -> Scope:
    return Scope(children=_nodes(children), **kw)  # type: ignore[arg-type]


def first(*children: Child, **kw: object) -> First:
    return First(children=_nodes(children), **kw)  # type: ignore[arg-type]


def empty(tokens: int, **kw: object) -> Empty:
    return Empty(tokens=tokens, **kw)  # type: ignore[arg-type]


def isolate(budget: int, *children: Child, **kw: object) -> Isolate:
    return Isolate(budget=budget, children=_nodes(children), **kw)  # type: ignore[arg-type]


def message(role: Role, *children: Child, **kw: object) -> Message:
    return Message(role=role, children=_nodes(children), **kw)  # type: ignore[arg-type]


def system(*children: Child, **kw: object) -> Message:
    return message("system", *children, **kw)


def user(*children: Child, **kw: object) -> Message:
    return message("user", *children, **kw)


def assistant(*children: Child, **kw: object) -> Message:
    return message("assistant", *children, **kw)
