"""The `done` event's confidence (mean token log-probability), which next edit's threshold
reads: the same whichever decode loop made the tokens (issue 18)."""

from __future__ import annotations

import math
from typing import Any

from jupyter_assist.engine import GenerationParams, Request
from jupyter_assist.engine.types import Event

from .test_engine_reuse import NOTEBOOK, backend, no_cache

__all__ = ["backend"]  # the module-scoped fixture, shared


def _done(backend: Any, prompt: str, draft: str | None, lookup: bool) -> Event:
    events: list[Event] = []
    params = GenerationParams(max_tokens=24, loop_guard=False, lookup=lookup)
    backend.generate(Request("lp", prompt, params, draft=draft), events.append)
    return events[-1]


def test_mean_logprob_is_the_same_from_plain_and_speculative_decoding(backend: Any) -> None:
    prompt = NOTEBOOK + "total = x1"
    with no_cache(backend):
        plain = _done(backend, prompt, None, lookup=False)
        assert plain.logprob is not None and math.isfinite(plain.logprob) and plain.logprob <= 0
        # A draft that is the answer (every chunk accepted) and one that is off after a
        # few tokens (partly rejected): the same tokens, so the same mean.
        for draft in (plain.text, plain.text[:5] + "zzz qqq"):
            spec = _done(backend, prompt, draft, lookup=True)
            assert spec.text == plain.text
            assert spec.logprob is not None and abs(spec.logprob - plain.logprob) < 1e-3, (spec.logprob, plain.logprob)


def test_sampled_tokens_report_their_logprob_too(backend: Any) -> None:
    events: list[Event] = []
    params = GenerationParams(max_tokens=8, loop_guard=False, temperature=1.0, seed=1)
    backend.generate(Request("lp2", "x = ", params), events.append)
    done = events[-1]
    assert done.completion_tokens == 0 or (done.logprob is not None and done.logprob <= 0)
