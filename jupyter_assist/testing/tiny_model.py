"""Build a tiny random-weight causal LM with a real byte-level BPE tokenizer.

Tests and load benchmarks need real model code but no download: a tokenizer trained on a
few stdlib modules plus a 2-layer Llama builds in about a second and generates
Python-looking tokens at several hundred tokens/s on one CPU core.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The tiny model's layer shapes (benchmarks/gpu.py's smoke-check shape reuses them).
TINY_SHAPE: dict[str, Any] = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def _corpus() -> list[str]:
    import collections
    import json as json_mod
    import os
    import textwrap

    return [inspect.getsource(m) for m in (collections, json_mod.decoder, os, textwrap)]


def build_tokenizer(dest: Path, *, vocab_size: int = 1024) -> Any:
    """Train the byte-level BPE tokenizer (with a chat template) and save it to `dest`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(dest)
    return fast


def build_tiny_model(dest: Path, *, vocab_size: int = 1024, seed: int = 0) -> Path:
    """Write a tokenizer + random 2-layer Llama to `dest` (a HF folder) and return it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    dest = Path(dest)
    fast = build_tokenizer(dest, vocab_size=vocab_size)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        **TINY_SHAPE,
        max_position_embeddings=4096,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    # Untied random head: greedy output wanders instead of echoing the last token. Zeroed
    # rows for specials and a sharper head make visible text likely (still random).
    with torch.no_grad():
        head = model.get_output_embeddings().weight
        head.mul_(8.0)
        for tid in (fast.eos_token_id, fast.pad_token_id, fast.bos_token_id):
            head[tid].zero_()
    model.save_pretrained(dest)
    (dest / "jupyter_assist_tiny.json").write_text(json.dumps({"seed": seed}))
    return dest


if __name__ == "__main__":  # python -m jupyter_assist.testing.tiny_model DEST
    import sys

    print(build_tiny_model(Path(sys.argv[1])))
