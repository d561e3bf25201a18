"""Wire types of the HTTP API, defined once here (mirrored in labextension/src/shared/types.ts).

See docs/api.md for the routes. Validation errors become 400 responses.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_TEXT = 1_000_000  # characters; the server also caps the whole body in bytes


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NotebookCell(_Model):
    cell_type: Literal["code", "markdown", "raw"] = "code"
    source: str = Field("", max_length=MAX_TEXT)
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    execution_count: int | None = None


class Variable(_Model):
    """A kernel variable as the kernel summarises it (shape, DataFrame columns and dtypes...)."""

    name: str = Field(max_length=200)
    type: str = Field("", max_length=200)
    summary: str = Field("", max_length=4000)


class _WithContext(_Model):
    request_id: str = Field(min_length=1, max_length=200)
    cells: list[NotebookCell] = Field(default_factory=list, max_length=10_000)
    cell_index: int | None = Field(None, ge=0)
    variables: list[Variable] = Field(default_factory=list, max_length=500)
    temperature: float | None = Field(None, ge=0, le=2)  # None: the task's default (greedy)
    # Sampling seed (with temperature > 0): the same seed repeats an answer; None draws a
    # fresh one. Regenerate sends temperature > 0 and a new seed, so it gives another text.
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _cell_in_notebook(self) -> _WithContext:
        # An index past the cells would silently build a prompt around nothing.
        if self.cell_index is not None and self.cell_index >= len(self.cells):
            raise ValueError(f"cell_index {self.cell_index} is out of range: the notebook has {len(self.cells)} cells")
        return self


class CompleteRequest(_WithContext):
    prefix: str = Field(max_length=MAX_TEXT)
    suffix: str = Field("", max_length=MAX_TEXT)
    language: str = "python"
    max_tokens: int | None = Field(None, ge=1, le=512)
    # Start decoding this long after the request arrives: the client sends it before its
    # debounce ends, so the prompt is built and prefilled meanwhile. A request cancelled
    # (superseded) before then costs no decoding.
    delay_ms: int = Field(0, ge=0, le=2000)


class ChatMessage(_Model):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TEXT)


MAX_ATTACHMENT = 64_000  # characters; the lab caps attached files at 64 KB


class Attachment(_Model):
    """Context the user attached to a chat message (a chip): untrusted data, fenced in the prompt."""

    kind: Literal["cell", "selection", "error", "file", "variable"]
    label: str = Field(min_length=1, max_length=300)
    text: str = Field(max_length=MAX_ATTACHMENT)


class ChatRequest(_WithContext):
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    attachments: list[Attachment] = Field(default_factory=list, max_length=32)
    # False: the user removed the active cell's chip; the cell at `cell_index` is left out.
    include_active_cell: bool = True
    # The user's limit (the settings page); never above the server's chat_max_tokens.
    max_tokens: int | None = Field(None, ge=1, le=4096)


class GenerateRequest(_WithContext):
    instruction: str = Field(min_length=1, max_length=MAX_TEXT)
    code: str = Field("", max_length=MAX_TEXT)
    max_tokens: int | None = Field(None, ge=1, le=4096)


class CancelRequest(_Model):
    request_id: str = Field(min_length=1, max_length=200)


class EditRequest(_WithContext):
    """Rewrite one cell (`source`) following `instruction`."""

    instruction: str = Field(min_length=1, max_length=MAX_TEXT)
    source: str = Field(max_length=MAX_TEXT)
    # The user's limit (the settings page's edit.maxTokens); clipped to what the model's
    # context leaves next to the cell (tasks/edit.py rewrite_answer).
    max_tokens: int | None = Field(None, ge=1, le=8192)


class WarmRequest(_WithContext):
    """Prefill a prompt before the user finishes typing: a cell's completion context (cell
    focus), or the edit prompt of the cell at `cell_index` while its instruction is typed."""

    request_id: str = Field("warm", min_length=1, max_length=200)
    task: Literal["complete", "edit"] = "complete"
    prefix: str = Field("", max_length=MAX_TEXT)
    suffix: str = Field("", max_length=MAX_TEXT)


class FixRequest(_WithContext):
    """Fix the cell at `cell_index` (required) using its error output."""

    cell_index: int = Field(ge=0)
    # The user's limit (fix.maxTokens), clipped as an edit's.
    max_tokens: int | None = Field(None, ge=1, le=8192)


class TelemetryEvent(_Model):
    """A suggestion event reported by the frontend (local, opt-in telemetry; no code text)."""

    event: Literal["shown", "accepted", "rejected", "survived"]
    request_id: str = Field(min_length=1, max_length=200)
    task: Literal["complete", "edit", "chat", "fix", "generate", "next-edit", "agent"]
    latency_ms: float | None = Field(None, ge=0, le=3_600_000, allow_inf_nan=False)
    chars: int | None = Field(None, ge=0, le=MAX_TEXT)
    survived: bool | None = None
    similarity: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _survived_needs_outcome(self) -> TelemetryEvent:
        if self.event == "survived" and self.survived is None:
            raise ValueError("a 'survived' event needs \"survived\": true|false")
        return self


MAX_EDIT_TEXT = 100_000  # characters of one cell snapshot in a next-edit request


class CellEdit(_Model):
    """A cell's source before and after a burst of typing, as the frontend observed it."""

    cell_index: int = Field(ge=0)
    before: str = Field(max_length=MAX_EDIT_TEXT)
    after: str = Field(max_length=MAX_EDIT_TEXT)


class NextEditRequest(_WithContext):
    """Recent edits (oldest first) -> the follow-up edits they call for, in `cells`."""

    edits: list[CellEdit] = Field(min_length=1, max_length=8)
    max_tokens: int | None = Field(None, ge=1, le=2048)


AgentActionKind = Literal["code", "edit", "markdown", "ask", "done", "error"]


class AgentStep(_Model):
    """One step the agent took, with what became of it (the frontend owns the loop)."""

    kind: AgentActionKind
    # code / edit: the cell's source as it ran (the user's edits included); markdown: the note;
    # error: the model's answer that fit no action (shown back to it)
    source: str = Field("", max_length=MAX_TEXT)
    cell_index: int | None = Field(None, ge=0)  # the cell it wrote or edited, where it is now; None: deleted
    text: str = Field("", max_length=MAX_TEXT)  # the model's prose: its plan, question, summary or parse error
    ran: bool = False  # code / edit: the cell was run (else the user declined it)
    edited: bool = False  # the user changed the cell before running it
    outputs: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)  # nbformat outputs of the run
    variables: list[Variable] = Field(default_factory=list, max_length=200)  # variables the run changed
    reply: str = Field("", max_length=MAX_TEXT)  # the user's answer to `ask`, or why a cell did not run


class AgentRequest(_WithContext):
    """Goal + notebook + the steps so far (oldest first) -> the next action."""

    goal: str = Field(min_length=1, max_length=MAX_TEXT)
    steps: list[AgentStep] = Field(default_factory=list, max_length=100)
    max_steps: int = Field(10, ge=1, le=100)
    max_tokens: int | None = Field(None, ge=1, le=4096)

    @model_validator(mode="after")
    def _steps_in_notebook(self) -> AgentRequest:
        for i, s in enumerate(self.steps):
            if s.cell_index is not None and s.cell_index >= len(self.cells):
                raise ValueError(f"steps[{i}].cell_index {s.cell_index} is out of range: the notebook has {len(self.cells)} cells")
        return self


class SwitchModelRequest(_Model):
    """POST /jupyter-assist/models: serve `model` (a `name` from GET /jupyter-assist/models)."""

    model: str = Field(min_length=1, max_length=500)
