"""Kernel variable summaries (name, type, summary such as shape or DataFrame dtypes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .outputs import clean

MAX_SUMMARY = 300  # characters per variable: a wide DataFrame's dtypes can run long


def variable_line(var: Any) -> str:
    """`name: type, summary` for a wire Variable or a plain mapping ('' if unusable)."""
    get = var.get if isinstance(var, Mapping) else (lambda k, d=None: getattr(var, k, d))
    name = clean(str(get("name", "") or "")).strip()
    if not name:
        return ""
    kind = clean(str(get("type", "") or "")).strip()
    summary = clean(str(get("summary", "") or "")).strip().replace("\n", " ")
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 3] + "..."
    return name + (f": {kind}" if kind else "") + (f", {summary}" if summary else "")


def variable_lines(variables: Iterable[Any] | None) -> list[str]:
    return [line for line in (variable_line(v) for v in variables or ()) if line]
