"""Golden prompts: a few notebooks, tasks and budgets, rendered and compared byte for byte.

Counted with cl100k_base (fixed, offline), so the goldens do not depend on a trained test
tokenizer. After an intended change, regenerate and review the diff:

    JUPYTER_ASSIST_REGEN_GOLDEN=1 pytest tests/test_prompt_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupyter_assist.notebook import Budgets, completion_prompt, from_ipynb, split_cursor
from jupyter_assist.prompt import PromptTooLarge, cl100k
from jupyter_assist.prompt.fim import FORMATS
from jupyter_assist.tasks import chat, fix
from jupyter_assist.tasks.offline import model_text, wire_cells
from jupyter_assist.wire import ChatRequest, FixRequest

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("JUPYTER_ASSIST_REGEN_GOLDEN") == "1"
FIM = {f.family: f for f in FORMATS}

# (notebook, task, budget, cell, line, col)
CASES = [
    *[("analysis", task, budget, 7, 4, 19) for task in ("complete-qwen2.5-coder", "complete-plain", "chat") for budget in (80, 300, 1200)],
    *[("analysis", "fix", budget, 5, 0, 0) for budget in (300, 1200)],
    ("legacy_v3", "complete-starcoder2", 300, 4, 0, 10),
    ("legacy_v3", "chat", 300, 3, 0, 0),
    ("odd", "complete-deepseek-coder", 300, 5, 0, 7),
    ("odd", "complete-codellama", 300, 3, 0, 0),
    ("odd", "chat", 400, 1, 0, 0),
]


def template(msgs: list[dict[str, str]]) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs) + "<|im_start|>assistant\n"


def table(rows: list[dict[str, object]]) -> str:
    return "\n".join(
        f"{'kept' if r['kept'] else 'drop'} {r['tokens']:>5} {r['priority']!s:>12}  {r['name']}" + (f"  ({r['note']})" if r.get("note") else "")
        for r in rows
    )


def rendered(notebook: str, task: str, budget: int, cell: int, line: int, col: int) -> str:
    book = from_ipynb((GOLDEN / "notebooks" / f"{notebook}.ipynb").read_bytes())
    tok = cl100k()
    if task.startswith("complete"):
        family = task.removeprefix("complete-")
        fim = FIM.get(family)
        prefix, suffix = split_cursor(book.cells[cell].source, line, col)
        p = completion_prompt(book.cells, cell, prefix, suffix, tok, fim, Budgets.split(budget), notes=book.notes)
        head = f"tokens {p.tokens}, stable {len(p.stable)} chars, stops {list(p.stops)}"
        text, rows = p.text, p.report()
    else:  # through the task's own prompt building, as a request would be
        model, answer, cells = model_text(tok, template=template), 64, wire_cells(book)
        try:
            if task == "chat":
                messages = [{"role": "user", "content": "What is wrong here?"}]
                req = ChatRequest.model_validate({"request_id": "golden", "cells": cells, "cell_index": cell, "messages": messages})
                p = chat.prompt_of(req, model, answer, budget - answer, book=book)
            else:
                fix_req = FixRequest.model_validate({"request_id": "golden", "cells": cells, "cell_index": cell, "max_tokens": answer})
                p, _ = fix.prompt_of(fix_req, model, budget - answer, book=book)
        except PromptTooLarge as e:
            return f"error: {e}\n"
        head = f"tokens {p.rendered.tokens}, cutoff {p.rendered.cutoff}"
        text, rows = p.text, p.report()
    return f"{head}\n===== prompt =====\n{text}\n===== map =====\n{table(rows)}\n"


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c[:3])) for c in CASES])
def test_golden(case: tuple[str, str, int, int, int, int]) -> None:
    path = GOLDEN / f"{'-'.join(map(str, case[:3]))}.txt"
    got = rendered(*case)
    if REGEN or not path.exists():
        path.write_text(got, encoding="utf-8")
        if not REGEN:
            pytest.fail(f"wrote missing golden {path.name}; review it and rerun")
    assert got == path.read_text(encoding="utf-8")
