"""Prompt building: priority trees rendered against a token budget (priompt semantics),
exact token counting, and model-family prompt formats. Pure: no I/O, no model."""

from .nodes import BASE, Empty, First, Isolate, Message, Node, Scope, Text, assistant, empty, first, isolate, message, scope, system, text, user
from .renderer import DEFAULT_CACHE, NodeReport, PromptTooLarge, RenderCache, Rendered, render
from .tokens import Counter, Tokens, cl100k, from_hf, from_tokenizer_json

__all__ = [
    "BASE",
    "DEFAULT_CACHE",
    "Counter",
    "Empty",
    "First",
    "Isolate",
    "Message",
    "Node",
    "NodeReport",
    "PromptTooLarge",
    "RenderCache",
    "Rendered",
    "Scope",
    "Text",
    "Tokens",
    "assistant",
    "cl100k",
    "empty",
    "first",
    "from_hf",
    "from_tokenizer_json",
    "isolate",
    "message",
    "render",
    "scope",
    "system",
    "text",
    "user",
]
