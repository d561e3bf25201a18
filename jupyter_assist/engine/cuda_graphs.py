"""CUDA graphs for decode steps and verify passes.

On a GPU a decode step of a small model is bound by kernel launches, not by memory
bandwidth: an eager step of a 1.5B model launches ~1,200 kernels and takes 18 ms after a
2K-token prompt (H100), where reading its weights takes 1 ms. A CUDA graph replays a
captured step with one launch: 4.4 ms (`python -m benchmarks gpu`).

A graph replays fixed tensors, so the KV of the running request lives in buffers of a
fixed size (`max_len` positions), written at the positions the runner sets, not at a
running count: rolling back a rejected verify is just moving `length`, and stale K/V past
it is masked out, then overwritten. One graph per pass size ("bucket") and attention span:
a pass of n tokens runs the smallest bucket >= n, padded (padded positions are written and
ignored), attending over the smallest span that holds it, so a short request doesn't read
all `max_len` slots. Attention there is `graph_attention.span_attention`, not SDPA.
The prefix cache keeps its `DynamicCache` entries; a request copies the prompt's K/V in.

Without `capture` the same buffers and masks run eagerly: that is how CPU tests check
this path against the dynamic one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, cast

from transformers.cache_utils import Cache, CacheLayerMixin

from .graph_attention import spans_of

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

BUCKETS = (1, 2, 4, 8, 16)


class _Slots:
    """Where the pass being run writes its K/V and how far it attends (shared by every layer)."""

    positions: Any = None
    span: int = 0
    length: int = 0


class _SlotLayer(CacheLayerMixin):
    is_compileable = False
    is_sliding = False
    keys: torch.Tensor  # allocated by lazy_initialization, before the first update
    values: torch.Tensor

    def __init__(self, max_len: int, slots: _Slots) -> None:
        super().__init__()
        self.max_len = max_len
        self.slots = slots

    def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
        import torch

        b, h, _, d = key_states.shape
        self.dtype, self.device = key_states.dtype, key_states.device
        self.keys = torch.zeros(b, h, self.max_len, d, dtype=key_states.dtype, device=key_states.device)
        self.values = torch.zeros(b, h, self.max_len, value_states.shape[-1], dtype=value_states.dtype, device=value_states.device)
        self.is_initialized = True

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self.keys.index_copy_(2, self.slots.positions, key_states)
        self.values.index_copy_(2, self.slots.positions, value_states)
        span = self.slots.span
        return self.keys[:, :, :span], self.values[:, :, :span]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.slots.span, 0

    def get_seq_length(self) -> int:
        return self.slots.length

    def get_max_length(self) -> int:
        return self.max_len


def supported(config: Any) -> str | None:
    """Why graphs can't run this model, or None. The runner's causal mask is full
    attention; sliding-window layers would need their own."""
    kinds = getattr(config, "layer_types", None)
    if kinds is not None:
        if any(k != "full_attention" for k in kinds):
            return "the model has sliding-window or linear-attention layers"
    elif getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return "the model uses sliding-window attention"
    return None


class _Step:
    """One pass size and span: its input buffers, its output, and (captured) its graph."""

    def __init__(self, runner: GraphRunner, q: int, span: int) -> None:
        import torch

        self.q, self.span = q, span
        self.ids = torch.zeros(1, q, dtype=torch.long, device=runner.device)
        self.start = torch.zeros(1, dtype=torch.long, device=runner.device)
        self.run: Callable[[], Any] = lambda: runner._pass(self.ids, self.start, span)
        self.graph: Any = None
        self.out: Any = None


class GraphRunner:
    """Feeds tokens after the request's K/V through fixed buffers; captured as CUDA graphs
    when `capture`. Owned by the engine's worker thread (one request at a time)."""

    def __init__(
        self,
        model: Any,
        max_len: int,
        buckets: tuple[int, ...] = BUCKETS,
        capture: bool = True,
        first_span: int = 1024,
        sdpa: bool = False,  # the model's SDPA instead of `span_attention` (`benchmarks gpu` compares)
    ) -> None:
        import torch

        self.model = model
        self.device = model.device
        self.max_len = max_len
        self.capture = capture
        self.sdpa = sdpa
        self.slots = _Slots()
        layers = model.config.get_text_config().num_hidden_layers
        self.cache = Cache(layers=[_SlotLayer(max_len, self.slots) for _ in range(layers)])
        self.arange = torch.arange(max_len, device=self.device)
        self.buckets = sorted(set(buckets))
        self.spans = spans(max_len, first_span)
        self.steps = {(q, s): _Step(self, q, s) for q in self.buckets for s in self.spans}
        self.passes = 0  # passes run through the buffers
        self.replays = 0  # of which replayed as graphs (status)
        self._build()

    @property
    def length(self) -> int:
        """Positions of the running request held (the layers read it as their length)."""
        return self.slots.length

    @length.setter
    def length(self, n: int) -> None:
        self.slots.length = n

    @property
    def largest(self) -> int:
        return self.buckets[-1]

    def _pass(self, ids: Any, start: Any, span: int) -> Any:
        """The forward a step replays: K/V written at start.., a causal mask over the
        first `span` slots (slots past a query's position are stale or empty)."""
        positions = start + self.arange[: ids.shape[1]]
        self.slots.positions, self.slots.span = positions, span
        mask = (self.arange[None, :span] <= positions[:, None])[None, None]
        with nullcontext() if self.sdpa else spans_of(self.model):
            out = self.model(input_ids=ids, position_ids=positions[None], attention_mask=mask, past_key_values=self.cache, use_cache=True)
        return out.logits[0].float()

    def _build(self) -> None:
        import torch

        with torch.inference_mode():
            self.steps[self.buckets[0], self.spans[0]].run()  # allocates the K/V buffers
            if not self.capture:
                return
            with torch.cuda.device(self.device):  # capture runs on the current device's streams
                self._capture()

    def _capture(self) -> None:
        import torch

        # A pass that waits on the GPU (`.item()`, `nonzero`: bitsandbytes 8-bit's outlier
        # split) can't be captured, and a capture that fails midway leaves torch's CUDA RNG
        # unusable for the process. Find out eagerly, before capturing anything.
        mode = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for q in (self.buckets[0], self.buckets[-1]):
                self.steps[q, self.spans[0]].run()
        except RuntimeError as e:
            raise RuntimeError(f"a forward pass synchronizes with the host ({e})") from e
        finally:
            torch.cuda.set_sync_debug_mode(mode)
        # Capture needs warmed-up kernels (cuBLAS workspaces, autotuning) on a side stream.
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for step in self.steps.values():
                step.run()
        torch.cuda.current_stream(self.device).wait_stream(stream)
        pool = None
        for key in sorted(self.steps, reverse=True):  # largest first: the pool fits the rest
            step = self.steps[key]
            step.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(step.graph, pool=pool):
                step.out = step.run()
            pool = step.graph.pool()
        torch.cuda.synchronize(self.device)

    def fits(self, tokens: int) -> bool:
        return tokens + self.largest <= self.max_len

    def load(self, cache: Any, n: int) -> None:
        """Start a request from the first `n` positions of a `DynamicCache`."""
        for mine, theirs in zip(cast(list[_SlotLayer], self.cache.layers), cache.layers):
            mine.keys[:, :, :n].copy_(theirs.keys[:, :, :n])
            mine.values[:, :, :n].copy_(theirs.values[:, :, :n])
        self.length = n

    def feed(self, ids: list[int], replay: bool = True) -> Any:
        """Logits (float) for each of `ids`, fed after the first `length` positions
        (`replay=False`: the same pass run eagerly, to check a graph against)."""
        import torch

        n = len(ids)
        q = next((q for q in self.buckets if q >= n), n)  # larger than every bucket: eager
        span = next((s for s in self.spans if s >= self.length + q), None)
        if span is None:
            raise ValueError(f"a pass of {n} tokens at {self.length} does not fit the {self.max_len} positions")
        step = self.steps.get((q, span))
        if step is None:
            out = self._pass(torch.tensor([ids], device=self.device), torch.tensor([self.length], device=self.device), span)
        else:
            padded = torch.tensor(ids + [ids[-1]] * (q - n), dtype=torch.long)
            step.ids.copy_(padded[None], non_blocking=True)
            step.start.fill_(self.length)
            if step.graph is not None and replay:
                step.graph.replay()
                self.replays += 1
                out = step.out
            else:
                out = step.run()
        self.length += n
        self.passes += 1
        return out[:n].clone()  # a step's `out` is its buffer: the next pass of its size rewrites it

    def truncate(self, n: int) -> None:
        self.length = min(self.length, n)


def spans(max_len: int, first: int = 1024) -> list[int]:
    """Attention spans: doubling from `first`, the last one `max_len`."""
    out = []
    s = first
    while s < max_len:
        out.append(s)
        s *= 2
    return [*out, max_len]


def build_runner(model: Any, max_len: int, buckets: tuple[int, ...], probe: list[int]) -> GraphRunner | None:
    """Capture the graphs and check them against the eager model on `probe`; None (with a
    log line saying why) where graphs can't run or disagree: decoding stays eager."""
    import torch

    why = "the model is not on a CUDA device" if model.device.type != "cuda" else supported(model.config)
    if why:
        log.info("jupyter-assist: CUDA graphs off: %s", why)
        return None
    try:
        runner = GraphRunner(model, max_len, buckets, capture=True)
        # Replays must compute what the same passes compute eagerly (the same kernels, so
        # equal up to rounding): a capture that baked in a host-side value would not.
        probe = probe[: runner.largest + 1]
        with torch.inference_mode():
            runs = []
            for replay in (False, True):
                runner.truncate(0)
                runs.append(torch.cat([runner.feed(probe[:-1], replay), runner.feed(probe[-1:], replay)]))
            runner.truncate(0)
    except Exception as e:  # a kernel that syncs the host, an unsupported layer...
        log.warning("jupyter-assist: CUDA graphs off, capture failed: %s: %s", type(e).__name__, e)
        return None
    eager, got = runs
    err = float((got - eager).abs().max())
    scale = float(eager.abs().max()) or 1.0
    if err > 1e-3 * scale:
        log.warning("jupyter-assist: CUDA graphs off, their logits differ from eager ones by %.3g", err)
        return None
    log.info("jupyter-assist: CUDA graphs captured for passes of %s tokens over spans of %s", runner.buckets, runner.spans)
    return runner
