"""The agent's answer -> one action. Pure and total: any text gives an `Action`, never an
exception; what fits no action is an `error` action that says why (the frontend shows it
and the next prompt tells the model).

The format (agent_prompt.FORMAT) is one header line, then a body:

    ACTION: code            ACTION: edit 3          ACTION: markdown
    ```python               ```python               Short note of a finding.
    df = ...                (the whole new cell)
    ```                     ```
    ACTION: ask             ACTION: done
    A question to the user. The summary of what was found.

Small models drift from it, so the reading is lenient: case, markdown emphasis, `#`, `-`
or `=` instead of `:`, synonyms (python/run -> code, fix/replace -> edit, note -> markdown,
question -> ask, answer/finish -> done), "cell 3" or "[3]", an unclosed fence (the answer
was cut at max_tokens), and a bare ```python block with no header (a new code cell).
Only the first action counts; what follows a second header is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["code", "edit", "markdown", "ask", "done", "error"]
HEADER = "ACTION:"

MAX_BODY = 20_000  # characters of a cell the model may write; past it the answer is junk
MAX_HEADER = 120  # characters of a header line
_KINDS: dict[str, Kind] = {
    "code": "code",
    "python": "code",
    "run": "code",
    "print": "code",
    "execute": "code",
    "compute": "code",
    "cell": "code",
    "new": "code",
    "new_cell": "code",
    "insert": "code",
    "edit": "edit",
    "fix": "edit",
    "replace": "edit",
    "rewrite": "edit",
    "modify": "edit",
    "update": "edit",
    "markdown": "markdown",
    "note": "markdown",
    "md": "markdown",
    "text": "markdown",
    "ask": "ask",
    "question": "ask",
    "ask_user": "ask",
    "done": "done",
    "finish": "done",
    "finished": "done",
    "answer": "done",
    "final": "done",
    "summary": "done",
    "stop": "done",
}
# A header line: optional markup, ACTION, a separator, the kind and its argument.
_HEADER = re.compile(
    r"^[ \t>#*_`-]*action[ \t*_`]*[:=\-–][ \t*_`]*([A-Za-z_ ]+?)[ \t*_`]*(?:\b(?:cell)?[ \t#\[(]*(\d+)[\])]*)?[ \t*_`.:]*$", re.I | re.M
)
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*$", re.M)
_CODE_LANGS = {"", "python", "py", "python3", "ipython", "ipython3", "jupyter"}


@dataclass(frozen=True)
class Action:
    kind: Kind
    source: str = ""  # code / edit: the cell's new source; markdown: the note
    cell_index: int | None = None  # edit: 0-based index of the cell to replace
    text: str = ""  # the prose: what it is about to do, the question, the summary, or the error
    notes: tuple[str, ...] = field(default=())  # what the parser repaired or dropped

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "source": self.source, "cell_index": self.cell_index, "text": self.text, "notes": list(self.notes)}


def _error(message: str, notes: list[str]) -> Action:
    return Action("error", text=message, notes=tuple(notes))


def _fenced(body: str) -> tuple[str | None, str, str, bool]:
    """The first fenced block of `body`: (code or None, language, prose outside, closed)."""
    m = _FENCE_OPEN.search(body)
    if m is None:
        return None, "", body.strip(), True
    fence, lang = m.group(1), m.group(2).lower()
    rest = body[m.end() + 1 :] if m.end() < len(body) else ""
    close = re.search(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", rest, re.M)
    code = rest[: close.start()] if close else rest
    after = rest[close.end() :] if close else ""
    prose = (body[: m.start()] + "\n" + after).strip()
    return code, lang, prose, close is not None


def _clean_code(code: str) -> str:
    code = code.replace("\r\n", "\n").strip("\n").rstrip()
    return code + "\n" if code.strip() else ""


def _headers(text: str) -> list[tuple[int, int, re.Match[str]]]:
    """Header lines outside code fences: (start, end, match). A line in a cell the model
    writes (`# action: done` in a comment) is code, not a second action; long lines are
    never headers (and never reach the regex)."""
    found: list[tuple[int, int, re.Match[str]]] = []
    fence = ""
    pos = 0
    for line in text.splitlines(keepends=True):
        start, pos = pos, pos + len(line)
        bare = line.strip()
        if fence:
            if bare.startswith(fence[0] * len(fence)) and not bare.strip(fence[0]):
                fence = ""
            continue
        m = _FENCE_OPEN.match(bare) if bare[:1] in "`~" else None
        if m is not None:
            fence = m.group(1)
            continue
        if len(bare) <= MAX_HEADER and (h := _HEADER.match(bare)) is not None:
            found.append((start, pos, h))
    return found


def _first_action(text: str) -> tuple[str, str, str, list[str]]:
    """(kind word, cell argument, body) of the first header, and notes; ('', '', text) if none."""
    notes: list[str] = []
    headers = _headers(text)
    if not headers:
        return "", "", text, notes
    start, end, h = headers[0]
    if text[:start].strip():
        notes.append("text before the action header dropped")
    stop = headers[1][0] if len(headers) > 1 else len(text)
    if len(headers) > 1:
        notes.append(f"{len(headers) - 1} more action(s) after the first dropped")
    return h.group(1).strip().lower().replace(" ", "_"), h.group(2) or "", text[end:stop], notes


def _kind_of(word: str) -> Kind | None:
    if word in _KINDS:
        return _KINDS[word]
    for part in word.split("_"):  # "edit_cell", "new_code_cell", "ask_the_user"
        if part in _KINDS and part not in ("cell", "new", "text"):
            return _KINDS[part]
    return _KINDS.get(word.split("_")[0])


def parse_action(answer: str, n_cells: int) -> Action:
    """The first action in the model's `answer` (the text after the prompt's own
    "ACTION:"' is prefixed by the task). `n_cells`: cells in the notebook, for edit targets
    (1-based in the answer, as the prompt numbers them)."""
    if not isinstance(answer, str):
        return _error("The answer was not text.", [])
    text = answer.replace("\r\n", "\n").replace("\x00", "")
    if not text.strip():
        return _error("The answer was empty: no action.", [])
    word, number, body, notes = _first_action(text)
    if not word:
        code, lang, prose, closed = _fenced(text)
        prose = re.sub(r"^\W*action\W*$", "", prose, count=1, flags=re.I | re.M).strip()  # a bare "ACTION:" line
        if code is not None and lang in _CODE_LANGS and code.strip():
            notes.append("no action header: read as a new code cell")
            return _code_action("code", code, prose, closed, notes)
        first_line = text.strip().splitlines()[0][:120]
        return _error(f'The answer fits no action: it should start with a line like "ACTION: code". It began: {first_line!r}', notes)
    kind = _kind_of(word)
    if kind is None:
        code, lang, _, _ = _fenced(body)
        if code is None or lang not in _CODE_LANGS or not code.strip():
            return _error(f"Unknown action {word[:40]!r}: use code, edit N, markdown, ask or done.", notes)
        notes.append(f"unknown action {word[:40]!r} with a python block: read as code")
        kind = "code"
    if kind in ("code", "edit"):
        code, lang, prose, closed = _fenced(body)
        if code is None:  # no fence: a bare body is code when the header said so
            code, prose, closed = body, "", True
            notes.append("no code fence: the body read as code")
        elif lang not in _CODE_LANGS:
            notes.append(f"code fence labelled {lang!r} read as python")
        action = _code_action(kind, code, prose, closed, notes)
        if action.kind == "error" or kind == "code":
            return action
        if not number:
            return _error("An edit must name its cell: ACTION: edit N.", notes)
        index = int(number[:6]) - 1
        if not 0 <= index < n_cells:
            return _error(f"Cell {number[:6]} does not exist: the notebook has {n_cells} cells.", notes)
        return Action("edit", action.source, index, action.text, action.notes)
    prose = body.strip()
    if kind == "markdown":
        code, lang, outside, _ = _fenced(body)
        if code is not None and lang in ("markdown", "md", "text", ""):  # a fenced note: its body
            prose = (code.strip() + ("\n\n" + outside if outside else "")).strip()
        if not prose:
            return _error("A markdown action needs its text.", notes)
        return Action("markdown", prose[:MAX_BODY] + ("\n" if prose else ""), text="", notes=tuple(notes))
    if kind == "ask" and not prose:
        return _error("An ask action needs its question.", notes)
    return Action(kind, text=prose[:MAX_BODY], notes=tuple(notes))


def _code_action(kind: Kind, code: str, prose: str, closed: bool, notes: list[str]) -> Action:
    source = _clean_code(code)
    if not source:
        return _error(f"The {kind} action has no code.", notes)
    if len(source) > MAX_BODY:
        return _error(f"The {kind} action's code is too long ({len(source)} characters).", notes)
    if not closed:
        notes.append("unclosed code fence (the answer may have been cut)")
    return Action(kind, source, text=prose[:2000], notes=tuple(notes))


__all__ = ["HEADER", "Action", "Kind", "parse_action"]
