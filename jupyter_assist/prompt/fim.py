"""Fill-in-the-middle formats per model family, detected from the tokenizer's vocabulary.

Models without FIM sentinels (the embedded SmolLM2) get a plain continuation prompt for
completion and their chat template for everything else (notebook/instruct.py).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Container


@dataclass(frozen=True)
class FimFormat:
    family: str
    prefix: str
    suffix: str
    middle: str
    stops: tuple[str, ...] = ()

    def render(self, before: str, after: str) -> str:
        return f"{self.prefix}{before}{self.suffix}{after}{self.middle}"


FORMATS = (
    FimFormat("qwen2.5-coder", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>")),
    FimFormat("starcoder2", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", ("<|endoftext|>", "<file_sep>")),
    FimFormat("deepseek-coder", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", ("<｜end▁of▁sentence｜>",)),
    FimFormat("codellama", "<PRE> ", " <SUF>", " <MID>", ("<EOT>",)),
)


def detect(vocab: Container[str]) -> FimFormat | None:
    """The FIM format whose sentinels are all single tokens of this vocabulary, if any."""
    for fmt in FORMATS:
        if all(tok.strip() in vocab for tok in (fmt.prefix, fmt.suffix, fmt.middle)):
            return fmt
    return None


_BY_TOKENIZER: "weakref.WeakKeyDictionary[Any, FimFormat | None]" = weakref.WeakKeyDictionary()


def for_tokenizer(tokenizer: Any) -> FimFormat | None:
    """`detect` on a loaded HF tokenizer, cached: building its vocab dict costs milliseconds."""
    try:
        return _BY_TOKENIZER[tokenizer]
    except (KeyError, TypeError):
        pass
    try:
        fmt = detect(tokenizer.get_vocab())
    except AttributeError:
        fmt = None
    try:
        _BY_TOKENIZER[tokenizer] = fmt
    except TypeError:
        pass
    return fmt
