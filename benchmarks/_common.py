"""Pieces more than one benchmark uses (so no benchmark imports another)."""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any


def notebook_prompt(target_tokens: int, encode: Any) -> str:
    """A synthetic data-analysis notebook of about `target_tokens` tokens."""
    cells, i = [], 0
    while True:
        cells.append(
            f"# Step {i}: load and summarise partition {i}\n"
            f"df_{i} = pd.read_csv('data/sales_{i}.csv', parse_dates=['date'])\n"
            f"df_{i}['revenue'] = df_{i}['price'] * df_{i}['quantity']\n"
            f"summary_{i} = df_{i}.groupby('region')['revenue'].agg(['sum', 'mean'])\n"
            f"print(summary_{i}.head())\n"
        )
        text = "import pandas as pd\nimport numpy as np\n\n" + "\n".join(cells)
        if len(encode(text)) >= target_tokens:
            return text
        i += 1


def engine_parser(name: str) -> argparse.ArgumentParser:
    """The options of the benchmarks that time the engine on one model: --json, --model
    (default: the embedded one), --threads and --dtype."""
    ap = argparse.ArgumentParser(prog=f"python -m benchmarks {name}")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="auto", help="auto | bfloat16 | float16 | float32")
    return ap


def start_engine(model: str, threads: int, opts: Any = None) -> Any:
    """An Engine on `model` with LoadOptions `opts` (default: only `threads`), torch on
    `threads` threads, once its model has loaded (the benchmark exits with the cause if
    the load fails)."""
    import torch

    from jupyter_assist.engine import Engine, LoadOptions
    from jupyter_assist.engine.models import default_cache_dir

    torch.set_num_threads(threads)
    engine = Engine(model, opts or LoadOptions(threads=threads), default_cache_dir())
    engine.start()
    while engine.status.state == "loading":
        time.sleep(0.1)
    if engine.status.state != "ready":
        raise SystemExit(f"model failed to load: {engine.status.error}")
    return engine


def engine_report(engine: Any, threads: int) -> dict[str, Any]:
    """The keys every engine benchmark's JSON starts with: what was measured, where."""
    return {"model": engine.status.model, "device": engine.status.device, "dtype": engine.status.dtype, "threads": threads}


def sync(device: Any) -> None:
    """Wait for the device's queued work (timings on CUDA are asynchronous otherwise)."""
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def forward_ms(backend: Any, ids: list[int], ks: tuple[int, ...], reps: int = 20, graphs: bool = False) -> dict[int, float]:
    """Median time (ms) of feeding k tokens after a KV cache of `ids`, for each k in `ks`
    (`graphs`: through the backend's CUDA graphs). One prefill for all; the sizes take
    turns, so drift hits every size alike."""
    import torch

    from jupyter_assist.engine.session import DynamicSession

    times: dict[int, list[float]] = {k: [] for k in ks}
    with torch.inference_mode():
        cache = backend._new_cache()
        backend._forward(ids, cache, last=True)
        session = backend.graphs if graphs else DynamicSession(backend._forward, cache)
        if graphs:
            session.load(cache, len(ids))
        for i in range(reps + 3):
            for k in ks:
                sync(backend.device)
                t0 = time.perf_counter()
                session.feed(ids[:k])  # .float() on logits; the loop's argmax syncs likewise
                sync(backend.device)
                if i >= 3:
                    times[k].append(time.perf_counter() - t0)
                session.truncate(len(ids))
    return {k: statistics.median(t) * 1000 for k, t in times.items()}


def run_then_close(engine: Any, main: Any, dump: Any) -> None:
    """Run a benchmark's `main()` coroutine on the engine, then stop it and close its dump."""
    import asyncio

    try:
        asyncio.run(main())
    finally:
        engine.shutdown()
        if dump:
            dump.close()
