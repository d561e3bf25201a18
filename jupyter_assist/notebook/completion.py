"""The inline-completion prompt: notebook context + the current cell split at the cursor.

Layout, what changes while typing last (layout "repo", the default):
[cells below the current one, as a context file in the model's repository format]
[FIM prefix sentinel] cells above (own budget, isolated and cached) -> current cell's lines
above the cursor line -> the cursor line up to the cursor -> [FIM suffix sentinel, the rest
of the current cell only, FIM middle sentinel]. So typing re-prefills the cursor line and
the rest of the cell, never the cells below. Layout "suffix" (an ablation) puts the cells
below after the rest of the cell instead, as plain FIM prompts do.
Each segment is budgeted on its own before the template is applied, so sentinels are never
cut, and budget left over flows only to later segments before the cursor: typing on or
after the cursor's line leaves everything before that line byte-identical, so the engine's
KV prefix cache keeps hitting. Models without FIM sentinels get the same text up to the
cursor, without the sentinels, the cells below or the suffix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..prompt.fim import FimFormat
from ..prompt.nodes import Node, isolate, scope, text
from ..prompt.renderer import DEFAULT_CACHE, RenderCache, Rendered, render
from ..prompt.tokens import Tokens
from .cells import Cell
from .context import CELL_MARK, OUT_MARK, Options, context_nodes

LINE = 1000.0  # the cursor line's neighbours; each line further away is worth one less
Layout = Literal["repo", "suffix"]
REPO = "notebook"  # names in the repository format: the notebook as files
CURRENT_FILE = "notebook.py"
BELOW_FILE = "next_cells.py"


@dataclass(frozen=True)
class Budgets:
    """Token budgets per segment (the answer is budgeted by the caller)."""

    context: int = 1536  # other cells
    prefix: int = 1024  # current cell up to the cursor
    suffix: int = 256  # current cell after the cursor (FIM only)
    line: int = 128  # part of `prefix` held for the cursor line, which changes per keystroke
    below: int = 256  # cells after the current one (FIM only)

    @classmethod
    def split(cls, total: int) -> Budgets:
        """Shares of one total budget (the CLI's --budget)."""
        context, prefix, suffix = int(total * 0.5), int(total * 0.3), int(total * 0.1)
        return cls(context, prefix, suffix, min(128, prefix // 4), total - context - prefix - suffix)


@dataclass
class CompletionPrompt:
    text: str
    stable: str  # text before the cursor line: unchanged by typing on or after it
    cursor: int  # where the cursor is in `text` (the end of the text before it)
    stops: tuple[str, ...]
    tokens: int  # sum of the segments' exact counts plus sentinels
    fim: FimFormat | None
    segments: dict[str, Rendered] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def report(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for seg, r in self.segments.items():
            rows.append({"name": f"[{seg}]", "kept": True, "tokens": r.tokens, "priority": f"budget {r.budget}"})
            rows.extend(n.as_dict() for n in r.nodes)
        rows.extend({"name": "note", "kept": False, "tokens": 0, "priority": "", "note": n} for n in self.notes)
        return rows


def split_cursor(source: str, line: int, col: int) -> tuple[str, str]:
    """A cell's text split at a 0-based (line, column), both clamped into range."""
    lines = source.split("\n")
    line = min(max(line, 0), len(lines) - 1)
    col = min(max(col, 0), len(lines[line]))
    before = "\n".join(lines[:line] + [lines[line][:col]])
    return before, source[len(before) :]


def _lines_node(lines: list[str], near_end: bool, name: str, budget: int) -> Node:
    """Lines whose priority falls by one per line of distance from the cursor. Each line is
    a non-empty string (at least one token), so no more than `budget` of them can be kept:
    only the nearest are made nodes (a 150,000-line cell built a node per line, and the
    collector's walks over them stalled the server for ~1 s)."""
    lines = lines[-(budget + 1) :] if near_end else lines[: budget + 1]
    n = len(lines)
    return scope(*(text(line, p=LINE - ((n - i) if near_end else i + 1)) for i, line in enumerate(lines)), name=name)


def _tail_within(s: str, budget: int, tokens: Tokens) -> str:
    """Longest suffix of `s` within `budget` tokens (a monster line is cut on its left)."""
    if tokens.count(s) <= budget:
        return s
    lo, hi = 0, len(s)  # s[hi:] fits, s[lo:] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tokens.count(s[mid:]) <= budget:
            hi = mid
        else:
            lo = mid
    return s[hi:]


def _head_within(s: str, budget: int, tokens: Tokens) -> str:
    if tokens.count(s) <= budget:
        return s
    lo, hi = 0, len(s)  # s[:lo] fits, s[:hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tokens.count(s[:mid]) <= budget:
            lo = mid
        else:
            hi = mid
    return s[:lo]


def completion_prompt(
    cells: Sequence[Cell],
    index: int | None,
    prefix: str,
    suffix: str,
    tokens: Tokens,
    fim: FimFormat | None,
    budgets: Budgets = Budgets(),
    *,
    variables: Sequence[Any] = (),
    outputs: bool = True,
    cache: RenderCache | None = DEFAULT_CACHE,
    notes: Sequence[str] = (),
    layout: Layout = "repo",
    next_mark: bool = False,
    marks: bool = True,
    after: int = 0,
) -> CompletionPrompt:
    """The prompt for a cursor between `prefix` and `suffix` in cell `index`. `next_mark`
    (repo layout, an ablation): end the suffix with the next cell's `# %%`, so the model
    sees where the current cell ends."""
    segs: dict[str, Rendered] = {}
    lead = inner = ""  # before / right after the FIM prefix sentinel (repository format)
    if fim is not None and layout == "repo":
        below = _below(cells, index, budgets.below, tokens, segs, cache, marks)
        if below:
            lead, inner = fim.files(REPO, [(BELOW_FILE, below)], CURRENT_FILE)
    ctx_nodes = context_nodes(cells, index, "code", Options(outputs=outputs, variables=variables, marks=marks), below=False)
    if ctx_nodes:
        segs["context"] = render(isolate(budgets.context, *ctx_nodes, name="context"), budgets.context, tokens, cache=cache)
    head = segs["context"].text + (CELL_MARK if marks else "") + "\n" if ctx_nodes and segs["context"].text else ""

    above_text, _, line_text = prefix.rpartition("\n")
    above_budget = max(0, budgets.prefix - budgets.line + budgets.context - tokens.count(head))
    # Only the lines the budget can hold are split off (see _lines_node).
    above_lines = [line + "\n" for line in above_text.rsplit("\n", above_budget + 1)] if "\n" in prefix else []
    segs["above"] = render(_lines_node(above_lines, True, "above cursor", above_budget), above_budget, tokens, cache=None)
    stable = lead + (fim.prefix if fim else "") + inner + head + segs["above"].text

    line_budget = budgets.line + above_budget - segs["above"].tokens
    line = _tail_within(line_text, line_budget, tokens)
    body = stable + line
    if fim is None:
        return CompletionPrompt(body, stable, len(body), _stops(prefix, suffix, None), tokens.count(body), None, segs, list(notes))

    # Budget left over before the cursor does not flow past it: what follows the cursor is
    # re-fed at every keystroke.
    after_text = _suffix(cells if layout == "suffix" else (), index, suffix, budgets.suffix, budgets.below, tokens, segs, marks)
    if after and layout == "repo" and "below" in segs:  # the next cells' first lines, after the cell's rest
        after_text += ("" if after_text.endswith("\n") else "\n") + _lines_within(segs["below"].text, after, tokens)
    if next_mark and marks and layout == "repo" and "below" in segs:
        after_text += ("" if after_text.endswith("\n") else "\n") + f"{CELL_MARK}\n"  # on a line of its own
    prompt = body + fim.suffix + after_text + fim.middle
    return CompletionPrompt(prompt, stable, len(body), _stops(prefix, suffix, fim), tokens.count(prompt), fim, segs, list(notes))


def _below(
    cells: Sequence[Cell], index: int | None, budget: int, tokens: Tokens, segs: dict[str, Rendered], cache: RenderCache | None, marks: bool = True
) -> str:
    """The cells after the current one, nearest first within `budget` (code form, no outputs)."""
    below = [c for c in cells if index is not None and c.index > index]
    nodes = context_nodes(below, index, "code", Options(outputs=False, marks=marks)) if below else []
    if not nodes:
        return ""
    segs["below"] = render(isolate(budget, *nodes, name="below"), budget, tokens, cache=cache)
    return segs["below"].text


def _lines_within(s: str, budget: int, tokens: Tokens) -> str:
    """The first whole lines of `s` within `budget` tokens, on a line of their own."""
    out = ""
    for line in s.splitlines(keepends=True):
        if tokens.count(out + line) > budget:
            break
        out += line
    return out


def _suffix(
    cells: Sequence[Cell],
    index: int | None,
    suffix: str,
    budget: int,
    below_budget: int,
    tokens: Tokens,
    segs: dict[str, Rendered],
    marks: bool = True,
) -> str:
    """The FIM suffix: the rest of the cursor's line (kept first), the cell's next lines by
    distance, then (given `cells`) the cells below."""
    first_line, nl, rest = suffix.partition("\n")
    first_line = _head_within(first_line, budget, tokens)
    below = [c for c in cells if index is not None and c.index > index]
    below_nodes = context_nodes(below, index, "code", Options(outputs=False, marks=marks)) if below else []
    rest_lines = rest.splitlines(keepends=True)
    if below_nodes and not (first_line + nl + rest).endswith("\n"):  # the next cell starts on a line of its own
        if rest_lines:
            rest_lines[-1] += "\n"
        else:
            nl = "\n"
    rest_budget = max(0, budget - tokens.count(first_line + nl))
    segs["suffix"] = render(_lines_node(rest_lines, False, "below cursor", rest_budget), rest_budget, tokens, cache=None)
    after = first_line + nl + segs["suffix"].text
    if below_nodes:
        segs["below"] = render(scope(*below_nodes, name="below"), below_budget, tokens, cache=None)
        after += segs["below"].text
    return after


def _stops(prefix: str, suffix: str, fim: FimFormat | None) -> tuple[str, ...]:
    # A block (up to a blank line) only on an empty line after a block opener, as in
    # `def mean(xs):` Enter; anywhere else the line: decoding past it costs time and the
    # user takes one line at a time.
    stops: tuple[str, ...] = (("\n\n", f"\n{CELL_MARK}", "\n```") if block_start(prefix, suffix) else ("\n",)) + (OUT_MARK,)
    return stops + (fim.stops if fim else ())


def block_start(prefix: str, suffix: str) -> bool:
    """The cursor is on an otherwise empty line under a line that opens a block (`...:`)."""
    above, _, line = prefix.rpartition("\n")
    if line.strip() or suffix.split("\n", 1)[0].strip():
        return False
    last = next((x for x in _lines_upward(above) if x.strip()), "")
    return last.split("#", 1)[0].rstrip().endswith(":")


def _lines_upward(text_: str) -> Iterator[str]:
    """The lines of `text_`, last first, without splitting all of it (prefixes can be huge)."""
    end = len(text_)
    while end >= 0:
        start = text_.rfind("\n", 0, end) + 1
        yield text_[start:end]
        end = start - 1
