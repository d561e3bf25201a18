"""Masked-line completion cases drawn from real notebooks (pure: no model, no timing).

A case is a cursor in a code cell and the code the author wrote from there to the end of
the line (the target). Cells count only if Python's tokenizer accepts them once magic and
shell lines (`%...`, `!...`) are blanked; `%%` cell magics are skipped. Targets are real
code: never on a line with a comment, never touching a string (or other token) that spans
lines, at most 80 characters, with at least one letter or digit. Half the cases put the
cursor at the start of a line (after its indentation, `line_start`), half at the start of
a later token on it (`mid_line`); notebooks take turns (round-robin) and each one's
candidates are shuffled with a seed of its own, so the first N cases of a draw are the
same whatever N is.
"""

from __future__ import annotations

import functools
import io
import json
import random
import re
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["line_start", "mid_line"]
KINDS: tuple[Kind, Kind] = ("line_start", "mid_line")
MAX_TARGET = 80
EVAL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "handson-ml3"
MAGIC = re.compile(r"^\s*[%!]")
_SKIP = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


@dataclass(frozen=True)
class Candidate:
    cell: int  # index in the notebook
    line: int  # 0-based line in the cell
    col: int
    kind: Kind
    target: str


@dataclass(frozen=True)
class Case:
    notebook: str
    cell: int
    line: int
    col: int
    kind: Kind
    prefix: str  # the cell before the cursor
    target: str  # what the author wrote from the cursor to the end of the line
    suffix: str  # the cell after the target's line (its trailing spaces dropped)

    @property
    def id(self) -> str:
        return f"{self.notebook}:{self.cell}:{self.line}:{self.col}"


def source_text(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def blank_magics(source: str) -> str | None:
    """`source` with magic and shell lines emptied (same line numbers); None for a `%%`
    cell magic, whose body need not be Python."""
    lines = source.split("\n")
    first = next((ln for ln in lines if ln.strip()), "")
    if first.lstrip().startswith("%%"):
        return None
    return "\n".join("" if MAGIC.match(ln) else ln for ln in lines)


@functools.cache  # each draw visits every cell again
def candidates(source: str) -> tuple[tuple[int, int, Kind, str], ...]:
    """Every (line, col, kind, target) of one code cell's source that the rules allow."""
    blanked = blank_magics(source)
    if blanked is None:
        return ()
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(blanked).readline))
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return ()
    if any(t.type == tokenize.ERRORTOKEN for t in toks):
        return ()
    lines = source.split("\n")
    spanned: set[int] = set()  # rows a multi-line token (a docstring...) touches
    commented: set[int] = set()
    by_row: dict[int, list[tokenize.TokenInfo]] = {}
    for t in toks:
        if t.type in _SKIP:
            continue
        if t.start[0] != t.end[0]:
            spanned.update(range(t.start[0], t.end[0] + 1))
        if t.type == tokenize.COMMENT:
            commented.add(t.start[0])
            continue
        by_row.setdefault(t.start[0], []).append(t)
    out: list[tuple[int, int, Kind, str]] = []
    for row, row_toks in sorted(by_row.items()):
        line = lines[row - 1]
        end = len(line.rstrip())
        if row in spanned or row in commented or MAGIC.match(line) or line[:end].endswith("\\"):
            continue
        for i, t in enumerate(row_toks):
            col = t.start[1]
            target = line[col:end]
            if len(target) <= MAX_TARGET and any(ch.isalnum() for ch in target):
                out.append((row - 1, col, KINDS[0] if i == 0 else KINDS[1], target))
    return tuple(out)


def case_at(notebook: str, cells: Sequence[dict[str, Any]], c: Candidate) -> Case:
    source = source_text(cells[c.cell])
    lines = source.split("\n")
    start = sum(len(ln) + 1 for ln in lines[: c.line])
    offset = start + c.col
    target_end = start + len(lines[c.line].rstrip())
    line_end = start + len(lines[c.line])
    return Case(notebook, c.cell, c.line, c.col, c.kind, source[:offset], source[offset:target_end], source[line_end:])


def _pools(cells: Sequence[dict[str, Any]], rng: random.Random) -> dict[Kind, list[Candidate]]:
    pools: dict[Kind, list[Candidate]] = {k: [] for k in KINDS}
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "code":
            for line, col, kind, target in candidates(source_text(cell)):
                pools[kind].append(Candidate(i, line, col, kind, target))
    for pool in pools.values():
        rng.shuffle(pool)
    return pools


def draw(notebooks: Sequence[tuple[str, Sequence[dict[str, Any]]]], n: int, seed: int) -> list[Case]:
    """`n` cases: notebooks in turn (those with candidates of both kinds), the kind
    alternating along each round and from one round to the next, so kinds stay balanced."""
    pools = [(name, cells, _pools(cells, random.Random(f"{seed}:{name}"))) for name, cells in notebooks]
    pools = [p for p in pools if all(p[2].values())]
    cases: list[Case] = []
    rnd = 0
    while len(cases) < n and any(any(p.values()) for _, _, p in pools):
        for j, (name, cells, pool) in enumerate(pools):
            kind = KINDS[(j + rnd) % 2]
            if pool[kind] and len(cases) < n:
                cases.append(case_at(name, cells, pool[kind].pop()))
        rnd += 1
    return cases


def load_notebooks(folder: Path = EVAL_DIR) -> list[tuple[str, list[dict[str, Any]]]]:
    """(file name, cells) of each notebook in `folder`, by name."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no evaluation notebooks at {folder} (expected ../shared/eval/handson-ml3 beside the repository)")
    return [(p.name, json.loads(p.read_text(encoding="utf-8")).get("cells", [])) for p in sorted(folder.glob("*.ipynb"))]


def as_typed(cells: Sequence[dict[str, Any]], case: Case) -> list[dict[str, Any]]:
    """The notebook as the user sees it while typing: the current cell holds prefix +
    suffix and no outputs; the other cells keep their saved outputs."""
    out = []
    for i, cell in enumerate(cells):
        kind = cell.get("cell_type", "code")
        if i == case.cell:
            out.append({"cell_type": "code", "source": case.prefix + case.suffix, "outputs": [], "execution_count": None})
        else:
            out.append(
                {
                    "cell_type": kind,
                    "source": source_text(cell),
                    "outputs": list(cell.get("outputs", [])) if kind == "code" else [],
                    "execution_count": cell.get("execution_count"),
                }
            )
    return out


def iter_with_cells(notebooks: Sequence[tuple[str, Sequence[dict[str, Any]]]], cases: Sequence[Case]) -> Iterator[tuple[Case, list[dict[str, Any]]]]:
    by_name = dict(notebooks)
    for case in cases:
        yield case, as_typed(by_name[case.notebook], case)
