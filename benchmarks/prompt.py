"""Prompt builder benchmark: render time at 2K/8K/32K tokens, binary vs linear search, and
tiktoken-from-tokenizer.json vs the HF tokenizer.

    python -m benchmarks prompt [--json] [--model HF_FOLDER] [--repeat N]

The notebook is synthetic (300 cells: code, markdown, stream/table/image/error outputs),
seeded, so runs are comparable. Render times are medians over renders of the whole
notebook context with a warm token-count cache (the steady state while a user types: the
cells repeat from keystroke to keystroke); the first, cold render is reported apart.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_assist.notebook import from_cells
from jupyter_assist.notebook.context import Options, context_nodes
from jupyter_assist.prompt import render, scope

BUDGETS = {"2k": 2048, "8k": 8192, "32k": 32768}
N_CELLS = 300

_LINES = [
    "df = pd.read_csv('data/{n}.csv')",
    "df['{n}_ratio'] = df['{n}'] / df['total']",
    "result_{n} = df.groupby('region')['{n}'].agg(['mean', 'std'])",
    "for i, row in enumerate(rows_{n}):",
    "    if row['{n}'] > threshold:",
    "        selected.append(row)",
    "plt.plot(x_{n}, y_{n}, label='{n}')",
    "model_{n} = LinearRegression().fit(X_train, y_train)",
    "print(f'{n}: {{score:.3f}}')",
    "def transform_{n}(values, scale=1.0):",
    "    return [v * scale for v in values if v is not None]",
    "counts_{n} = collections.Counter(words)",
]
_IMPORTS = [
    "import numpy as np",
    "import pandas as pd",
    "import matplotlib.pyplot as plt",
    "from sklearn.linear_model import LinearRegression",
    "import collections",
]


def synthetic_cells(n: int = N_CELLS, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cells: list[dict[str, Any]] = []
    count = 0
    for i in range(n):
        name = f"v{i}"
        if i % 5 == 0:
            cells.append(
                {"cell_type": "markdown", "source": f"## Step {i // 5}\n\nWe look at **{name}** and its relation to the total. " * rng.randint(1, 3)}
            )
            continue
        lines = ([rng.choice(_IMPORTS)] if rng.random() < 0.2 else []) + [rng.choice(_LINES).format(n=name) for _ in range(rng.randint(4, 30))]
        outputs: list[dict[str, Any]] = []
        r = rng.random()
        if r < 0.35:
            outputs.append(
                {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": "".join(f"\x1b[32mstep {k}\x1b[0m loss={rng.random():.4f}\n" for k in range(rng.randint(5, 80))),
                }
            )
        elif r < 0.6:
            table = f"      region    {name}   total\n" + "".join(
                f"{k:<5} north  {rng.random():.3f}  {rng.randint(1, 999)}\n" for k in range(rng.randint(5, 40))
            )
            outputs.append(
                {
                    "output_type": "execute_result",
                    "execution_count": i,
                    "data": {"text/plain": table, "text/html": "<table>" + "<tr><td>x</td></tr>" * 50 + "</table>"},
                    "metadata": {},
                }
            )
        elif r < 0.75:
            outputs.append(
                {
                    "output_type": "display_data",
                    "data": {"image/png": "iVBORw0KGgo" + "A" * 20000, "text/plain": "<Figure size 640x480 with 1 Axes>"},
                    "metadata": {},
                }
            )
        elif r < 0.8:
            tb = [f"\x1b[0;31m  File \x1b[0;32m<ipython-input-{i}>\x1b[0m, line {k}\x1b[0m" for k in range(8)] + [
                f"\x1b[0;31mKeyError\x1b[0m: '{name}'"
            ]
            outputs.append({"output_type": "error", "ename": "KeyError", "evalue": f"'{name}'", "traceback": tb})
        ran = rng.random() < 0.8
        if ran:
            count += 1
        cells.append({"cell_type": "code", "source": "\n".join(lines), "outputs": outputs, "execution_count": count if ran else None})
    return cells


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _tokenizer(model: str | None) -> tuple[Any, str]:
    from jupyter_assist.engine import models

    folder = Path(model) if model else models.default_cache_dir() / f"{models.EMBEDDED_NAME}-{models.EMBEDDED_SHA256[:12]}"
    if not (folder / "tokenizer.json").is_file():
        raise SystemExit(f"no tokenizer.json in {folder}: run `jupyter assist models install` or pass --model")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True), folder.name


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks prompt", description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", help="HF folder with tokenizer.json (default: the converted embedded model)")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)

    from jupyter_assist.prompt.tokens import from_hf

    hf, model_name = _tokenizer(args.model)
    t = time.perf_counter()
    tokens = from_hf(hf)
    build_s = time.perf_counter() - t
    book = from_cells(synthetic_cells())
    current = N_CELLS // 2

    def tree() -> Any:
        return scope(*context_nodes(book.cells, current, "chat", Options(error=True)))

    root = tree()
    total = tokens.count(render(root, 10**9, tokens, cache=None).text)
    out: dict[str, Any] = {
        "model": model_name,
        "tokenizer": tokens.name,
        "cells": N_CELLS,
        "notebook_tokens": total,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    out["tokenizer_build_s"] = round(build_s, 3)
    for key, budget in BUDGETS.items():
        r = render(root, budget, tokens, cache=None)
        assert r.tokens <= budget
        out[f"render_p50_ms_{key}"] = round(_median_ms(functools.partial(render, root, budget, tokens, cache=None), args.repeat), 2)
        out[f"render_counts_{key}"] = r.counts
        out[f"levels_{key}"] = r.levels
    out["build_nodes_p50_ms"] = round(_median_ms(tree, max(5, args.repeat // 3)), 2)
    # A whole completion request as the server builds it: wire cells -> prompt, at 8K, with
    # the cursor moving through a line (the context isolate comes from the cache).
    from jupyter_assist.notebook import Budgets, completion_prompt

    raw = synthetic_cells()
    cursor = iter(range(10**9))

    def keystroke() -> Any:
        k = next(cursor) % 40
        return completion_prompt(from_cells(raw).cells, current, "def f(x):\n    return " + "x" * k, "", tokens, None, Budgets.split(8192))

    keystroke()
    out["complete_request_p50_ms_8k"] = round(_median_ms(keystroke, args.repeat), 2)
    # Linear scans over the same levels with the same counter: bottom-up (the definition:
    # the first level that fits) and top-down (stops at the first level that does not).
    binary = render(root, BUDGETS["8k"], tokens, cache=None)
    for mode in ("linear", "linear_down"):
        r = render(root, BUDGETS["8k"], tokens, cache=None, search=mode)  # type: ignore[arg-type]
        assert (binary.text, binary.cutoff) == (r.text, r.cutoff), f"binary and {mode} searches disagree"
        ms = _median_ms(functools.partial(render, root, BUDGETS["8k"], tokens, cache=None, search=mode), max(3, args.repeat // 10))  # type: ignore[arg-type]
        out[f"{mode}_p50_ms_8k"] = round(ms, 2)
        out[f"{mode}_counts_8k"] = r.counts
    out["speedup_vs_linear_8k"] = round(out["linear_p50_ms_8k"] / out["render_p50_ms_8k"], 1)
    out["speedup_vs_linear_down_8k"] = round(out["linear_down_p50_ms_8k"] / out["render_p50_ms_8k"], 1)

    # Tokenizer: the notebook text plus standard-library source, ids from both paths.
    import collections
    import textwrap

    text = render(root, 10**9, tokens, cache=None).text + "".join(inspect.getsource(m) for m in (collections, os, textwrap))
    ids_hf = hf.encode(text, add_special_tokens=False)
    ids_tt = tokens.encode(text)
    hf_ms = _median_ms(lambda: hf.encode(text, add_special_tokens=False), 5)
    tt_ms = _median_ms(lambda: tokens.encode(text), 5)
    out["tokenize_text_tokens"] = len(ids_hf)
    out["tokenize_hf_ms"] = round(hf_ms, 1)
    out["tokenize_tiktoken_ms"] = round(tt_ms, 1)
    out["tokenize_speedup_vs_hf"] = round(hf_ms / tt_ms, 1)
    out["tokenize_same_ids"] = ids_hf == ids_tt

    # Cold: a fresh counter (empty count cache) renders once at 8K.
    from jupyter_assist.prompt.tokens import Counter

    cold = Counter("cold", tokens.encode, chunked=tokens.chunked)  # type: ignore[attr-defined]
    t = time.perf_counter()
    render(root, BUDGETS["8k"], cold, cache=None)
    out["render_cold_ms_8k"] = round((time.perf_counter() - t) * 1000, 1)

    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>26}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
