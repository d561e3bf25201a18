"""The local model's loading policy: which device, dtype and quantization, how much K/V
memory requests may take, and which tokens end an answer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .models import ModelError


@dataclass
class LoadOptions:
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto | bfloat16 | float16 | float32
    quantization: str = "auto"  # auto | nf4 | 8bit | none
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    kv_cache_mb: int = 512  # prefix cache budget; 0 disables reuse
    spec_chunk: int = 32  # most draft tokens verified per forward pass (prompt lookup: half)
    cuda_graphs: bool = True  # replay decode steps and verify passes as CUDA graphs
    graph_max_tokens: int = 8192  # prompt + answer positions the graphs' K/V buffers hold
    prefill_chunk: int = 256  # most prompt tokens one prefill pass feeds: others wait one pass at most
    running_kv_mb: int = 0  # K/V all started requests may hold together; 0: from free memory
    batch: bool = True  # running requests' decode steps share forward passes (engine/batch.py)


def pick_device(device: str) -> str:
    import torch

    if device != "auto":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"device={device!r} but CUDA is not available to torch.")
        return device
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def cpu_has_bf16() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # older torch or no oneDNN
        return False


def pick_dtype(device: str, dtype: str) -> Any:
    import torch

    names = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
    if dtype != "auto":
        if dtype not in names:
            raise ModelError(f"Unknown dtype {dtype!r}; use one of auto, {', '.join(names)}.")
        return names[dtype]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "cpu":
        return torch.bfloat16 if cpu_has_bf16() else torch.float32
    return torch.float16


def pick_quantization(device: str, quantization: str) -> str:
    if quantization == "auto":
        return "nf4" if device.startswith("cuda") else "none"
    if quantization not in ("nf4", "8bit", "none"):
        raise ModelError(f"Unknown quantization {quantization!r}; use auto, nf4, 8bit or none.")
    if quantization != "none" and device == "mps":
        raise ModelError("bitsandbytes quantization does not run on mps; use quantization='none'.")
    return quantization


def bnb_config(quantization: str, compute_dtype: Any) -> Any:
    from transformers import BitsAndBytesConfig

    if quantization == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute_dtype,
            bnb_4bit_use_double_quant=True,
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def kv_bytes_per_token(config: Any, dtype: Any) -> int:
    """K and V bytes one token takes over all layers, from the model's shape."""
    c = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = getattr(c, "num_attention_heads", 1) or 1
    kv_heads = getattr(c, "num_key_value_heads", None) or heads
    head_dim = getattr(c, "head_dim", None) or getattr(c, "hidden_size", 0) // heads
    size = getattr(dtype, "itemsize", 2) if dtype is not None else 2
    return 2 * getattr(c, "num_hidden_layers", 1) * kv_heads * head_dim * size


def auto_kv_budget(device: Any) -> int:
    """Half the memory free on the model's device, at most 4 GiB on the CPU."""
    try:
        if getattr(device, "type", "") == "cuda":
            import torch

            return int(torch.cuda.mem_get_info(device)[0] // 2)
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return int(min(free // 2, 4 << 30))
    except (ValueError, OSError, RuntimeError, AttributeError):
        return 1 << 30


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        v = getattr(source, "eos_token_id", None)
        if isinstance(v, int):
            ids.add(v)
        elif isinstance(v, (list, tuple)):
            ids.update(int(x) for x in v)
    for special in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
        tid = tokenizer.convert_tokens_to_ids(special)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    return sorted(ids)
