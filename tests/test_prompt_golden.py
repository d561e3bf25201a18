"""Golden prompts: a few notebooks, tasks and budgets, rendered and compared byte for byte.

Counted with cl100k_base (fixed, offline), so the goldens do not depend on a trained test
tokenizer. After an intended change, regenerate and review the diff:

    JUPYTER_ASSIST_REGEN_GOLDEN=1 pytest tests/test_prompt_golden.py
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from jupyter_assist.notebook import from_ipynb
from jupyter_assist.prompt import PromptTooLarge, cl100k
from jupyter_assist.prompt.fim import FORMATS
from jupyter_assist.tasks import TaskSettings, offline
from jupyter_assist.tasks.complete import CompletionSettings
from jupyter_assist.tasks.edit import OPEN

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
    # With the server's own completion knobs (CompletionSettings' defaults).
    *[("analysis", f"complete-served-{family}", 300, 7, 4, 19) for family in ("qwen2.5-coder", "plain")],
]


def template(msgs: list[dict[str, str]]) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs) + "<|im_start|>assistant\n"


def table(rows: list[dict[str, object]]) -> str:
    return "\n".join(
        f"{'kept' if r['kept'] else 'drop'} {r['tokens']:>5} {r['priority']!s:>12}  {r['name']}" + (f"  ({r['note']})" if r.get("note") else "")
        for r in rows
    )


def rendered(notebook: str, task: str, budget: int, cell: int, line: int, col: int) -> str:
    """The request the task's own build makes (as the server's would) for a cursor or a
    request in `notebook`, on `budget` tokens: its prompt and map."""
    book = from_ipynb((GOLDEN / "notebooks" / f"{notebook}.ipynb").read_bytes())
    tok = cl100k()
    if task.startswith("complete"):
        family = task.removeprefix("complete-")
        # The server's own knobs ("served-"), else the prompt shape these goldens were
        # written with: a `# %%` above each context cell, no next cells' lines after the cell.
        served = family.startswith("served-")
        knobs = CompletionSettings.split(budget)
        if not served:
            knobs = dataclasses.replace(knobs, marks=True, after_tokens=0)
        model = offline.model_text(tok, fim=FIM.get(family.removeprefix("served-")))
        built = offline.build("complete", book, cell, model, TaskSettings(knobs), line=line, col=col)
        p, req = built.prompt, built.request
        assert req.prompt == p.text  # no token healing without a model
        head = f"tokens {p.tokens}, stable {len(p.stable)} chars, stops {list(req.params.stop)}"
    else:
        model, answer = offline.model_text(tok, template=template), 64
        settings = TaskSettings(chat_max_tokens=answer, context_tokens=budget - answer)
        try:
            built = offline.build(task, book, cell, model, settings, instruction="What is wrong here?", answer=answer)
        except PromptTooLarge as e:
            return f"error: {e}\n"
        p, req = built.prompt, built.request
        assert req.prompt == p.text + (OPEN if task == "fix" else "")  # a rewrite's answer opens its fence
        head = f"tokens {p.rendered.tokens}, cutoff {p.rendered.cutoff}"
    assert req.inspect is not None
    return f"{head}\n===== prompt =====\n{p.text}\n===== map =====\n{table(req.inspect())}\n"


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c[:3])) for c in CASES])
def test_golden(case: tuple[str, str, int, int, int, int]) -> None:
    path = GOLDEN / f"{'-'.join(map(str, case[:3]))}.txt"
    got = rendered(*case)
    if REGEN or not path.exists():
        path.write_text(got, encoding="utf-8")
        if not REGEN:
            pytest.fail(f"wrote missing golden {path.name}; review it and rerun")
    assert got == path.read_text(encoding="utf-8")
