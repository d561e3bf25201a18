"""Wire types of the HTTP API, defined once here (mirrored in labextension/src/types.ts).

See docs/api.md for the routes. Validation errors become 400 responses.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXT = 1_000_000  # characters; the server also caps the whole body in bytes


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NotebookCell(_Model):
    cell_type: Literal["code", "markdown", "raw"] = "code"
    source: str = Field("", max_length=MAX_TEXT)
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    execution_count: int | None = None


class _WithContext(_Model):
    request_id: str = Field(min_length=1, max_length=200)
    cells: list[NotebookCell] = Field(default_factory=list, max_length=10_000)
    cell_index: int | None = Field(None, ge=0)


class CompleteRequest(_WithContext):
    prefix: str = Field(max_length=MAX_TEXT)
    suffix: str = Field("", max_length=MAX_TEXT)
    language: str = "python"
    max_tokens: int | None = Field(None, ge=1, le=512)


class ChatMessage(_Model):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TEXT)


class ChatRequest(_WithContext):
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)


class GenerateRequest(_WithContext):
    instruction: str = Field(min_length=1, max_length=MAX_TEXT)
    code: str = Field("", max_length=MAX_TEXT)
    max_tokens: int | None = Field(None, ge=1, le=4096)


class CancelRequest(_Model):
    request_id: str = Field(min_length=1, max_length=200)
