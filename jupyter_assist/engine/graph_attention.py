"""Attention for the CUDA-graph passes: a query of a few tokens over a fixed span of K/V.

SDPA with a mask runs the memory-efficient kernel, which spreads work over (heads x query
blocks) only: with GQA packed, 2 blocks for a 1.5B model, each walking the whole span.
That was 170 us a layer, 58% of a step at 2K context (H100 profile). Two batched matmuls
spread over the span instead (score columns, then split-K), and the softmax is fp32.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

NAME = "jupyter_assist_span"


def span_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Any, None]:
    """query (b, h, q, d); key/value (b, kv, span, d); attention_mask bool (b, 1, q, span).
    Returns (b, q, h, d), as transformers' attention functions do."""
    import torch

    b, h, q, d = query.shape
    kv, span = key.shape[1], key.shape[2]
    rep = h // kv
    scale = scaling if scaling is not None else d**-0.5
    # Query heads of one group share its K/V (head i reads kv head i // rep): one GEMM per group.
    grouped = query.reshape(b, kv, rep * q, d)
    scores = torch.matmul(grouped, key.transpose(-1, -2)).float() * scale
    scores = scores.view(b, kv, rep, q, span).masked_fill(~attention_mask[:, :, None], float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(value.dtype).view(b, kv, rep * q, span)
    out = torch.matmul(probs, value).view(b, h, q, value.shape[-1])
    return out.transpose(1, 2).contiguous(), None


def _register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, span_attention)


@contextmanager
def spans_of(model: Any) -> Iterator[None]:
    """Run `model`'s attention through `span_attention` inside the block."""
    _register()
    config = model.config
    saved = config._attn_implementation
    config._attn_implementation = NAME
    try:
        yield
    finally:
        config._attn_implementation = saved
