"""Local backend: a transformers causal LM driven by our own decode loop.

Our loop (not `generate`) so that cancellation is checked every step, text streams without
breaking characters, and stop rules see the text as it grows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .decoding import IncrementalDetokenizer, StopRule
from .models import ModelError, ModelSpec, Progress, materialize
from .types import Event, Request

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]


@dataclass
class LoadOptions:
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto | bfloat16 | float16 | float32
    quantization: str = "auto"  # auto | nf4 | 8bit | none
    threads: int = 0  # torch CPU threads; 0 keeps torch's default


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


class LocalBackend:
    def __init__(self, model: Any, tokenizer: Any, info: dict[str, Any]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self.device = model.device
        self.eos_ids = _eos_ids(model, tokenizer)

    @classmethod
    def load(
        cls, spec: ModelSpec, opts: LoadOptions, cache_dir: Path, progress: Progress
    ) -> "LocalBackend":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if opts.threads > 0:
            torch.set_num_threads(opts.threads)
        device = pick_device(opts.device)
        dtype = pick_dtype(device, opts.dtype)
        quant = pick_quantization(device, opts.quantization)
        source = materialize(spec, cache_dir, progress)
        progress("loading", None)
        kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": "sdpa"}
        if quant != "none":
            kwargs["quantization_config"] = bnb_config(quant, dtype)
            kwargs["device_map"] = {"": device}
        local_only = spec.is_local
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
            model = AutoModelForCausalLM.from_pretrained(source, local_files_only=local_only, **kwargs)
        except (OSError, ValueError, ImportError) as e:
            raise ModelError(f"Could not load {spec.display!r}: {e}") from e
        if quant == "none":
            model.to(device)
        model.eval()
        info = {
            "model": spec.display,
            "device": str(device),
            "dtype": str(dtype).removeprefix("torch."),
            "quantization": None if quant == "none" else quant,
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        return cls(model, tokenizer, info)

    # -- text helpers used by tasks -------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "

    # -- generation -----------------------------------------------------------------
    def generate(self, req: Request, emit: Emit) -> None:
        import torch
        from transformers import DynamicCache

        params = req.params
        ids = self.encode(req.prompt)
        if not ids:
            ids = [self.tokenizer.bos_token_id or self.eos_ids[0]]
        max_ctx = getattr(self.model.config, "max_position_embeddings", 0) or 1 << 30
        if len(ids) + params.max_tokens > max_ctx:
            raise ValueError(
                f"Prompt of {len(ids)} tokens + {params.max_tokens} new exceeds the model's "
                f"context of {max_ctx} tokens."
            )
        rule = StopRule(max_tokens=params.max_tokens, stop_strings=params.stop)
        detok = IncrementalDetokenizer(self.decode)
        gen = torch.Generator(device="cpu")
        if params.seed is not None:
            gen.manual_seed(params.seed)
        emitted = 0
        finish = "length"
        cache = DynamicCache(config=self.model.config)
        inp = torch.tensor([ids], device=self.device)
        with torch.inference_mode():
            for _ in range(params.max_tokens):
                if req.cancelled.is_set():
                    finish = "cancelled"
                    break
                out = self.model(input_ids=inp, past_key_values=cache, use_cache=True)
                logits = out.logits[0, -1].float()
                tok = _sample(logits, params.temperature, params.top_p, gen)
                if tok in self.eos_ids:
                    finish = "eos"
                    break
                detok.push(tok)
                text = detok.text
                cut = rule.cut(text)
                if cut is not None:
                    detok.text = text[:cut]
                    finish = "stop"
                    break
                loop = rule.looping(detok.ids) if params.loop_guard else None
                if loop is not None:
                    detok.text = self.decode(detok.ids[: len(detok.ids) - loop])
                    finish = "loop"
                    break
                safe = len(text) - _held_back(text, params.stop)
                if safe > emitted:
                    emit(Event("delta", text=text[emitted:safe]))
                    emitted = safe
                inp = torch.tensor([[tok]], device=self.device)
        del cache
        final = detok.text
        if len(final) > emitted:  # clients treat `done.text` as authoritative anyway
            emit(Event("delta", text=final[emitted:]))
        emit(
            Event(
                "done",
                text=final,
                finish_reason=finish,  # type: ignore[arg-type]
                prompt_tokens=len(ids),
                completion_tokens=len(detok.ids),
            )
        )

    def close(self) -> None:
        import gc

        import torch

        del self.model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """Length of the tail of `text` that could still grow into a stop string."""
    held = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                held = max(held, k)
                break
    return held


def _sample(logits: Any, temperature: float, top_p: float, gen: Any) -> int:
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, idx = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, 0) - sorted_p < top_p
        probs = torch.zeros_like(probs).scatter(0, idx[keep], sorted_p[keep])
    return int(torch.multinomial(probs.cpu(), 1, generator=gen))


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
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
