"""Renames the user made, and where else the old name still stands. Pure: no model.

Over 350 lines: finding a rename and scoping it (ast scopes, with a token fallback for a
cell being typed) are one rule set; split, each half would need the other's cases.

Identifiers come from Python's `tokenize`, so names inside strings, f-strings and comments
are never touched. Which occurrences follow a rename (decided here, documented in
docs/api.md):

- a plain name (`load` -> `read_text`) follows to plain-name occurrences in this cell and
  in other code cells. Attributes of other objects (`obj.load`) and keyword arguments
  (`f(load=1)`) are left alone: they live in another namespace.
- an attribute (`self.load` -> `self.read`) follows only where the same base name is in
  front of it (`self.load`).
- a function parameter renamed inside a `def (...)` signature follows only in that
  function's body; call sites' keyword arguments are the user's call. A name bound inside
  a function (a local) renamed where it is bound follows in that function, below it.
- a name renamed where it is bound at the top of a cell (`x = ...`, `def`, `class`, `as`)
  follows below that statement in its cell and in the cells below: the uses above it (and
  in cells above, which ran before it) belong to the binding it replaced.
- a rename made at a use follows everywhere.
- functions (and comprehensions) where the old name is local (a parameter, an assignment)
  are left alone, except a local rename's own function.

Scopes come from `ast` where the source parses; where it does not (the user is
mid-typing), from the tokens: code that does not tokenize to the end (an open string, bad
dedent) is read up to the error, lines after it get no proposal, and a parameter's body is
the lines indented below its `def`. Every proposal is shown to the user, who accepts or
dismisses it.
"""

from __future__ import annotations

import ast
import functools
import io
import keyword
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

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
    binds: bool = False  # after `def`, `class`, `as` or `for`, or before `=` outside brackets


@dataclass(frozen=True)
class Rename:
    """`cell` None: follows everywhere. Else the rename was made at a binding in `cell`:
    it follows from line `start` of it on, and in every cell below, or, when `end` is set
    (a parameter, a function's local), only in lines [start, end) of `cell`."""

    old: str
    new: str
    base: str | None  # attribute renames: the object's name
    cell: int | None
    start: int = 0
    end: int | None = None

    def reaches(self, cell: int, line: int) -> bool:
        if self.cell is None:
            return True
        if self.end is not None:
            return cell == self.cell and self.start <= line < self.end
        return cell > self.cell or (cell == self.cell and line >= self.start)


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


_ASSIGN_OPS = frozenset({"=", ":=", "+=", "-=", "*=", "/=", "//=", "%=", "**=", "@=", "&=", "|=", "^=", ">>=", "<<="})


class Lexed(NamedTuple):
    items: tuple[tuple[str, Name | None], ...]  # every significant token, `Name` for identifiers
    bad: int | None  # the first line that did not tokenize (None when all did)
    starts: tuple[int, ...]  # 0-based lines where a top-level statement begins (see _tops)


_CONTINUES = frozenset({"else", "elif", "except", "finally"})  # part of the statement above


def _tops(toks: Sequence[tokenize.TokenInfo]) -> tuple[int, ...]:
    """The lines where a top-level statement begins, one a module can be cut at: not the
    `def` below a decorator, not an `else:` of the statement above. From the tokens, so
    lines at column 0 inside strings and brackets are never taken."""
    out: list[int] = []
    first, decorated = True, False
    for t in toks:
        if t.type == tokenize.NEWLINE:
            first = True
        elif t.type not in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER) and first:
            first = False
            if t.start[1] == 0:
                if not decorated and t.string not in _CONTINUES:
                    out.append(t.start[0] - 1)
                decorated = t.string == "@"
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def _stream(source: str) -> Lexed:
    """The tokens' texts and names, and where top-level statements begin. Cached: tokenize
    is pure Python and slow (~0.05 ms a token), and successive requests see mostly the
    same cells."""
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
        assigns = not brackets and nxt is not None and nxt.type == tokenize.OP and nxt.string in _ASSIGN_OPS
        binds = base is None and ((prev is not None and prev.string in ("def", "class", "as", "for")) or assigns)
        out[i] = (t.string, Name(t.start[0] - 1, t.start[1], t.string, base, kwarg and not param, param, binds))
    return Lexed(tuple(out), bad, _tops(toks))


def names(source: str) -> tuple[list[Name], int | None]:
    """Identifier tokens of `source` (no keywords), and the first line that did not
    tokenize (None when all did): lines from there on are unknown."""
    items, bad, _ = _stream(source)
    return [n for _, n in items if n is not None], bad


# --- scopes (ast) ------------------------------------------------------------------------

Pos = tuple[int, int]  # (0-based line, UTF-8 byte column), as `ast` counts
Span = tuple[Pos, Pos]
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
Func = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


# `ast.parse` holds the GIL throughout (~20 us a line): a long cell is parsed in pieces of
# about this many lines, cut where top-level statements begin, so the server's other
# routes answer in between (tests/test_server_freeze.py).
PARSE_LINES = 400


def _pieces(source: str) -> Iterator[tuple[int, str]]:
    """`source` as (first line, text) pieces of whole top-level statements."""
    lines = source.split("\n")
    if len(lines) <= PARSE_LINES or "\r" in source:  # ast also ends a line at a lone \r
        yield 0, source
        return
    lexed = _stream(source)
    if lexed.bad is not None:
        yield 0, source  # fails to parse anyway (where the tokens stop)
        return
    begin = 0
    for start in (*lexed.starts, len(lines)):
        if start - begin >= PARSE_LINES or start == len(lines):
            yield begin, "\n".join(lines[begin:start])
            begin = start


@functools.lru_cache(maxsize=256)
def _tree(source: str) -> ast.Module | None:
    body: list[ast.stmt] = []
    try:
        for first, text in _pieces(source):
            piece = ast.parse(text)  # parse only: never compiled or run
            body.extend(ast.increment_lineno(piece, first).body if first else piece.body)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    return ast.Module(body=body, type_ignores=[])


def _span(node: ast.expr | ast.stmt) -> Span:
    return (node.lineno - 1, node.col_offset), ((node.end_lineno or node.lineno) - 1, node.end_col_offset or 0)


def _body(f: Func) -> Span:
    """Where a function's body is (its signature, defaults included, is outside)."""
    first, last = (f.body, f.body) if isinstance(f, ast.Lambda) else (f.body[0], f.body[-1])
    return (first.lineno - 1, first.col_offset), ((last.end_lineno or last.lineno) - 1, last.end_col_offset or 0)


def _inside(pos: Pos, span: Span) -> bool:
    return span[0] <= pos < span[1]


def _own(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `node`'s own scope: nested functions, classes and comprehensions are
    yielded, not entered."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, (*_FUNCS, *_COMPS, ast.ClassDef)):
            yield from _own(child)


def _params(f: Func) -> set[str]:
    a = f.args
    return {x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if x is not None}


def _locals(node: ast.AST) -> set[str]:
    """The names local to a function or comprehension: its parameters, what it binds, less
    what it declares `global` or `nonlocal`."""
    if isinstance(node, _COMPS):
        return {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
    out = _params(node) if isinstance(node, _FUNCS) else set()
    declared: set[str] = set()
    for n in _own(node):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            out.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.alias):
            out.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            declared.update(n.names)
    return out - declared


def _shadows(node: ast.AST, name: str) -> Iterator[Span]:
    """Where `name` means something else than in `node`'s scope: the functions and
    comprehensions below it where it is local."""
    for child in _own(node):
        if isinstance(child, (*_FUNCS, *_COMPS)):
            if name in _locals(child):  # its parameters too (and, conservatively, their defaults)
                yield _span(child)
            else:
                yield from _shadows(child, name)
        elif isinstance(child, ast.ClassDef):  # a class body's names do not reach its methods
            yield from _shadows(child, name)


@functools.lru_cache(maxsize=1024)
def _shadowed(source: str, name: str) -> tuple[Span, ...]:
    tree = _tree(source)
    if tree is None:
        return ()
    try:
        return tuple(_shadows(tree, name))
    except RecursionError:
        return ()


def _byte_col(lines: Sequence[str], line: int, col: int) -> int:
    return len(lines[line][:col].encode()) if line < len(lines) else col


def _scope(tree: ast.Module, lines: Sequence[str], n: Name, cell: int) -> Rename | None:
    """Where a rename made at `n` (a name of the edit's `after`) follows; None: everywhere."""
    pos = (n.line, _byte_col(lines, n.line, n.col))
    funcs = [f for f in ast.walk(tree) if isinstance(f, _FUNCS)]
    for f in funcs:
        if any((a.lineno - 1, a.col_offset) == pos for a in _all_args(f)):  # a parameter
            (b0, _), (b1, _) = _body(f)
            return Rename("", "", None, cell, b0, b1 + 1)
    stored = [x for x in ast.walk(tree) if isinstance(x, ast.Name) and not isinstance(x.ctx, ast.Load) and (x.lineno - 1, x.col_offset) == pos]
    if not stored and not n.binds:
        return None  # a use
    start = n.line + 1
    for st in ast.walk(tree):  # an assignment's right-hand side still reads the old binding
        if isinstance(st, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and _inside(pos, _span(st)):
            start = max(start, st.end_lineno or start)
    around = [f for f in funcs if _inside(pos, _body(f))]
    if around:
        f = max(around, key=lambda f: _body(f)[0])
        if n.text in _locals(f):
            return Rename("", "", None, cell, start, _body(f)[1][0] + 1)
    return Rename("", "", None, cell, start)


def _all_args(f: Func) -> list[ast.arg]:
    a = f.args
    return [x for x in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if x is not None]


def _indented_body(lines: Sequence[str], line: int) -> tuple[int, int]:
    """Without a tree: the lines below the `def` at or above `line`, indented deeper."""
    d = next((k for k in range(line, -1, -1) if lines[k].lstrip().startswith(("def ", "async def "))), line)
    indent = len(lines[d]) - len(lines[d].lstrip())
    end = line + 1
    while end < len(lines):
        text = lines[end]
        if text.strip() and not text.lstrip().startswith("#") and len(text) - len(text.lstrip()) <= indent:
            break
        end += 1
    return line + 1, end


def _scope_of(after: str, n: Name, cell: int) -> tuple[int | None, int, int | None]:
    lines = after.split("\n")
    tree = _tree(after)
    if tree is not None:
        try:
            s = _scope(tree, lines, n, cell)
        except RecursionError:
            s = None
        return (None, 0, None) if s is None else (s.cell, s.start, s.end)
    if n.parameter:
        return (cell, *_indented_body(lines, n.line))
    return (cell, n.line + 1, None) if n.binds else (None, 0, None)


def detect(before: str, after: str, cell: int | None = None) -> list[Rename]:
    """Renames in one edit: an identifier token replaced, one for one, by another at the
    same place in the token stream, where the new name did not occur before the edit
    (otherwise the user pointed a reference elsewhere, which is no rename). With `cell`,
    each is scoped where it was made (see the module's docstring)."""
    a = _stream(before).items
    b = _stream(after).items
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
            if key in found:
                continue
            where: tuple[int | None, int, int | None] = (None, 0, None)
            if cell is not None and new.base is None:
                where = _scope_of(after, new, cell)
            found[key] = Rename(old.text, new.text, old.base, *where)
    return list(found.values())


def chain(renames: Iterable[Rename]) -> list[Rename]:
    """Renames in the order made, a->b then b->c folded into a->c (a->b->a cancels); the
    fold keeps where a->b was made (the binding the name first had)."""
    out: list[Rename] = []
    for r in renames:
        merged = False
        for k, prev in enumerate(out):
            if prev.new == r.old and prev.base == r.base:
                out[k] = Rename(prev.old, r.new, prev.base, prev.cell, prev.start, prev.end)
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
    shadowed = {r.old: _shadowed(source, r.old) for r in renames if r.base is None and r.old in source}
    by_line: dict[int, list[tuple[int, Rename]]] = {}
    for n in found:
        if bad is not None and n.line >= bad:
            continue
        for r in renames:
            if not r.reaches(cell, n.line) or not _follows(n, r):
                continue
            # A local rename's own function (and those around it) start above its lines:
            # there the old name is local because the rename has yet to follow.
            spans = [s for s in shadowed.get(r.old, ()) if r.end is None or s[0][0] >= r.start]
            if spans and any(_inside((n.line, _byte_col(lines, n.line, n.col)), s) for s in spans):
                continue
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
