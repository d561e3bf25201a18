"""Fill-in-the-middle formats per model family, detected from the tokenizer's vocabulary.

Models without FIM sentinels (the embedded SmolLM2) get a plain continuation prompt for
completion and their chat template for everything else (notebook/instruct.py).

Context files before the file being completed follow each family's repository format
(Qwen2.5-Coder: `<|repo_name|>name\n<|file_sep|>path\ncode...<|file_sep|>path\n<|fim_prefix|>`;
StarCoder2: `<repo_name>name<file_sep>path\ncode...<file_sep><fim_prefix>path\n`); families
without file separators get a `# path` comment line per file.
"""

from __future__ import annotations

import weakref
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FimFormat:
    family: str
    prefix: str
    suffix: str
    middle: str
    stops: tuple[str, ...] = ()
    repo: str = ""  # repository header sentinel, if the family has one
    file_sep: str = ""  # starts each file of a repository prompt
    path_in_prefix: bool = False  # StarCoder2: `<file_sep><fim_prefix>path\n...`

    def render(self, before: str, after: str) -> str:
        return f"{self.prefix}{before}{self.suffix}{after}{self.middle}"

    def files(self, repo: str, context: Sequence[tuple[str, str]], path: str) -> tuple[str, str]:
        """(text before the prefix sentinel, text right after it): the `context` files
        (path, content) ahead of the file `path` that holds the cursor."""
        body = lambda c: c if c.endswith("\n") else c + "\n"  # noqa: E731
        if not self.file_sep:
            return "".join(f"# {p}\n{body(c)}" for p, c in context), f"# {path}\n"
        head = f"{self.repo}{repo}" + ("\n" if not self.path_in_prefix else "") if self.repo else ""
        lead = head + "".join(f"{self.file_sep}{p}\n{body(c)}" for p, c in context)
        if self.path_in_prefix:
            return lead + self.file_sep, f"{path}\n"
        return lead + f"{self.file_sep}{path}\n", ""


FORMATS = (
    FimFormat(
        "qwen2.5-coder",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>"),
        "<|repo_name|>",
        "<|file_sep|>",
    ),
    FimFormat(
        "starcoder2",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        ("<|endoftext|>", "<file_sep>"),
        "<repo_name>",
        "<file_sep>",
        path_in_prefix=True,
    ),
    FimFormat("deepseek-coder", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", ("<｜end▁of▁sentence｜>",)),
    FimFormat("codellama", "<PRE> ", " <SUF>", " <MID>", ("<EOT>",)),
)


def detect(vocab: Container[str]) -> FimFormat | None:
    """The FIM format whose sentinels are all single tokens of this vocabulary, if any."""
    for fmt in FORMATS:
        if all(tok.strip() in vocab for tok in (fmt.prefix, fmt.suffix, fmt.middle)):
            return fmt
    return None


_BY_TOKENIZER: weakref.WeakKeyDictionary[Any, FimFormat | None] = weakref.WeakKeyDictionary()


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
