"""What a feature gives the server (`Task`) and what the server gives features (`TaskSettings`).

Each task module exposes its `TASK`; the server looks tasks up by name (`tasks.TASKS`),
builds the engine request from the body and the served model's text view, and finishes
the `done` event with the task's own post-processing. Tasks never see the ExtensionApp:
only these settings, made once from its traitlets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..engine.types import Event, Request
from ..prompt.model import ModelText

if TYPE_CHECKING:
    from .complete import CompletionSettings


def _completion_defaults() -> CompletionSettings:
    from .complete import CompletionSettings  # at call time: complete.py imports Task from here

    return CompletionSettings()


@dataclass(frozen=True)
class TaskSettings:
    """The server's configuration as tasks read it (AssistExtension's traitlets)."""

    completion: CompletionSettings = field(default_factory=_completion_defaults)
    chat_max_tokens: int = 512
    generate_max_tokens: int = 512
    next_edit_max_tokens: int = 256
    next_edit_min_logprob: float = -0.3


def text_only(body: Any, done: Event, settings: TaskSettings) -> dict[str, Any]:
    """The `done` payload of a task whose answer is its text as generated."""
    return {"text": done.text}


@dataclass(frozen=True)
class Task:
    """One feature as the server serves it at POST /jupyter-assist/<name>."""

    name: str
    wire: type[BaseModel]  # the request body
    build: Callable[[Any, ModelText, TaskSettings], Request]  # (body, model, settings) -> engine request
    # (body, the engine's done event, settings) -> the fields of the `done` event sent
    finish: Callable[[Any, Event, TaskSettings], dict[str, Any]] = text_only
    # An event sent before the model's first one (what the task knows without the model).
    head: Callable[[Any], dict[str, Any]] | None = None
