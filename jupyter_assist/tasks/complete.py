"""Inline completion: cursor in a cell + notebook context -> a short continuation.

The prompt (notebook/completion.py) is caching-aware: other cells (stable) first, the
current cell up to the cursor (volatile) last, each part on its own token budget, so
keystroke after keystroke the prompt shares a long prefix with the previous one. With a
local model the cursor line's last token is healed (prompt/heal.py): taken back out of the
prompt, regenerated under a constraint by the engine, and not part of the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..engine.types import PRIORITY_COMPLETE, GenerationParams, Request
from ..notebook import Budgets, CompletionPrompt, completion_prompt, from_cells
from ..notebook.completion import Layout
from ..notebook.context import OUT_MARK
from ..prompt import heal
from ..prompt.model import ModelText
from ..wire import CompleteRequest
from .spec import Built, Task, TaskSettings

# The context's marks for a cut cell: `# ... (rest of cell omitted)`, `# ... 12 lines omitted ...`.
_OMISSION = re.compile(r"#\s*\.\.\.\s.*\bomitted\b")
Avoid = Literal["comment", "marks", "out", "none"]
# What an answer on an empty line may not start with (CompletionSettings.avoid); "marks":
# how our output mark (`# Out:`) and cut cells' marks (`# ... 12 lines omitted ...`) start.
_AVOID: dict[Avoid, tuple[str, ...]] = {"marks": (OUT_MARK.rstrip(":"), "# ..."), "out": (OUT_MARK,), "comment": ("#",), "none": ()}


@dataclass
class CompletionSettings:
    max_tokens: int = 48
    context_tokens: int = 1536  # other cells
    prefix_tokens: int = 1024  # current cell before the cursor
    suffix_tokens: int = 256  # current cell after the cursor (FIM models)
    below_tokens: int = 256  # cells after the current one (FIM models)
    # Ablation knobs (benchmarks/quality.py): where the cells below go, token healing,
    # outputs of the cells above as comments.
    layout: Layout = "repo"
    heal: bool = True
    heal_known: bool = False  # heal also right after a whole name the notebook uses (it gets stretched)
    heal_blank: bool = True  # heal also a line of indentation only (constrain.allowed: the `"   " + " x"` split)
    outputs: bool = True
    next_mark: bool = False  # repo layout: the suffix ends with the next cell's `# %%`
    marks: bool = False  # `# %%` above each context cell; False: a blank line (quality ablation)
    after_tokens: int = 64  # repo layout: the next cells' first lines after the cell's rest
    nonblank: bool = True  # on an empty cursor line the answer's first token puts text on it
    # There, what the answer may not start with: "comment" (`#`: a line of code is what an
    # empty line waits for; who wants a comment types `#` and gets it completed), "marks"
    # (our marks' looks: `# Out (3, 4):`, `# ... (rest of cell omitted)`), "out" (`# Out:`), "none".
    avoid: Avoid = "comment"

    def budgets(self) -> Budgets:
        """The prompt's segment budgets; the cursor line holds a quarter of the prefix's, at most 128."""
        return Budgets(self.context_tokens, self.prefix_tokens, self.suffix_tokens, min(128, self.prefix_tokens // 4), self.below_tokens)

    @classmethod
    def split(cls, total: int) -> CompletionSettings:
        """The default settings with `Budgets.split(total)` as budgets (the CLI's --budget)."""
        b = Budgets.split(total)
        return cls(context_tokens=b.context, prefix_tokens=b.prefix, suffix_tokens=b.suffix, below_tokens=b.below)


def build(req: CompleteRequest, model: ModelText, settings: TaskSettings, notes: Sequence[str] = ()) -> Built[CompletionPrompt]:
    knobs = settings.completion
    book = from_cells(req.cells)
    prompt = completion_prompt(
        book.cells,
        req.cell_index,
        req.prefix,
        req.suffix,
        model.tokens,
        model.fim,
        knobs.budgets(),
        variables=req.variables,
        notes=[*notes, *book.notes],
        outputs=knobs.outputs,
        layout=knobs.layout,
        next_mark=knobs.next_mark,
        marks=knobs.marks,
        after=knobs.after_tokens,
    )
    text, removed = prompt.text, ""
    index = model.heal_index() if knobs.heal else None
    line = prompt.text[: prompt.cursor].rpartition("\n")[2]
    if index is not None and (line.strip() or knobs.heal_blank):
        # Names the user sees: the prompt without the cursor's word, and the rest of the cell.
        known = heal.known_in(prompt.text[: prompt.cursor - len(heal.last_word(line))] + prompt.text[prompt.cursor :] + "\n" + req.suffix)
        removed = heal.removable(line, model.tokens.encode, index.text, (lambda word: False) if knobs.heal_known else known)
        if removed:
            text = heal.healed(prompt.text, prompt.cursor, removed)
    # The regenerated token counts against max_tokens like any other.
    # An empty line (as after Enter) asks for a line: the model's best one, not its guess
    # that the line stays empty (an empty answer shows nothing).
    nonblank = knobs.nonblank and not req.prefix.rpartition("\n")[2].strip() and not req.suffix.split("\n", 1)[0].strip()
    # There the model wrote the cell's output in the context's format (3 of 60 line_start
    # cases: the current cell has no outputs, the cells above do), kept from `# Out:` it
    # wrote `# Out (3, 4):` or copied a cut cell's omission mark, kept from those a
    # markdown cell's prose as a comment (8 of 60; code instead: ES 8-0).
    avoid = _AVOID[knobs.avoid] if nonblank else ()
    params = GenerationParams(max_tokens=req.max_tokens or knobs.max_tokens, stop=prompt.stops, prefix=removed, nonblank=nonblank, avoid=avoid)
    request = Request(req.request_id, text, params, priority=PRIORITY_COMPLETE, inspect=prompt.report)
    return Built(request, prompt, lambda done: {"text": finish(done.text, req)})


def finish(text: str, req: CompleteRequest) -> str:
    """Post-process the raw continuation: no trailing whitespace, no echo of the suffix,
    no copied output block, no repeat of the line above an empty cursor line (small FIM
    models echo a block opener they were put under), nothing from our own omission marks
    (`# ... (rest of cell omitted)`) on."""
    text = _before_omission_mark(text.rstrip()).rstrip()
    if text.lstrip().startswith(OUT_MARK):
        return ""
    suffix_line = req.suffix.split("\n", 1)[0].strip()
    if suffix_line and text.endswith(suffix_line):
        text = text[: -len(suffix_line)].rstrip()
    if _repeats_line_above(text, req.prefix):
        return ""
    return text if text.strip() else ""


def _before_omission_mark(text: str) -> str:
    """`text` up to a copy of a mark the prompt put where it cut a cell, at a line's start
    or after code (`"spam")]  # ... (rest of cell omitted)`)."""
    mark = _OMISSION.search(text)
    return text[: mark.start()] if mark else text


def _repeats_line_above(text: str, prefix: str) -> bool:
    above, _, line = prefix.rpartition("\n")
    if line.strip():  # the answer continues a line that has text: no repeat to judge
        return False
    last = next((x for x in reversed(above.split("\n")) if x.strip()), "")
    return bool(last.strip()) and text.split("\n", 1)[0].strip() == last.strip()


TASK = Task("complete", CompleteRequest, build)
