"""Generate code for an instruction (`%%assist`): one Python block, extracted from the reply."""

from __future__ import annotations

import re
from typing import Any

from ..engine.types import PRIORITY_EDIT, GenerationParams, Request
from ..notebook import from_cells, generate_prompt
from ..prompt.tokens import for_backend
from ..wire import GenerateRequest
from .chat import prompt_budget

FENCE = re.compile(r"```[ \t]*(?:python|py|ipython)?[ \t]*\n(.*?)(?:```|\Z)", re.S)


def build(req: GenerateRequest, backend: Any, max_tokens: int, context_tokens: int = 2048) -> Request:
    answer = req.max_tokens or max_tokens
    prompt = generate_prompt(
        from_cells(req.cells).cells, req.instruction, req.code, for_backend(backend), backend.chat_prompt,
        prompt_budget(backend, context_tokens, answer), answer, variables=req.variables,
    )
    return Request(req.request_id, prompt.text, GenerationParams(max_tokens=answer), priority=PRIORITY_EDIT, inspect=prompt.report)


def extract_code(text: str) -> str:
    """The first fenced block's body, else the whole reply: the code to review."""
    m = FENCE.search(text)
    code = m.group(1) if m else text
    return code.strip("\n").rstrip() + ("\n" if code.strip() else "")
