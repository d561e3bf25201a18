"""Next edit's confidence in a rewrite: the generated tokens where it differs from the
region (a rewrite is mostly copied, and a copy is near-certain whatever the change)."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_assist.engine import GenerationParams, Request
from jupyter_assist.engine.decoding import StopRule
from jupyter_assist.engine.types import Event, MarkedOutput
from jupyter_assist.tasks.next_edit import MIN_LOGPROB, Followed, change_logprob, changed_spans
from jupyter_assist.wire import NextEditRequest

from .test_engine_reuse import NOTEBOOK, backend, no_cache

__all__ = ["backend"]  # the module-scoped fixture (the tiny local model), shared

VOCAB = ["x = 1\n", "print(", "x", "y", ")", "```"]


def _out(stop: tuple[str, ...] = ()) -> MarkedOutput:
    decode = lambda ids: "".join(VOCAB[i] for i in ids)  # noqa: E731
    return MarkedOutput(decode, StopRule(max_tokens=100, stop_strings=stop), [99], False, lambda _: None)


def test_marked_output_says_where_each_token_ends() -> None:
    out = _out(stop=("```",))
    for tok, lp in [(0, -0.01), (1, -0.02), (3, -2.0), (4, -0.03), (5, -0.5)]:
        out.note_logprob(lp)
        if out.push(tok):
            break
    assert out.text == "x = 1\nprint(y)"
    # The stop string's token is cut from the text: it ends where the text does.
    assert out.token_logprobs() == [(6, -0.01), (12, -0.02), (13, -2.0), (14, -0.03), (14, -0.5)]


def test_marked_output_text_chunks_share_their_end() -> None:
    out = _out()
    for lp in (-0.1, -0.2):
        out.note_logprob(lp)
    out.push_text("ab")
    out.note_logprob(-0.3)
    out.push_text("c")
    assert out.token_logprobs() == [(2, -0.1), (2, -0.2), (3, -0.3)]
    assert _out().token_logprobs() is None


def test_changed_spans_are_the_characters_that_differ() -> None:
    region = "a = load(x)\nb = load(y)\nprint(b)"
    text = "a = load(x)\nb = read(y)\nprint(b)"
    assert [text[s:e] for s, e in changed_spans(region, text)] == ["re"]  # lo|ad -> re|ad
    assert changed_spans(region, region) == []
    # A deleted line: the character where it was.
    assert changed_spans("a\nb\nc", "a\nc") == [(2, 3)]


def test_change_logprob_judges_only_the_changed_tokens() -> None:
    region, text = "print(x)", "print(y)"
    tokens = [(6, -0.001), (7, -2.5), (8, -0.001)]  # `print(` `y` `)`: the copy is sure, the change is not
    assert change_logprob(region, text, tokens) == pytest.approx(-2.5)
    assert change_logprob(region, region, tokens) is None


BEFORE = "costs = [1, 2]\nprint(costs)\nprint(costs)\nmean = 0"
AFTER = "prices = [1, 2]\nprint(costs)\nprint(costs)\nmean = 0"


def _followed() -> Followed:
    body = {"request_id": "r", "cells": [{"cell_type": "code", "source": AFTER}], "edits": [{"cell_index": 0, "before": BEFORE, "after": AFTER}]}
    return Followed.of(NextEditRequest.model_validate(body))


def test_a_mostly_copied_rewrite_with_an_unsure_change_gives_no_model_proposal() -> None:
    found = _followed()
    # The rewrite changes the last line (renames cover the others) and is unsure of that change only.
    text = found.where.text.replace("mean = 0", "mean = 1")
    change_at = text.index("mean = 1") + len("mean = ")
    tokens = [(k + 1, -0.001) for k in range(len(text))]  # one token per character
    tokens[change_at] = (change_at + 1, -3.0)
    whole = sum(lp for _, lp in tokens) / len(tokens)
    assert whole >= MIN_LOGPROB  # what the whole-answer mean let through
    model = lambda done: [p for p in done["proposals"] if p["reason"] == "model"]  # noqa: E731
    assert model(found.finish(text, whole)) != []
    done = found.finish(text, whole, MIN_LOGPROB, tokens)
    assert done["change_logprob"] == pytest.approx(-3.0) and model(done) == []
    sure = [(e, -0.01) for e, _ in tokens]
    assert model(found.finish(text, -0.01, MIN_LOGPROB, sure)) != []


def test_local_engine_done_event_has_per_token_logprobs_from_both_loops(backend: Any) -> None:
    prompt = NOTEBOOK + "total = x1"
    with no_cache(backend):
        done = []
        for draft in (None, "zz qq"):  # plain, then speculative decoding
            events: list[Event] = []
            params = GenerationParams(max_tokens=24, loop_guard=False, lookup=draft is not None)
            backend.generate(Request("tl", prompt, params, draft=draft), events.append)
            done.append(events[-1])
    for d in done:
        assert d.token_logprobs is not None and d.logprob is not None
        ends = [e for e, _ in d.token_logprobs]
        assert ends == sorted(ends) and ends[-1] == len(d.text)
        assert abs(sum(lp for _, lp in d.token_logprobs) / len(d.token_logprobs) - d.logprob) < 1e-6
    assert done[0].text == done[1].text and [e for e, _ in done[0].token_logprobs or []] == [e for e, _ in done[1].token_logprobs or []]
