"""What prompts need from the served model, as one typed object each backend builds at load.

Tasks build prompts from this, never from a backend: how the model tokenizes (exact ids and
cheap counts), its chat template, its fill-in-the-middle format, its context window, and
whether (with which token index) the backend can heal the cursor's last token. Pure (no
torch): the tokenizer is only called through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .fim import FimFormat
from .fim import for_tokenizer as fim_for_tokenizer
from .tokens import Tokens, from_hf

# A model that does not say how long its context is is taken to hold this many tokens.
DEFAULT_WINDOW = 8192

Messages = list[dict[str, str]]


def plain_chat(messages: Messages, generation_prompt: bool = True) -> str:
    """The chat fallback of a tokenizer without a template: `role: content` lines, then
    the assistant's turn opened (`generation_prompt`)."""
    text = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
    return text + "assistant: " if generation_prompt else text


def chat_template(tokenizer: Any) -> Callable[[Messages], str]:
    """The tokenizer's chat template with the assistant's turn opened, else `plain_chat`."""
    if getattr(tokenizer, "chat_template", None):

        def apply(messages: Messages) -> str:
            return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

        return apply
    return plain_chat


class TokenIndex(Protocol):
    """Each token's text (the engine's `TokenTexts`, built once per tokenizer)."""

    def text(self, token: int) -> str: ...


def no_healing() -> TokenIndex | None:
    """The healing index of a backend that cannot constrain an answer's start."""
    return None


def config_window(config: Any) -> int:
    """A transformers config's context length (`max_position_embeddings`), else DEFAULT_WINDOW."""
    n = getattr(config, "max_position_embeddings", None)
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else DEFAULT_WINDOW


@dataclass(frozen=True)
class ModelText:
    """The served model's text side. `window_of` is called at each read: a remote server
    says its window only once it answers, which may be after load."""

    tokens: Tokens  # counts as the model tokenizes (tiktoken-fast where the tokenizer allows)
    encode: Callable[[str], list[int]]  # the exact ids the backend will feed
    chat_prompt: Callable[[Messages], str]  # messages -> the prompt text, assistant turn open
    fim: FimFormat | None  # fill-in-the-middle tokens, when the vocabulary has them
    window_of: Callable[[], int]  # prompt + answer tokens the model takes
    # Token healing (completion): each token's text, for a backend that honours
    # GenerationParams.prefix; None where it cannot, or where the tokens' texts do not spell
    # what they encode. Called per request: the index is built on first use (seconds for
    # some vocabularies), not at load.
    heal_index: Callable[[], TokenIndex | None] = no_healing

    @property
    def window(self) -> int:
        return self.window_of()

    def budget(self, context_tokens: int, answer: int) -> int:
        """Prompt plus answer tokens a task asks for, within the model's window."""
        return min(self.window, context_tokens + answer)

    @classmethod
    def of_tokenizer(cls, tokenizer: Any, window_of: Callable[[], int], heal_index: Callable[[], TokenIndex | None] = no_healing) -> ModelText:
        """The view of a model served with an HF tokenizer (every backend has one)."""

        def encode(text: str) -> list[int]:
            return list(tokenizer.encode(text, add_special_tokens=False))

        return cls(from_hf(tokenizer), encode, chat_template(tokenizer), fim_for_tokenizer(tokenizer), window_of, heal_index)
