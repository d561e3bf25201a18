"""Choosing an answer's next token (greedy or sampled, seeded) and turning tokens into text."""

from __future__ import annotations

from typing import Any

from .decoding import Step


def decode_stream(tokenizer: Any) -> Step | None:
    """An incremental `decode` for one answer (tokenizers' `DecodeStream`), or None where it
    would not give the same text: a slow tokenizer, or one that cleans up spaces after
    decoding."""
    fast = getattr(tokenizer, "backend_tokenizer", None)
    if fast is None or getattr(tokenizer, "clean_up_tokenization_spaces", False):
        return None
    from tokenizers.decoders import DecodeStream

    stream = DecodeStream(skip_special_tokens=True)
    return lambda tok: stream.step(fast, tok)


def seeded_generator(seed: int | None) -> Any:
    import torch

    gen = torch.Generator(device="cpu")
    # No seed: a fresh one. A new Generator always starts from the same default seed, so
    # without this every sampled request (Regenerate) repeated the previous answer.
    gen.manual_seed(seed) if seed is not None else gen.seed()
    return gen


def logprob(logits: Any, tok: int) -> float:
    """log softmax(logits)[tok], for the confidence a `done` event reports."""
    row = logits.float()
    return float(row[tok] - row.logsumexp(-1))


def sample(logits: Any, temperature: float, top_p: float, gen: Any) -> int:
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, idx = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, 0) - sorted_p < top_p
        probs = torch.zeros_like(probs).scatter(0, idx[keep], sorted_p[keep])
    return int(torch.multinomial(probs.cpu(), 1, generator=gen))
