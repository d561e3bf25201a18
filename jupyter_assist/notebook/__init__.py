"""Notebook context for prompts: cells, outputs, errors and variables as prompt nodes, and
the prompts of each task built from them. Pure: no I/O, no model."""

from .cells import Cell, Notebook, from_cells, from_ipynb
from .completion import Budgets, CompletionPrompt, completion_prompt, split_cursor
from .instruct import Fit, InstructPrompt, chat_prompt, edit_prompt, fix_prompt, generate_prompt

__all__ = [
    "Budgets",
    "Cell",
    "CompletionPrompt",
    "Fit",
    "InstructPrompt",
    "Notebook",
    "chat_prompt",
    "completion_prompt",
    "edit_prompt",
    "fix_prompt",
    "from_cells",
    "from_ipynb",
    "generate_prompt",
    "split_cursor",
]
