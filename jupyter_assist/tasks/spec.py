"""What a feature gives the server (`Task`) and what the server gives features (`TaskSettings`).

Each task module exposes its `TASK`; the server looks tasks up by name (`tasks.TASKS`) and
calls its `build` once per request, with the body, the served model's text view and these
settings. What that returns (`Built`) is the request's own object: the engine request, the
event sent before the model's first one, and how the engine's `done` becomes the `done`
event sent, with whatever the build computed (cells, renames, the rendered prompt) kept for
it, so nothing is worked out twice. Tasks never see the ExtensionApp: only these settings,
made once from its traitlets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from ..engine.types import Event, Request
from ..notebook.instruct import Fit
from ..prompt.model import ModelText

if TYPE_CHECKING:
    from .complete import CompletionSettings

P = TypeVar("P")


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
    # Prompt tokens of the chat-style tasks besides the answer; None: each task's own
    # (CONTEXT_TOKENS in its module). Set by the CLI's --budget, not by the server.
    context_tokens: int | None = None

    def context(self, default: int) -> int:
        return default if self.context_tokens is None else self.context_tokens


def text_only(done: Event) -> dict[str, Any]:
    """The `done` payload of a task whose answer is its text as generated."""
    return {"text": done.text}


@dataclass(frozen=True)
class Built(Generic[P]):
    """One request as its task built it, once per request."""

    request: Request  # what the engine runs
    prompt: P  # the rendered prompt (its map, token counts): the CLI inspector's and goldens' view
    # The engine's done event -> the fields of the `done` event sent (closing over what the
    # build computed).
    finish: Callable[[Event], dict[str, Any]] = text_only
    # An event sent before the model's first one (what the task knows without the model).
    head: dict[str, Any] | None = None


class Build(Protocol):
    """(body, model, settings, notes) -> the request's `Built`. `notes`: what reading the
    notebook outside the wire skipped or repaired (the CLI's .ipynb), shown in the map."""

    def __call__(self, body: Any, model: ModelText, settings: TaskSettings, notes: Sequence[str] = (), /) -> Built[Any]: ...


@dataclass(frozen=True)
class Task:
    """One feature as the server serves it at POST /jupyter-assist/<name>."""

    name: str
    wire: type[BaseModel]  # the request body
    build: Build


def fit(model: ModelText, context_tokens: int, answer: int, variables: Sequence[Any] = (), notes: Sequence[str] = ()) -> Fit:
    """A chat-style prompt's fit to the served model: `context_tokens` for the prompt and
    `answer` for the reply, within the model's window."""
    return Fit(model.tokens, model.chat_prompt, model.budget(context_tokens, answer), answer, variables, notes)
