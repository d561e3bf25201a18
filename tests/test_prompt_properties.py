"""The render guarantee on random trees and budgets (hypothesis).

For every tree and budget: the output fits; it is exactly the set of nodes at or above the
chosen cutoff (checked against an independent reference renderer); and no lower cutoff
fits. Counted with a real byte-level BPE tokenizer (the tiny test model's, through the
tiktoken path) and with a character counter.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_assist.prompt import BASE, Empty, First, Node, PromptTooLarge, Scope, Text, render

WORDS = ["x", "df", "import", "os", "return", "(", ")", "=", "1", "'s", "é", "# note", "def", "print"]


@st.composite
def line_texts(draw: Any) -> str:
    """A line or two, starting and ending like code lines do (so counts add up at joins)."""
    lines = []
    for _ in range(draw(st.integers(1, 2))):
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
        lines.append(" ".join(words) + "\n")
    return "".join(lines)


priorities = st.one_of(st.none(), st.integers(-5, 12).map(float))


def trees(texts: st.SearchStrategy[str]) -> st.SearchStrategy[Node]:
    leaf = st.one_of(
        st.builds(lambda t, p: Text(text=t, p=p), texts, priorities),
        st.builds(lambda n, p: Empty(tokens=n, p=p), st.integers(0, 5), priorities),
    )

    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        kids = st.lists(children, min_size=1, max_size=4)
        return st.one_of(
            st.builds(lambda c, p: Scope(children=c, p=p), kids, priorities),
            st.builds(lambda c, r: Scope(children=c, rel=r), kids, st.integers(-3, 3).map(float)),
            st.builds(lambda c, p: First(children=c, p=p), kids, priorities),
        )

    return st.recursive(leaf, extend, max_leaves=14)


def reference(node: Node, c: float, parent: float = BASE) -> tuple[str, int]:
    """Text and reserved tokens of the nodes with priority >= c, straight from the tree."""
    own = node.priority(parent)
    if min(own, BASE) < c:
        return "", 0
    if isinstance(node, Text):
        return node.text, 0
    if isinstance(node, Empty):
        return "", node.tokens
    if isinstance(node, First):
        for child in node.children:
            if min(child.priority(own), BASE) >= c:
                return reference(child, c, own)
        return "", 0
    parts = [reference(child, c, own) for child in node.children]  # type: ignore[attr-defined]
    return "".join(t for t, _ in parts), sum(n for _, n in parts)


def levels(node: Node, parent: float = BASE, hi: float = BASE) -> set[float]:
    own = node.priority(parent)
    hi = min(hi, own)
    out = {min(hi, BASE)}
    for child in getattr(node, "children", []):
        out |= levels(child, own, hi)
    return out


def check(tree: Node, budget: int, count: Callable[[str], int], mode: str = "binary") -> None:
    def size(c: float) -> int:
        t, reserved = reference(tree, c)
        return count(t) + reserved

    try:
        r = render(tree, budget, count, cache=None, search=mode)  # type: ignore[arg-type]
    except PromptTooLarge:
        assert size(BASE) > budget  # even the mandatory part does not fit
        return
    assert r.tokens <= budget  # fits
    text, reserved = reference(tree, r.cutoff)
    assert r.text == text and r.reserved == reserved  # exactly the nodes at the cutoff
    assert r.tokens == count(text) + reserved  # counted exactly
    for c in levels(tree) | {BASE}:
        if c < r.cutoff:
            assert size(c) > budget, f"cutoff {c} < {r.cutoff} fits too"  # no lower cutoff fits


@pytest.fixture(scope="module")
def bpe_count(tiny_model_dir: Path) -> Callable[[str], int]:
    from jupyter_assist.prompt.tokens import from_tokenizer_json

    counter = from_tokenizer_json((tiny_model_dir / "tokenizer.json").read_text())
    assert counter.chunked
    return counter.count


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(tree=trees(line_texts()), budget=st.integers(0, 120))
def test_guarantee_with_characters(tree: Node, budget: int) -> None:
    check(tree, budget, len)


@FAST
@given(data=st.data())
def test_guarantee_with_bpe_tokens(bpe_count: Callable[[str], int], data: st.DataObject) -> None:
    tree = data.draw(trees(line_texts()))
    check(tree, data.draw(st.integers(0, 80)), bpe_count)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_linear_reference_holds_for_any_text(bpe_count: Callable[[str], int], data: st.DataObject) -> None:
    """Arbitrary text (joins inside words, trailing spaces): the bottom-up scan needs no
    assumption; the binary search still fits and renders exactly its cutoff's nodes."""
    tree = data.draw(trees(st.text("ab c\n\t(é", min_size=1, max_size=12)))
    budget = data.draw(st.integers(0, 40))
    check(tree, budget, bpe_count, mode="linear")
    try:
        r = render(tree, budget, bpe_count, cache=None)
    except PromptTooLarge:
        return
    assert r.tokens <= budget and r.text == reference(tree, r.cutoff)[0]
