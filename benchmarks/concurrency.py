"""A completion's first event alone and while a chat streams, through the real worker.

    python -m benchmarks concurrency --json [--model embedded] [--threads 2] [--reps 3]

`python -m benchmarks engine` adds the same keys (`figures`).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._common import engine_parser, engine_report, start_engine


def _completion_prompt(k: int) -> str:
    """A completion prompt of ~300 tokens, its own at every `k` (no prefix reuse)."""
    cells = "\n".join(f"df_{i} = pd.read_csv('data/part_{k}_{i}.csv')\nsummary_{i} = df_{i}.groupby('region')['revenue'].sum()" for i in range(8))
    return f"# run {k}\nimport pandas as pd\n\n{cells}\ntotal = summary_0"


async def _first_event_ms(engine: Any, prompt: str) -> float:
    from jupyter_assist.engine import GenerationParams, Request
    from jupyter_assist.engine.types import PRIORITY_COMPLETE

    req = Request(f"c{time.perf_counter_ns()}", prompt, GenerationParams(max_tokens=16), priority=PRIORITY_COMPLETE)
    t0 = time.perf_counter()
    first = None
    async for _ in engine.stream(req):
        first = first or time.perf_counter()
    assert first is not None
    return (first - t0) * 1000


async def _during_chat_ms(engine: Any, prompt: str, chat_prompt: str) -> float:
    from jupyter_assist.engine import GenerationParams, Request

    chat = Request(f"chat{time.perf_counter_ns()}", chat_prompt, GenerationParams(max_tokens=512, loop_guard=False))
    streaming = asyncio.Event()

    async def consume() -> None:
        async for ev in engine.stream(chat):
            if ev.kind == "delta":
                streaming.set()

    task = asyncio.create_task(consume())
    await streaming.wait()
    try:
        return await _first_event_ms(engine, prompt)
    finally:
        engine.cancel(chat.request_id)
        await task


def figures(engine: Any, reps: int = 3) -> dict[str, Any]:
    """`complete_first_ms_idle`, `complete_first_ms_during_chat` (a 512-token chat
    streaming when the completion arrives) and their ratio; medians of `reps`, the arms
    taking turns so the box's drift hits both alike."""
    chat_prompt = engine.backend.chat_prompt([{"role": "user", "content": "Explain what a pandas groupby does, with examples."}])
    idle, busy = [], []
    for k in range(reps):
        idle.append(asyncio.run(_first_event_ms(engine, _completion_prompt(2 * k))))
        busy.append(asyncio.run(_during_chat_ms(engine, _completion_prompt(2 * k + 1), chat_prompt)))
    i, b = statistics.median(idle), statistics.median(busy)
    stats = engine.stats()
    return {
        "complete_first_ms_idle": round(i, 1),
        "complete_first_ms_during_chat": round(b, 1),
        "complete_during_chat_ratio": round(b / i, 2),
        "complete_first_ms_during_chat_all": [round(x) for x in busy],
        "scheduler_running_peak": stats.get("running_peak"),
    }


def main(argv: list[str]) -> int:
    ap = engine_parser("concurrency")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)

    from jupyter_assist.engine import LoadOptions

    engine = start_engine(args.model, args.threads, LoadOptions(threads=args.threads, dtype=args.dtype))
    results = {**engine_report(engine, args.threads), **figures(engine, args.reps)}
    engine.shutdown()
    print(json.dumps(results, indent=None if args.json else 2))
    return 0
