"""Renames the user made, and where else the old name still stands. Pure: no model.

Identifiers come from Python's `tokenize`, so names inside strings, f-strings and comments
are never touched. Which occurrences follow a rename (decided here, documented in
docs/api.md):

- a plain name (`load` -> `read_text`) follows to plain-name occurrences in this cell and
  in other code cells. Attributes of other objects (`obj.load`) and keyword arguments
  (`f(load=1)`) are left alone: they live in another namespace.
- an attribute (`self.load` -> `self.read`) follows only where the same base name is in
  front of it (`self.load`).
- a function parameter renamed inside a `def (...)` signature follows only in its own cell
  (its body); call sites' keyword arguments are the user's call.

Code that does not tokenize to the end (the user is mid-typing: an open string, bad
dedent) is read up to the error: the tokens before it are exact, lines after it get no
proposal. Scopes are not analysed (a notebook is mostly one global namespace): every
proposal is shown to the user, who accepts or dismisses it.
"""

from __future__ import annotations

import functools
import io
import keyword
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .linediff import changed_blocks

# What a proposal looks like is in proposals.py; this module only finds the line edits.
Line = tuple[int, str, str]  # (0-based line, old line, new line)


@dataclass(frozen=True)
class Name:
    """One identifier token in a cell."""

    line: int  # 0-based
    col: int  # start column in that line (characters)
    text: str
    base: str | None  # the name before a `.` when this is an attribute, "" for `(...).x`
    keyword_arg: bool  # `f(text=...)` or a parameter's default in a signature
    parameter: bool  # inside the parentheses of a `def` signature


@dataclass(frozen=True)
class Rename:
    old: str
    new: str
    base: str | None  # attribute renames: the object's name
    cell: int | None  # parameter renames: the only cell they follow in


def _tokens(source: str) -> tuple[list[tokenize.TokenInfo], int | None]:
    """Tokens up to the first error, and the 0-based line of that error (None: none)."""
    out: list[tokenize.TokenInfo] = []
    try:
        # One by one, not list(): the tokens before an error are kept.
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            out.append(tok)  # noqa: PERF402
    except (tokenize.TokenError, IndentationError, SyntaxError) as e:
        lineno = getattr(e, "lineno", None) or (e.args[1][0] if len(e.args) > 1 and isinstance(e.args[1], tuple) else None)
        return out, (lineno - 1 if isinstance(lineno, int) and lineno > 0 else 0)
    return out, None


@functools.lru_cache(maxsize=1024)
def _stream(source: str) -> tuple[tuple[tuple[str, Name | None], ...], int | None]:
    """Every significant token's text, with its `Name` for identifiers; the first line
    that did not tokenize (None when all did). Cached: tokenize is pure Python and slow
    (~0.5 ms a line), and successive requests see mostly the same cells."""
    toks, bad = _tokens(source)
    significant = [t for t in toks if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)]
    out: list[tuple[str, Name | None]] = [(t.string, None) for t in significant]
    brackets: list[str] = []  # open brackets; "d(" marks a def signature's parentheses
    after_def = False
    for i, t in enumerate(significant):
        if t.type == tokenize.OP and t.string in ("(", "[", "{"):
            brackets.append("d(" if t.string == "(" and after_def else t.string)
            after_def = False
            continue
        if t.type == tokenize.OP and t.string in (")", "]", "}"):
            if brackets:
                brackets.pop()
            continue
        if t.type != tokenize.NAME:
            continue
        if t.string == "def":
            after_def = True
            continue
        if keyword.iskeyword(t.string):
            continue
        prev = significant[i - 1] if i > 0 else None
        nxt = significant[i + 1] if i + 1 < len(significant) else None
        base: str | None = None
        if prev is not None and prev.type == tokenize.OP and prev.string == ".":
            before_dot = significant[i - 2] if i > 1 else None
            base = before_dot.string if before_dot is not None and before_dot.type == tokenize.NAME else ""
        in_call = bool(brackets) and brackets[-1] in ("(", "d(")
        kwarg = in_call and nxt is not None and nxt.type == tokenize.OP and nxt.string == "=" and base is None
        param = bool(brackets) and brackets[-1] == "d(" and base is None
        out[i] = (t.string, Name(t.start[0] - 1, t.start[1], t.string, base, kwarg and not param, param))
    return tuple(out), bad


def names(source: str) -> tuple[list[Name], int | None]:
    """Identifier tokens of `source` (no keywords), and the first line that did not
    tokenize (None when all did): lines from there on are unknown."""
    items, bad = _stream(source)
    return [n for _, n in items if n is not None], bad


def detect(before: str, after: str, cell: int | None = None) -> list[Rename]:
    """Renames in one edit: an identifier token replaced, one for one, by another at the
    same place in the token stream, where the new name did not occur before the edit
    (otherwise the user pointed a reference elsewhere, which is no rename)."""
    a, _ = _stream(before)
    b, _ = _stream(after)
    known = {n.text for _, n in a if n is not None}
    found: dict[tuple[str, str, str | None], Rename] = {}
    # Aligned on every token, so brackets and operators anchor the positions.
    for i1, i2, j1, j2 in changed_blocks([t for t, _ in a], [t for t, _ in b]):
        if i1 == i2 or i2 - i1 != j2 - j1:  # a replacement, one for one
            continue
        for (_, old), (_, new) in zip(a[i1:i2], b[j1:j2]):
            if old is None or new is None or new.text in known or old.base != new.base or old.keyword_arg or new.keyword_arg:
                continue
            key = (old.text, new.text, old.base)
            found.setdefault(key, Rename(old.text, new.text, old.base, cell if old.parameter else None))
    return list(found.values())


def chain(renames: Iterable[Rename]) -> list[Rename]:
    """Renames in the order made, a->b then b->c folded into a->c (a->b->a cancels)."""
    out: list[Rename] = []
    for r in renames:
        merged = False
        for k, prev in enumerate(out):
            if prev.new == r.old and prev.base == r.base:
                out[k] = Rename(prev.old, r.new, prev.base, prev.cell if prev.cell == r.cell else None)
                merged = True
        if not merged:
            out.append(r)
    return [r for r in out if r.old != r.new]


def _follows(n: Name, r: Rename) -> bool:
    if n.text != r.old or n.keyword_arg:
        return False
    return n.base == r.base if r.base is not None else n.base is None


def line_edits(source: str, renames: Sequence[Rename], cell: int) -> list[Line]:
    """Lines of `source` where a rename still has to follow, each with its new text."""
    if not any(r.old in source for r in renames):
        return []  # most cells: no need to tokenize
    found, bad = names(source)
    lines = source.split("\n")  # as the editor counts lines
    by_line: dict[int, list[tuple[int, Rename]]] = {}
    for n in found:
        if bad is not None and n.line >= bad:
            continue
        for r in renames:
            if (r.cell is None or r.cell == cell) and _follows(n, r):
                by_line.setdefault(n.line, []).append((n.col, r))
                break
    out: list[Line] = []
    for line, hits in sorted(by_line.items()):
        if line >= len(lines):
            continue
        old = lines[line]
        new = old
        for col, r in sorted(hits, key=lambda h: -h[0]):  # right to left: columns stay valid
            if new[col : col + len(r.old)] != r.old:
                break  # a token position that does not match the text: leave the line alone
            new = new[:col] + r.new + new[col + len(r.old) :]
        else:
            if new != old:
                out.append((line, old, new))
    return out
