"""Agent: goal + notebook + the steps so far -> the next action (one step of the loop).

Stateless: the frontend owns the notebook, the kernel and the loop (run on the user's
click, fix attempts, the step budget, Stop); each step is one request. The prompt ends with
the assistant's "ACTION:" so even a small model starts in the format; the answer stops at
a second header, so one request is one action. Priority between edits and chat
(PRIORITY_AGENT): a completion typed meanwhile still goes first. Cancel as every task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine.types import PRIORITY_AGENT, GenerationParams, Request
from ..notebook import InstructPrompt, from_cells
from ..notebook.agent_actions import HEADER, parse_action
from ..notebook.agent_prompt import agent_prompt
from ..prompt.model import ModelText
from ..wire import AgentRequest
from .edit import hunks
from .spec import Built, Task, TaskSettings, fit

MAX_TOKENS = 512  # one small cell or a short summary
CONTEXT_TOKENS = 4096  # prompt tokens: the notebook plus a few steps with their outputs
STOP = ("\nACTION:", "\nAction:")
# The prompt's end. With the space, Qwen2.5-Coder-0.5B goes on with " code" and the block;
# without it, it answered "ACTION: code" alone and stopped in most first steps.
PREFILL = HEADER + " "


def build(req: AgentRequest, model: ModelText, settings: TaskSettings, notes: Sequence[str] = ()) -> Built[InstructPrompt]:
    answer = req.max_tokens or MAX_TOKENS
    book = from_cells(req.cells)
    how = fit(model, settings.context(CONTEXT_TOKENS), answer, req.variables, [*notes, *book.notes])
    prompt = agent_prompt(book.cells, req.goal, req.steps, how, max_steps=req.max_steps)
    # A failed run is usually fixed by rewriting its cell: that cell is the speculative draft.
    last = req.steps[-1] if req.steps else None
    draft = last.source if last is not None and last.kind in ("code", "edit") and last.ran else None
    params = GenerationParams(max_tokens=answer, stop=STOP)
    request = Request(req.request_id, prompt.text + PREFILL, params, priority=PRIORITY_AGENT, draft=draft, inspect=prompt.report)
    return Built(request, prompt, lambda done: finish(req, done.text))


def answer_text(text: str) -> str:
    """The model's answer with the prompt's own header put back (once)."""
    return text if text.lstrip().lower().startswith("action") else PREFILL + text.lstrip(" \t")


def finish(req: AgentRequest, text: str) -> dict[str, Any]:
    """The `done` event's fields: the raw answer and the action read from it (an edit also
    carries its diff hunks against the cell as sent)."""
    action = parse_action(answer_text(text), len(req.cells)).as_dict()
    if action["kind"] == "edit":
        index = action["cell_index"]
        assert isinstance(index, int)  # parse_action checked it against the cells
        action["hunks"] = hunks(req.cells[index].source, str(action["source"]))
    return {"text": answer_text(text), "action": action}


TASK = Task("agent", AgentRequest, build)
