"""Engine figures on the embedded model (CPU): prefill/decode speed, KV reuse, speculative
edits, cancellation. Ratios are measured side by side in one run.

    python -m benchmarks engine --json [--model embedded] [--edits 6] [--threads 2] [--reps 2]
"""

from __future__ import annotations

import inspect
import json
import os
import random
import statistics
import textwrap
import time
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._common import engine_parser, engine_report, forward_ms, notebook_prompt, start_engine


def _cells_for_edits(n: int, rng: random.Random) -> list[str]:
    """Real Python functions of 20-80 lines from the standard library."""
    import argparse as ap
    import collections
    import json.decoder
    import textwrap as tw

    found = []
    for mod in (tw, collections, json.decoder, ap):
        for _, fn in inspect.getmembers(mod, inspect.isfunction):
            try:
                src = textwrap.dedent(inspect.getsource(fn))
            except (OSError, TypeError):
                continue
            if 20 <= src.count("\n") <= 80 and '"""' not in src:
                found.append(src)
    rng.shuffle(found)
    return found[:n]


def _edit_instruction(src: str, rng: random.Random) -> str:
    lines = [ln for ln in src.splitlines() if ln.strip() and not ln.strip().startswith(("def ", "#"))]
    picks = rng.sample(lines, k=min(len(lines), rng.randint(1, 3)))
    return "Apply these changes:\n" + "\n".join(f"- change `{ln.strip()}` to `{ln.strip()}  # checked`" for ln in picks)


def _verify_costs(backend: Any, prompt_ids: list[int], fed: tuple[int, ...] = (5, 9, 17, 33)) -> dict[int, float]:
    """What a forward pass of n tokens costs after the prompt, in single decode steps: the
    price of verifying n - 1 draft or lookup tokens at once."""
    ms = forward_ms(backend, prompt_ids, (1, *fed), reps=5)
    return {n: round(t / ms[1], 2) for n, t in ms.items()}


def main(argv: list[str]) -> int:
    ap = engine_parser("engine")
    ap.add_argument("--edits", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-new", type=int, default=400, help="cap on tokens per edit")
    ap.add_argument("--reps", type=int, default=2, help="rounds of the edit arms; each arm's fastest counts")
    ap.add_argument("--spec-chunk", type=int, default=0, help="most draft tokens verified per pass (0: the default)")
    ap.add_argument("--quantization", default="auto", help="auto | nf4 | 8bit | none (CUDA only)")
    args = ap.parse_args(argv)

    import torch

    from jupyter_assist.engine import GenerationParams, LoadOptions, Request
    from jupyter_assist.tasks import TaskSettings
    from jupyter_assist.tasks import edit as edit_task
    from jupyter_assist.wire import EditRequest, WarmRequest

    opts = LoadOptions(threads=args.threads, quantization=args.quantization, dtype=args.dtype)
    opts.spec_chunk = args.spec_chunk or opts.spec_chunk
    engine = start_engine(args.model, args.threads, opts)
    backend = engine.backend
    rng = random.Random(args.seed)
    results: dict[str, Any] = {**engine_report(engine, args.threads), "spec_chunk": opts.spec_chunk}

    def run(prompt: str, max_tokens: int, draft: Any = None, stop: tuple[str, ...] = ()) -> tuple[str, float, int]:
        events: list[Any] = []
        t0 = time.perf_counter()
        backend.generate(
            Request("b", prompt, GenerationParams(max_tokens=max_tokens, stop=stop, loop_guard=False, lookup=draft is not None), draft=draft),
            events.append,
        )
        return events[-1].text, time.perf_counter() - t0, events[-1].completion_tokens

    # -- TTFT cold vs warm (KV prefix reuse) --------------------------------------------
    base = notebook_prompt(2000, backend.encode)
    results["ttft_prompt_tokens"] = len(backend.encode(base))
    cold, warm = [], []
    for k in range(3):
        backend.prefix_cache.clear()
        cold.append(run(base + f"total_{k} = summary_1", 1)[1])
        warm.append(run(base + f"total_{k} = summary_2.loc[", 1)[1])  # small edit near the end
    results["ttft_cold_ms"] = round(statistics.median(cold) * 1000, 1)
    results["ttft_warm_ms"] = round(statistics.median(warm) * 1000, 1)
    results["kv_warm_over_cold"] = round(results["ttft_warm_ms"] / results["ttft_cold_ms"], 3)
    results["prefill_tok_s"] = round(results["ttft_prompt_tokens"] / statistics.median(cold), 1)

    # -- decode speed ---------------------------------------------------------------------
    backend.prefix_cache.clear()
    _, t_short, _ = run("def fibonacci(n):", 1)
    _, t_long, n_long = run("def fibonacci(n):", 64)
    results["decode_tok_s"] = round((n_long - 1) / max(t_long - t_short, 1e-9), 1)

    # -- what a verify costs, with the engine's CPU linears and with plain nn.Linear ------------
    base_ids = backend.encode(base)
    results["verify_cost_steps"] = _verify_costs(backend, base_ids)
    if backend.device.type == "cpu":
        from transformers import AutoModelForCausalLM

        from jupyter_assist.engine.local import LocalBackend

        plain = AutoModelForCausalLM.from_pretrained(backend.model.config._name_or_path, dtype=backend.model.dtype, attn_implementation="sdpa").eval()
        results["verify_cost_steps_plain_linear"] = _verify_costs(LocalBackend(plain, backend.tokenizer, backend.info), base_ids)
        del plain

    # -- speculative edits vs greedy vs transformers' prompt lookup --------------------------
    backend.prefix_cache.max_bytes = 0  # time decoding, not prefix reuse
    plain_s = spec_s = lookup_s = plain_warm_s = spec_warm_s = 0.0
    identical = True
    per_edit = []
    spec_passes = spec_tokens = 0
    for src in _cells_for_edits(args.edits, rng):
        req = EditRequest(request_id="e", instruction=_edit_instruction(src, rng), source=src)
        r = edit_task.build(req, backend.text, TaskSettings()).request
        cap = min(r.params.max_tokens, args.max_new)
        ids = torch.tensor([backend.encode(r.prompt)], device=backend.device)
        g_text, g_n = None, 0
        times: dict[str, list[float]] = {arm: [] for arm in ("greedy", "spec", "lookup", "greedy_warm", "spec_warm")}
        # The arms take turns, `--reps` rounds, and each keeps its fastest round: this box's
        # speed drifts by a third over minutes, which one pass of each arm in a row would
        # read as a ratio.
        for _ in range(args.reps):
            backend.prefix_cache.max_bytes = 0  # cold: the whole prompt is prefilled
            for arm, draft in (("greedy", None), ("spec", src)):
                text, t, n = run(r.prompt, cap, draft, r.params.stop)
                if g_text is None:  # the first greedy answer is the reference
                    g_text, g_n = text, n
                identical &= text == g_text
                times[arm].append(t)
            t0 = time.perf_counter()
            with torch.inference_mode():
                backend.model.generate(ids, max_new_tokens=max(g_n, 1), min_new_tokens=max(g_n, 1), do_sample=False, prompt_lookup_num_tokens=20)
            times["lookup"].append(time.perf_counter() - t0)
            # The product warms a cell's context on focus: both arms again with the prompt
            # already prefilled, i.e. decoding alone.
            backend.prefix_cache.max_bytes = 1 << 30
            for arm, draft in (("greedy_warm", None), ("spec_warm", src)):
                backend.prefix_cache.clear()
                backend.warm(r.prompt)
                passes = backend.spec_stats.passes
                text, t, _ = run(r.prompt, cap, draft, r.params.stop)
                passes = backend.spec_stats.passes - passes
                identical &= text == g_text
                times[arm].append(t)
        backend.prefix_cache.max_bytes = 0
        best = {arm: min(ts) for arm, ts in times.items()}
        spec_passes += passes
        spec_tokens += g_n
        plain_s, spec_s, lookup_s = plain_s + best["greedy"], spec_s + best["spec"], lookup_s + best["lookup"]
        plain_warm_s, spec_warm_s = plain_warm_s + best["greedy_warm"], spec_warm_s + best["spec_warm"]
        per_edit.append({"lines": src.count("\n"), "tokens": g_n, **{f"{arm}_s": round(t, 2) for arm, t in best.items()}, "spec_passes": passes})
    results["spec_edit_speedup"] = round(plain_s / spec_s, 2)
    results["spec_edit_speedup_warm"] = round(plain_warm_s / spec_warm_s, 2)
    results["spec_edit_identical"] = identical
    results["spec_vs_prompt_lookup"] = round(lookup_s / spec_s, 2)
    # Greedy makes a token a pass, so this is the warm speedup speculative edits would have
    # if a verify pass cost one decode step (about what it costs on a GPU): the part of the
    # speedup the model's answers decide, apart from what a pass costs on this device.
    results["spec_edit_tokens_per_pass"] = round(spec_tokens / max(spec_passes, 1), 2)
    results["spec_acceptance"] = backend.stats()["spec_acceptance"]
    results["spec_lookup_acceptance"] = backend.stats()["spec_lookup_acceptance"]
    results["spec_edits"] = per_edit

    # -- an edit's first token, cold and after the edit warm-up (instruction input opened) ------
    backend.prefix_cache.max_bytes = 1 << 30
    ctx = [{"source": f"df_{i} = pd.read_csv('data/sales_{i}.csv')\nprint(df_{i}.head())"} for i in range(12)]
    firsts: dict[str, list[float]] = {"cold": [], "warm": []}
    for src in _cells_for_edits(args.edits, random.Random(args.seed)):
        cells = ctx + [{"source": src}]
        req = EditRequest(request_id="e", instruction=_edit_instruction(src, rng), source=src, cells=cells, cell_index=len(ctx))
        r = edit_task.build(req, backend.text, TaskSettings()).request
        for arm in firsts:
            backend.prefix_cache.clear()
            if arm == "warm":
                backend.warm(edit_task.warm(WarmRequest(cells=cells, cell_index=len(ctx), task="edit"), backend.text, TaskSettings()).prompt)
            firsts[arm].append(run(r.prompt, 1, src, r.params.stop)[1])
    results["edit_first_token_cold_ms"] = round(statistics.median(firsts["cold"]) * 1000)
    results["edit_first_token_warmed_ms"] = round(statistics.median(firsts["warm"]) * 1000)

    # -- cancellation through the real worker ------------------------------------------------
    import asyncio

    async def cancel_once() -> float:
        """Seconds from cancelling a running generation to its stream's end, while another
        request decodes beside it (with batching the other one does not wait for the
        cancel, so its start says nothing)."""
        long = Request("long", "def f():\n", GenerationParams(max_tokens=2000, loop_guard=False))
        nxt = Request("next", "x = ", GenerationParams(max_tokens=64, loop_guard=False))
        started = asyncio.Event()
        ended = 0.0

        async def consume_long() -> None:
            nonlocal ended
            async for _ev in engine.stream(long):
                started.set()
            ended = time.perf_counter()

        async def consume_next() -> None:
            async for _ev in engine.stream(nxt):
                pass

        a = asyncio.create_task(consume_long())
        await started.wait()
        await asyncio.sleep(0.3)
        b = asyncio.create_task(consume_next())
        await asyncio.sleep(0.05)
        t_cancel = time.perf_counter()
        engine.cancel("long")
        await asyncio.gather(a, b)
        return ended - t_cancel

    cancels = [asyncio.run(cancel_once()) for _ in range(3)]
    results["cancel_ms"] = round(statistics.median(cancels) * 1000, 1)
    results["decode_step_ms"] = round(1000 / results["decode_tok_s"], 1)

    # -- a completion's first event alone and while a chat streams (the worker's scheduler) --
    from .concurrency import figures as concurrency_figures

    results.update(concurrency_figures(engine))

    # -- decode throughput at 1, 2 and 4 sequences at once (batched decode) ----------------
    from .batch import figures as batch_figures

    results.update(batch_figures(engine))
    engine.shutdown()
    from .remote import remote_concurrent_speedup  # a real `transformers serve --continuous-batching`

    results.update(remote_concurrent_speedup(args.model, args.threads, reps=1))
    print(json.dumps(results, indent=None if args.json else 2))
    return 0
