"""Prepacked CPU linear layers: same logits as `nn.Linear`, or no swap at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from jupyter_assist.engine.cpu_linear import prepack_linears  # noqa: E402


def _load(folder: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa").eval()


def _linears(model: Any) -> int:
    return sum(type(m) is torch.nn.Linear for m in model.modules())


def _logits_with_cache(model: Any, ids: Any) -> Any:
    """Prefill, then a 1-token step and a 7-token verify on the cache: the engine's shapes."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        a = model(input_ids=ids[:, :20], past_key_values=cache, use_cache=True).logits
        b = model(input_ids=ids[:, 20:21], past_key_values=cache, use_cache=True).logits
        c = model(input_ids=ids[:, 21:28], past_key_values=cache, use_cache=True).logits
    return torch.cat([a, b, c], dim=1)[0]


def test_prepacked_linears_give_the_same_logits(tiny_model_dir: Path) -> None:
    model = _load(tiny_model_dir)
    n_linear = _linears(model)
    ids = torch.randint(3, model.config.vocab_size, (1, 28), generator=torch.Generator().manual_seed(0))
    dense = _logits_with_cache(model, ids)

    assert prepack_linears(model, model.config.vocab_size) == n_linear > 0
    assert _linears(model) == 0
    packed = _logits_with_cache(model, ids)
    torch.testing.assert_close(packed, dense, rtol=1e-4, atol=1e-4)
    assert packed.argmax(-1).tolist() == dense.argmax(-1).tolist()


def test_a_model_that_reads_weights_itself_keeps_plain_layers(tiny_model_dir: Path) -> None:
    model = _load(tiny_model_dir)
    n_linear = _linears(model)
    forward = model.forward

    def reads_lm_head_weight(**kw: Any) -> Any:  # as some modeling code does
        assert model.lm_head.weight is not None
        return forward(**kw)

    model.forward = reads_lm_head_weight
    assert prepack_linears(model, model.config.vocab_size) == 0
    assert _linears(model) == n_linear  # every layer put back
    with torch.inference_mode():
        assert model(input_ids=torch.tensor([[1, 2, 3]])).logits.shape[-1] == model.config.vocab_size


def test_no_packing_without_the_memory_for_a_second_copy(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_assist.engine import cpu_linear

    model = _load(tiny_model_dir)
    n_linear = _linears(model)
    monkeypatch.setattr(cpu_linear, "_available_memory", lambda: 4096)  # far less than the weights
    assert prepack_linears(model, model.config.vocab_size) == 0
    assert _linears(model) == n_linear


def test_the_engine_prepacks_on_cpu(tiny_model_dir: Path, tmp_path: Path) -> None:
    from jupyter_assist.engine import Engine, LoadOptions

    from .conftest import wait_loaded

    e = Engine(str(tiny_model_dir), LoadOptions(threads=1, device="cpu"), tmp_path)
    e.start()
    try:
        wait_loaded(e)
        assert e.status.state == "ready"
        assert _linears(e.backend.model) == 0
        assert e.backend.info["parameters"] > 0
    finally:
        e.shutdown()
