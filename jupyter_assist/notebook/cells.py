"""Notebooks from any source as one list of `Cell`s.

Sources: an .ipynb's bytes/str/dict (nbformat reads and upgrades v3 and older to v4) or
the cells the frontend sends. Odd notebooks never raise: what cannot be read becomes a
note, and the rest is used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .outputs import as_text

KINDS = ("code", "markdown", "raw")


@dataclass(frozen=True)
class Cell:
    index: int
    kind: str  # code | markdown | raw
    source: str
    outputs: tuple[Mapping[str, Any], ...] = ()
    execution_count: int | None = None


@dataclass
class Notebook:
    cells: list[Cell]
    notes: list[str] = field(default_factory=list)  # what was skipped or repaired, for the map


def _cell(index: int, raw: Any, notes: list[str]) -> Cell:
    if not isinstance(raw, dict):
        notes.append(f"cell {index}: not an object, read as empty")
        return Cell(index, "raw", "")
    kind = raw.get("cell_type", "code")
    source = as_text(raw.get("source", raw.get("input")))  # v3 code cells say "input"
    if kind == "heading":  # v3 headings (nbformat's upgrade makes them markdown too)
        level = raw.get("level")
        kind, source = "markdown", "#" * (level if isinstance(level, int) and 1 <= level <= 6 else 1) + " " + source
    elif kind not in KINDS:
        notes.append(f"cell {index}: unknown type {str(kind)[:20]!r}, read as raw")
        kind = "raw"
    outputs = raw.get("outputs") or ()
    if not isinstance(outputs, (list, tuple)):
        notes.append(f"cell {index}: outputs are not a list, dropped")
        outputs = ()
    count = raw.get("execution_count")
    return Cell(
        index,
        kind,
        source,
        tuple(o for o in outputs if isinstance(o, dict)),
        count if isinstance(count, int) and not isinstance(count, bool) else None,
    )


def from_cells(cells: Iterable[Any]) -> Notebook:
    """Cells as the frontend sends them (wire `NotebookCell`s or plain dicts)."""
    notes: list[str] = []
    out = []
    for i, c in enumerate(cells):
        raw = c.model_dump() if hasattr(c, "model_dump") else c
        out.append(_cell(i, raw, notes))
    return Notebook(out, notes)


def _decode(data: bytes, notes: list[str]) -> str:
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        notes.append(f"file is not valid {'UTF-16' if encoding == 'utf-16' else 'UTF-8'}: undecodable bytes replaced")
        return data.decode(encoding, "replace")


def from_ipynb(data: bytes | str | Mapping[str, Any]) -> Notebook:
    """An .ipynb's content, any nbformat version nbformat can read, upgraded to v4."""
    import nbformat  # lazy: only the CLI and tests read files; the server gets wire cells

    notes: list[str] = []
    try:
        if isinstance(data, bytes):
            data = _decode(data, notes)
        parsed = json.loads(data) if isinstance(data, str) else dict(data)
    except (ValueError, TypeError) as e:
        return Notebook([], [*notes, f"not a notebook: {e}"])
    if not isinstance(parsed, dict):
        return Notebook([], [*notes, "not a notebook: top level is not an object"])
    try:
        nb = nbformat.reader.reads(json.dumps(parsed))
        nb = nbformat.convert(nb, 4)
        raw_cells = nb.get("cells") or []
    except Exception as e:  # nbformat raises several types on malformed input
        notes.append(f"nbformat could not read it ({type(e).__name__}: {e}); cells read as found")
        raw_cells = parsed.get("cells")
        if raw_cells is None:  # v3 and older keep cells in worksheets
            sheets = parsed.get("worksheets") or [{}]
            raw_cells = sheets[0].get("cells", []) if isinstance(sheets[0], dict) else []
        if not isinstance(raw_cells, list):
            raw_cells = []
    book = from_cells(raw_cells)
    book.notes[:0] = notes
    return book
