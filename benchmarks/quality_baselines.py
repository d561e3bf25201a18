"""The naive prompts ours is measured against (same model, same cases).

`cell_fim`: the current cell alone in the model's FIM format. `notebook_fim`: previous cells
(nearest first, up to 1,536 tokens) before the prefix and following cells (up to 256 tokens)
after the suffix, cells joined by blank lines, markdown as `# ` comments and, unless told
otherwise, each code cell's text outputs as `# ` comments under it. Greedy, 32 new tokens,
stop at a newline, no KV reuse: what a plain FIM integration would do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from jupyter_assist.notebook.outputs import as_text, plain
from jupyter_assist.prompt.fim import FimFormat

BEFORE_TOKENS = 1536
AFTER_TOKENS = 256
MAX_NEW = 32


def _comment(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in text.splitlines())


def _text_output(o: dict[str, Any]) -> str:
    kind = o.get("output_type")
    if kind == "stream":
        return plain(as_text(o.get("text")))
    if kind == "error":
        return f"{as_text(o.get('ename'))}: {as_text(o.get('evalue'))}"
    data = o.get("data")
    if isinstance(data, dict) and "text/plain" in data:
        text = as_text(data["text/plain"])
        return "" if text.startswith("<") and len(data) > 1 else plain(text)  # '<Figure ...>' reprs
    return ""


def render_cell(cell: dict[str, Any], outputs: bool) -> str:
    kind, source = cell.get("cell_type", "code"), str(cell.get("source", "")).rstrip()
    if kind == "markdown":
        return _comment(source)
    if kind != "code":
        return ""
    outs = [t for t in (_text_output(o) for o in cell.get("outputs", []) if isinstance(o, dict)) if t.strip()] if outputs else []
    return "\n".join([source, *(_comment(t) for t in outs)]).strip("\n")


def _fit(blocks: Sequence[str], budget: int, count: Callable[[str], int], from_end: bool) -> str:
    """Whole blocks nearest the cursor while they fit, then the nearest lines of the next."""
    kept: list[str] = []
    used = 0
    for block in reversed(blocks) if from_end else blocks:
        cost = count(block + "\n\n")
        if used + cost <= budget:
            kept.append(block)
            used += cost
            continue
        lines = block.split("\n")
        part: list[str] = []
        for line in reversed(lines) if from_end else lines:
            cost = count(line + "\n")
            if used + cost > budget:
                break
            part.append(line)
            used += cost
        if part:
            kept.append("\n".join(reversed(part) if from_end else part))
        break
    return "\n\n".join(reversed(kept) if from_end else kept)


def cell_fim(prefix: str, suffix: str, fim: FimFormat) -> str:
    return fim.render(prefix, suffix)


def notebook_fim(
    cells: Sequence[dict[str, Any]],
    index: int,
    prefix: str,
    suffix: str,
    fim: FimFormat,
    count: Callable[[str], int],
    outputs: bool = True,
) -> str:
    blocks = [render_cell(c, outputs) for c in cells]
    before = _fit([b for b in blocks[:index] if b], BEFORE_TOKENS, count, from_end=True)
    after = _fit([b for b in blocks[index + 1 :] if b], AFTER_TOKENS, count, from_end=False)
    return fim.render(f"{before}\n\n{prefix}" if before else prefix, f"{suffix}\n\n{after}" if after else suffix)
