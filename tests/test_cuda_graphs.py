"""The CUDA-graph path (fixed K/V buffers, bucketed passes, attention spans) gives the
same tokens as the dynamic cache. On the CPU the runner runs its passes eagerly (no
capture), which checks everything but the capture itself; on a GPU it captures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from jupyter_assist.engine import Engine, GenerationParams, LoadOptions, Request
from jupyter_assist.engine.cuda_graphs import GraphRunner, build_runner, spans, supported
from jupyter_assist.engine.types import Event

from .conftest import wait_loaded
from .test_engine_reuse import NOTEBOOK, no_cache, run


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # fp32: the check is token identity, which lower precision can't promise across pass sizes.
    opts = LoadOptions(threads=1, spec_chunk=8, dtype="float32", quantization="none", cuda_graphs=False)
    e = Engine(str(tiny_model_dir), opts, tmp_path_factory.mktemp("cache"))
    e.start()
    wait_loaded(e)
    assert e.status.state == "ready"
    yield e.backend
    e.shutdown()


@pytest.fixture(scope="module")
def runner(backend: Any) -> GraphRunner:
    capture = backend.device.type == "cuda"
    # Small spans so that requests here cross from one span to the next.
    return GraphRunner(backend.model, max_len=512, buckets=(1, 2, 4, 8, 9), capture=capture, first_span=64)


def generate(backend: Any, prompt: str, params: GenerationParams) -> str:
    events: list[Event] = []
    backend.generate(Request("t", prompt, params), events.append)
    return events[-1].text


class graphs:
    def __init__(self, backend: Any, runner: GraphRunner | None) -> None:
        self.backend, self.runner = backend, runner

    def __enter__(self) -> None:
        self.backend.graphs = self.runner

    def __exit__(self, *a: Any) -> None:
        self.backend.graphs = None


def test_spans_double_up_to_the_buffer() -> None:
    assert spans(8192) == [1024, 2048, 4096, 8192]
    assert spans(3000) == [1024, 2048, 3000]
    assert spans(512, 1024) == [512]


def test_span_attention_equals_sdpa_with_grouped_heads() -> None:
    import torch
    import torch.nn.functional as F

    from jupyter_assist.engine.graph_attention import span_attention

    g = torch.Generator().manual_seed(0)
    b, h, kv, q, span, d = 1, 6, 2, 5, 40, 16
    query, key, value = (torch.randn(b, n, m, d, generator=g) for n, m in ((h, q), (kv, span), (kv, span)))
    start = 21  # the queries sit at positions 21..25; slots past each are stale
    mask = (torch.arange(span)[None, :] <= (start + torch.arange(q))[:, None])[None, None]
    want = F.scaled_dot_product_attention(query, key.repeat_interleave(h // kv, 1), value.repeat_interleave(h // kv, 1), attn_mask=mask).transpose(
        1, 2
    )
    got, _ = span_attention(None, query, key, value, mask, scaling=d**-0.5)
    assert got.shape == (b, q, h, d)
    assert torch.allclose(got, want, atol=1e-5)


def test_greedy_and_sampled_answers_match_the_dynamic_cache(backend: Any, runner: GraphRunner) -> None:
    # ~85 and ~290 tokens: both cross a span (64, 128, 256, 512) while they decode.
    prompts = [NOTEBOOK[:120] + "total = x1", NOTEBOOK[:400] + "y = "]
    sampled = GenerationParams(max_tokens=40, temperature=0.8, top_p=0.9, seed=3, lookup=False)
    with no_cache(backend):
        plain = [run(backend, p, max_tokens=40) for p in prompts]
        plain_sampled = generate(backend, prompts[1], sampled)
        with graphs(backend, runner):
            before, replays = runner.passes, runner.replays
            got = [run(backend, p, max_tokens=40) for p in prompts]
            assert runner.passes - before == 2 * 39  # every token after the first came from it
            assert runner.replays - replays == (2 * 39 if runner.capture else 0)
            got_sampled = generate(backend, prompts[1], sampled)
    assert got == plain
    assert got_sampled == plain_sampled


def test_speculative_edits_roll_back_in_the_buffers(backend: Any, runner: GraphRunner) -> None:
    import torch

    prompt = "Rewrite the code:\n" + NOTEBOOK[:400]
    # The draft as greedy token ids with two changed (a random model's text re-encodes to
    # other ids), so chunks are accepted, then rejected and rolled back at the changes.
    ids = torch.tensor([backend.encode(prompt)], device=backend.device)
    draft = backend.model.generate(ids, max_new_tokens=64, do_sample=False)[0, ids.shape[1] :].tolist()
    for i in (20, 41):
        draft[i] = (draft[i] + 5) % 200 + 3

    def counted(draft: Any, lookup: bool | None = None) -> tuple[str, dict[str, int]]:
        before = asdict(backend.spec_stats)
        spec, deltas = run(backend, prompt, max_tokens=64, draft=draft, lookup=lookup)
        assert "".join(deltas) == spec
        return spec, {k: v - before[k] for k, v in asdict(backend.spec_stats).items()}

    with no_cache(backend):
        greedy, _ = run(backend, prompt, max_tokens=64)
        cases = [(draft, None), (NOTEBOOK[:300], None), (None, True)]
        plain = [counted(*c) for c in cases]
        with graphs(backend, runner):
            got = [counted(*c) for c in cases]
    assert all(text == greedy for text, _ in got)
    # Same proposals accepted and rejected (rolled back) at the same places.
    assert got == plain
    stats = got[0][1]
    assert stats["proposed"] > stats["accepted"] > 10, stats


def test_a_request_too_long_for_the_buffers_decodes_on_the_dynamic_cache(backend: Any, runner: GraphRunner) -> None:
    prompt = NOTEBOOK  # ~1,100 tokens: more than the 512 slots
    assert len(backend.encode(prompt)) > runner.max_len
    with no_cache(backend):
        plain = run(backend, prompt, max_tokens=12)
        with graphs(backend, runner):
            before = runner.passes
            got = run(backend, prompt, max_tokens=12)
            assert runner.passes == before
    assert got == plain


def test_prefix_cache_and_warm_up_still_apply(backend: Any, runner: GraphRunner) -> None:
    prompt = NOTEBOOK[:500] + "z = "
    with no_cache(backend):
        cold = run(backend, prompt, max_tokens=20)[0]
    backend.prefix_cache.clear()
    with graphs(backend, runner):
        n = backend.warm(prompt)
        assert run(backend, prompt, max_tokens=20)[0] == cold
        assert backend.last_timing["reused"] == n
        # The prompt's K/V went back to the prefix cache unchanged by the answer.
        assert run(backend, prompt + "1", max_tokens=20)[0] == run(backend, prompt + "1", max_tokens=20)[0]
        assert backend.last_timing["reused"] >= n - 1


def test_a_pass_larger_than_every_bucket_runs_eagerly_in_the_buffers(backend: Any, runner: GraphRunner) -> None:
    import torch

    ids = backend.encode(NOTEBOOK[:200])[: 2 * runner.largest]
    with torch.inference_mode():
        eager = backend.model(input_ids=torch.tensor([ids], device=backend.device)).logits[0].float()
        runner.truncate(0)
        got = torch.cat([runner.feed(ids[:5]), runner.feed(ids[5:])])  # 5 (bucket 8), then 13
    assert torch.allclose(got, eager, atol=1e-4), float((got - eager).abs().max())
    runner.length = runner.max_len - 2
    with pytest.raises(ValueError, match="does not fit"):
        runner.feed([5, 6, 7])
    runner.truncate(0)


def test_sliding_window_models_keep_eager_decoding(backend: Any) -> None:
    from transformers import MistralConfig, Qwen2Config

    assert supported(Qwen2Config()) is None
    assert supported(Qwen2Config(use_sliding_window=True, sliding_window=64, max_window_layers=0)) is not None
    assert supported(MistralConfig(sliding_window=4096)) is not None
    assert supported(backend.model.config) is None


def test_build_runner_probes_against_the_eager_model(backend: Any) -> None:
    # On the CPU there is nothing to capture: the builder reports it and returns None;
    # on a GPU it captures and its probe must agree with the eager logits.
    import torch

    probe = backend.encode(NOTEBOOK[:80])
    built = build_runner(backend.model, 256, (1, 4), probe)
    assert (built is not None) == (backend.device.type == "cuda")
    if backend.device.type == "cuda":
        # A model that reads a value back to the host mid-pass can't be captured: no
        # graphs, found before capturing, so the process's CUDA RNG still works after.
        hook = backend.model.model.norm.register_forward_hook(lambda m, i, o: float(o.sum()))
        try:
            assert build_runner(backend.model, 256, (1, 4), probe) is None
        finally:
            hook.remove()
        assert torch.randn(4, device=backend.device).shape == (4,)
