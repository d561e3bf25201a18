"""Decode throughput with 1, 2 and 4 sequences at once, through the real worker (batched
decode, engine/batch.py).

    python -m benchmarks batch --json [--model embedded] [--threads 2] [--reps 2]

`python -m benchmarks engine` adds the same keys (`figures`).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._common import engine_parser, engine_report, start_engine

TOPICS = ("a pandas groupby", "a Python generator", "matplotlib subplots", "a numpy broadcast")


async def _at_once(engine: Any, n: int, max_tokens: int, k: int) -> tuple[int, float]:
    """`n` plain-decode chats sent together: (completion tokens, wall seconds)."""
    from jupyter_assist.engine import GenerationParams, Request

    backend = engine.backend

    async def one(i: int) -> int:
        prompt = backend.chat_prompt([{"role": "user", "content": f"Explain {TOPICS[i % len(TOPICS)]} (take {k})."}])
        params = GenerationParams(max_tokens=max_tokens, loop_guard=False, lookup=False)
        done = 0
        async for ev in engine.stream(Request(f"b{k}-{n}-{i}", prompt, params)):
            if ev.kind == "done":
                done = ev.completion_tokens
        return done

    t0 = time.perf_counter()
    tokens = await asyncio.gather(*(one(i) for i in range(n)))
    return sum(tokens), time.perf_counter() - t0


def pass_ms(engine: Any, passes: int = 24) -> dict[str, float]:
    """Median ms of one decode pass over 1, 2 and 4 rows (their own batches, after a
    ~40-token prompt each), the sizes taking turns pass by pass: on a shared box the
    drift of a whole run hits every size alike. The worker must be idle."""
    import statistics

    import torch

    from jupyter_assist.engine.batch import Batch, BatchRow

    backend = engine.backend
    ids = backend.encode(backend.chat_prompt([{"role": "user", "content": "Explain a pandas groupby, with examples."}]))
    batches = {}
    with torch.inference_mode():
        for n in (1, 2, 4):
            batch = Batch(backend.model, 0)
            rows = [BatchRow(batch, object(), backend.prefill(ids)[0], backend._forward) for _ in range(n)]
            batch.run({r: [ids[-1]] for r in rows})  # joins: the K/V copied in once
            batches[n] = (batch, rows)
        times: dict[int, list[float]] = {n: [] for n in batches}
        for _ in range(passes):
            for n, (batch, rows) in batches.items():
                t0 = time.perf_counter()
                batch.run({r: [ids[-1]] for r in rows})
                times[n].append((time.perf_counter() - t0) * 1000)
        for _, rows in batches.values():
            for r in rows:
                r.leave()
    return {str(n): round(statistics.median(v), 1) for n, v in times.items()}


def figures(engine: Any, reps: int = 2, max_tokens: int = 64, sizes: tuple[int, ...] = (1, 2, 4)) -> dict[str, Any]:
    """`batch_decode_tok_s` (total tokens/s) at each of `sizes` sequences (the first one
    alone), each the best of `reps` rounds, the arms taking turns so the box's drift hits
    all alike; ratios to one sequence, and per sequence; the batch sizes the scheduler saw."""
    best: dict[int, float] = dict.fromkeys(sizes, 0.0)
    asyncio.run(_at_once(engine, 1, 4, -1))  # warm up allocations
    for k in range(reps):
        for n in sizes:
            tokens, wall = asyncio.run(_at_once(engine, n, max_tokens, k))
            best[n] = max(best[n], tokens / wall)
    out: dict[str, Any] = {"batch_decode_tok_s": {str(n): round(v, 1) for n, v in best.items()}}
    out["batch_decode_tok_s_per_sequence"] = {str(n): round(v / n, 1) for n, v in best.items()}
    for n in sizes[1:]:
        out[f"batch_decode_{n}_over_1"] = round(best[n] / best[1], 2)
    out["batch_sizes_seen"] = engine.stats().get("batch_sizes")
    if getattr(engine.backend, "batch", None) is not None and engine.backend.device.type == "cpu":  # timed without a device sync
        ms = pass_ms(engine)
        out["batch_pass_ms"] = ms  # the same ratio from interleaved passes, steadier on a busy box
        out["batch_pass_4_over_1_tok_s"] = round(4 * ms["1"] / ms["4"], 2)
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main(argv: list[str]) -> int:
    ap = engine_parser("batch")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--no-batch", action="store_true", help="decode one request per pass (the baseline)")
    args = ap.parse_args(argv)

    from jupyter_assist.engine import LoadOptions

    engine = start_engine(args.model, args.threads, LoadOptions(threads=args.threads, dtype=args.dtype, batch=not args.no_batch))
    results = {**engine_report(engine, args.threads), **figures(engine, args.reps, args.max_tokens)}
    engine.shutdown()
    print(json.dumps(results, indent=None if args.json else 2))
    return 0
