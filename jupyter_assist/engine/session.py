"""Where a running request's tokens are fed (its K/V: a `DynamicCache`, the CUDA graphs'
buffers or a row of the shared batch), and the stepwise plumbing the decode loops run on:
each scheduler step is one forward pass, under torch's inference mode."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

from .kvcache import cache_len, truncate


class Session(Protocol):
    """The running request's K/V: feed tokens after it, roll it back."""

    @property
    def length(self) -> int: ...  # tokens it holds

    def feed(self, ids: list[int]) -> Any: ...

    def truncate(self, n: int) -> None: ...


class DynamicSession:
    def __init__(self, forward: Callable[[list[int], Any], Any], cache: Any) -> None:
        self._forward, self.cache = forward, cache

    @property
    def length(self) -> int:
        return cache_len(self.cache)

    def feed(self, ids: list[int]) -> Any:
        return self._forward(ids, self.cache)

    def truncate(self, n: int) -> None:
        truncate(self.cache, n)


def feed_steps(session: Any, ids: list[int], cancelled: Any) -> Generator[None, None, Any]:
    """`session.feed(ids)` as one scheduler step (batch rows share the pass: engine/batch.py)."""
    from .batch import feed_steps as batched

    return (yield from batched(session, ids, cancelled))


def leave(session: Any) -> None:
    leave = getattr(session, "leave", None)
    if leave is not None:
        leave()


def batch_for(model: Any, tokenizer: Any) -> Any:
    """The shared batch of decode rows, or None where its plain K/V rows do not fit the
    model (sliding-window or linear-attention layers, as for the CUDA graphs)."""
    from .batch import Batch
    from .cuda_graphs import supported

    if supported(model.config) is not None:
        return None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return Batch(model, pad_id=int(pad))


def inference_steps(gen: Generator[None, None, Any]) -> Generator[None, None, Any]:
    """Steps of `gen`, each under torch's inference mode. Not one `with` around the whole
    generator: the mode is per thread, and interleaved generators would leave or re-enter
    it for one another."""
    import torch

    try:
        while True:
            with torch.inference_mode():
                try:
                    next(gen)
                except StopIteration as stop:
                    return stop.value
            yield
    finally:
        gen.close()


def drain(gen: Generator[None, None, Any]) -> Any:
    """Run stepwise work to its end at once; its return value."""
    import torch

    with torch.inference_mode():
        return run_out(gen)


def run_out(steps: Generator[None, None, Any]) -> Any:
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
