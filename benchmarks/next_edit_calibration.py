"""Next edit's confidence threshold (`next_edit_min_logprob`) on a real model: how often a
model proposal is useful, by the mean token log-probability of the rewrite it came from.

Cases (pure, seeded, below) are user edits in code cells of ../shared/eval/handson-ml3,
four kinds in turn (notebooks round-robin, each shuffled with a seed of its own, so the
first N cases of a draw are the same whatever N is):
- `rename`: a top-level variable renamed where it is assigned, used again within the
  region below: the follow-up is the same rename on those lines;
- `param`: a function parameter renamed in its `def` line: the follow-up renames it in
  the body;
- `literal`: an integer literal changed (n -> n + 1) and `comment`: a comment reworded:
  neither implies any follow-up, so every proposal is noise.
Per case the real task runs (tasks.TASKS["next-edit"], as the server runs it: build ->
Engine -> finish) with the threshold at -inf, so every model proposal that passes
validation comes back, with the rewrite's mean token log-probability. A model proposal is
useful when its new lines are what the follow-up edit makes of those lines (for `literal`
and `comment`: never). `shown` counts the proposals the server sends (after renames found
by analysis win where they overlap: what the threshold decides); `all` the model's
proposals before that merge; `raw` every changed hunk of its rewrite before validation too
(how well its log-probability predicts right answers, on more of them).

Per threshold: precision (useful / proposals at or above it), recall (useful at or above
it / useful at any), and for the follow-up kinds the follow-up lines a useful proposal
covers. Greedy decoding: the figures are deterministic counts (timings are not reported).

    python -m benchmarks next_edit_calibration --json [--limit 24] [--seed 0] [--model M] [--threads 2] [--dump cases.jsonl]
    python -m benchmarks next_edit_calibration --json --merge a.jsonl b.jsonl [--seed 0]   # runs split with --offset
"""

from __future__ import annotations

import argparse
import io
import json
import keyword
import os
import random
import sys
import time
import tokenize
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._common import run_then_close, start_engine
from .quality_cases import blank_magics, load_notebooks, source_text

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

Kind = Literal["rename", "param", "literal", "comment"]
KINDS: tuple[Kind, ...] = ("rename", "param", "literal", "comment")
FOLLOW_UP: tuple[Kind, ...] = ("rename", "param")  # the kinds whose edit implies follow-ups
THRESHOLDS = (-0.1, -0.2, -0.3, -0.5, -0.8, -1.2)
NEAR = 8  # a rename's uses must reach this many lines below it (the rewritten region's reach)
MAX_CELL_LINES = 60
SUFFIXES = ("_new", "_all", "2", "_v2")  # new names: `name` + one of these


@dataclass(frozen=True)
class Case:
    notebook: str
    cell: int
    line: int  # the edited line (0-based, same in both versions)
    kind: Kind
    before: str  # the cell before the user's edit
    after: str  # after it: the cell as the request sends it
    expected: str  # after the follow-up edits the user's one implies (== after: none)

    @property
    def id(self) -> str:
        return f"{self.notebook}:{self.cell}:{self.line}:{self.kind}"


# --- cases (pure) ----------------------------------------------------------------------


def _tokens(source: str) -> list[tokenize.TokenInfo] | None:
    blanked = blank_magics(source)
    if blanked is None:
        return None
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(blanked).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    if any(t.type == tokenize.ERRORTOKEN for t in toks):
        return None
    return [t for t in toks if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)]


def _is_use(toks: Sequence[tokenize.TokenInfo], i: int) -> bool:
    """Whether NAME token i is the variable itself: not `x.name`, not a keyword argument."""
    prev = toks[i - 1].string if i else ""
    nxt = toks[i + 1].string if i + 1 < len(toks) else ""
    return prev != "." and not (prev in ("(", ",") and nxt == "=")


def _replace(lines: list[str], spots: Sequence[tuple[int, int]], old: str, new: str) -> list[str]:
    """`lines` with `old` at each (row, col) (0-based) replaced by `new`."""
    out = list(lines)
    for row, col in sorted(spots, reverse=True):  # right to left: columns stay valid
        out[row] = out[row][:col] + new + out[row][col + len(old) :]
    return out


def _renamed(name: str, rng: random.Random) -> str:
    return name + rng.choice(SUFFIXES)


def _rename_cases(source: str, toks: Sequence[tokenize.TokenInfo], rng: random.Random) -> Iterator[tuple[int, Kind, str, str]]:
    lines = source.split("\n")
    for i, t in enumerate(toks[:-1]):
        if t.type != tokenize.NAME or t.start[1] != 0 or toks[i + 1].string != "=" or keyword.iskeyword(t.string) or len(t.string) < 2:
            continue
        row = t.start[0] - 1
        uses = [
            (u.start[0] - 1, u.start[1])
            for j, u in enumerate(toks)
            if u.type == tokenize.NAME and u.string == t.string and u.start[0] - 1 > row and _is_use(toks, j)
        ]
        if not any(r <= row + NEAR for r, _ in uses):
            continue
        new = _renamed(t.string, rng)
        if new in source:
            continue
        after = _replace(lines, [(row, 0)], t.string, new)
        yield row, "rename", "\n".join(after), "\n".join(_replace(after, uses, t.string, new))


def _param_cases(source: str, toks: Sequence[tokenize.TokenInfo], rng: random.Random) -> Iterator[tuple[int, Kind, str, str]]:
    lines = source.split("\n")
    for i, t in enumerate(toks):
        if t.string != "def" or i + 2 >= len(toks) or toks[i + 2].string != "(":
            continue
        row, indent = t.start[0] - 1, t.start[1]
        if not lines[row].rstrip().endswith(":"):  # a one-line signature only
            continue
        body_end = row + 1
        while body_end < len(lines) and (not lines[body_end].strip() or len(lines[body_end]) - len(lines[body_end].lstrip()) > indent):
            body_end += 1
        params = [
            p
            for j, p in enumerate(toks[i + 3 :], i + 3)
            if p.start[0] - 1 == row and p.type == tokenize.NAME and toks[j - 1].string in ("(", ",", "*", "**") and p.string not in ("self", "cls")
        ]
        for p in params:
            uses = [
                (u.start[0] - 1, u.start[1])
                for j, u in enumerate(toks)
                if u.type == tokenize.NAME and u.string == p.string and row < u.start[0] - 1 < body_end and _is_use(toks, j)
            ]
            if not any(r <= row + NEAR for r, _ in uses):
                continue
            new = _renamed(p.string, rng)
            if new in source:
                continue
            after = _replace(lines, [(row, p.start[1])], p.string, new)
            yield row, "param", "\n".join(after), "\n".join(_replace(after, uses, p.string, new))


def _literal_cases(source: str, toks: Sequence[tokenize.TokenInfo]) -> Iterator[tuple[int, Kind, str, str]]:
    lines = source.split("\n")
    for t in toks:
        if t.type == tokenize.NUMBER and t.string.isdigit() and not (len(t.string) > 1 and t.string[0] == "0"):
            new = str(int(t.string) + 1)
            after = "\n".join(_replace(lines, [(t.start[0] - 1, t.start[1])], t.string, new))
            yield t.start[0] - 1, "literal", after, after


def _comment_cases(source: str, toks: Sequence[tokenize.TokenInfo]) -> Iterator[tuple[int, Kind, str, str]]:
    lines = source.split("\n")
    for t in toks:
        text = t.string.lstrip("#").strip()
        if t.type == tokenize.COMMENT and len(text.split()) >= 2 and not text.lower().startswith(("note:", "extra code")):
            row = t.start[0] - 1
            after = list(lines)
            after[row] = lines[row][: t.start[1]] + "# note: " + text
            yield row, "comment", "\n".join(after), "\n".join(after)


def cell_cases(source: str, rng: random.Random) -> list[tuple[int, Kind, str, str]]:
    """Every (line, kind, after, expected) edit of one code cell's source."""
    toks = _tokens(source)
    if toks is None or source.count("\n") >= MAX_CELL_LINES:
        return []
    return [*_rename_cases(source, toks, rng), *_param_cases(source, toks, rng), *_literal_cases(source, toks), *_comment_cases(source, toks)]


def draw(notebooks: Sequence[tuple[str, Sequence[dict[str, Any]]]], n: int, seed: int) -> list[Case]:
    """`n` cases: notebooks in turn (those with every kind), the kind cycling along each
    round and from one round to the next, so kinds stay balanced."""
    pools = []
    for name, cells in notebooks:
        rng = random.Random(f"{seed}:{name}")
        pool: dict[Kind, list[Case]] = {k: [] for k in KINDS}
        for ci, cell in enumerate(cells):
            if cell.get("cell_type") == "code":
                src = source_text(cell)
                for line, kind, after, expected in cell_cases(src, rng):
                    pool[kind].append(Case(name, ci, line, kind, src, after, expected))
        for cases in pool.values():
            rng.shuffle(cases)
        if all(pool.values()):
            pools.append(pool)
    out: list[Case] = []
    rnd = 0
    while len(out) < n and any(any(p.values()) for p in pools):
        for j, pool in enumerate(pools):
            kind = KINDS[(j + rnd) % len(KINDS)]
            if pool[kind] and len(out) < n:
                out.append(pool[kind].pop())
        rnd += 1
    return out


def request_body(cells: Sequence[dict[str, Any]], case: Case, rid: str) -> dict[str, Any]:
    """The next-edit request the frontend sends after the edit: the notebook as saved
    (outputs kept), the edited cell as typed."""
    wire = []
    for i, cell in enumerate(cells):
        kind = cell.get("cell_type", "code")
        wire.append(
            {
                "cell_type": kind,
                "source": case.after if i == case.cell else source_text(cell),
                "outputs": list(cell.get("outputs", [])) if kind == "code" else [],
                "execution_count": cell.get("execution_count"),
            }
        )
    return {
        "request_id": rid,
        "cells": wire,
        "cell_index": case.cell,
        "edits": [{"cell_index": case.cell, "before": case.before, "after": case.after}],
    }


# --- scoring (pure) --------------------------------------------------------------------


def useful(p: dict[str, Any], case: Case) -> bool:
    """Whether proposal `p` (as sent) changes its lines into what the follow-up makes of
    them: same cell, one line for one, each as expected (none for the no-follow-up kinds)."""
    if case.expected == case.after or p["cell_index"] != case.cell:
        return False
    expected, start, end = case.expected.split("\n"), p["start_line"], p["end_line"]
    return end - start == len(p["new"]) and p["new"] != p["old"] and expected[start:end] == list(p["new"])


def follow_up_lines(case: Case) -> set[int]:
    """The lines the follow-up edit changes (its renames below the edited line)."""
    a, e = case.after.split("\n"), case.expected.split("\n")
    return {i for i, (x, y) in enumerate(zip(a, e)) if x != y}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def table(rows: Sequence[dict[str, Any]], lines_total: int) -> list[dict[str, Any]]:
    """Precision and recall of useful proposals at each threshold. `rows`: one per
    proposal (logprob, useful, covers: the follow-up lines it gets right)."""
    all_useful = sum(r["useful"] for r in rows)
    out = []
    for t in THRESHOLDS:
        kept = [r for r in rows if r["logprob"] >= t]
        good = sum(r["useful"] for r in kept)
        precision, recall = _ratio(good, len(kept)), _ratio(good, all_useful)
        covered = len({(r["case"], ln) for r in kept if r["useful"] for ln in r["covers"]})
        f05 = round(1.25 * precision * recall / (0.25 * precision + recall), 3) if precision and recall else 0.0
        out.append(
            {
                "min_logprob": t,
                "proposals": len(kept),
                "useful": good,
                "precision": precision,
                "recall": recall,
                "f0.5": f05,
                "follow_up_lines_covered": _ratio(covered, lines_total),
                "cases_with_a_wrong_proposal": len({r["case"] for r in kept if not r["useful"]}),
            }
        )
    return out


def raw(case: Case, cells: Sequence[dict[str, Any]], answer: str, logprob: float | None) -> list[dict[str, Any]]:
    """Every changed hunk of the model's rewrite `answer`, before validation, scored."""
    from jupyter_assist.notebook import from_cells
    from jupyter_assist.notebook.next_edit import region
    from jupyter_assist.notebook.proposals import UserEdit, from_rewrite

    where = region(from_cells(cells).cells, UserEdit(case.cell, case.before, case.after))
    if where is None:
        return []
    hunks = from_rewrite(where.cell_index, where.start, where.lines, answer, "model")
    return [_scored(p.as_json(), case, case.kind, logprob) for p in hunks]


def figures(lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The report from the per-case dump lines."""
    fu_lines = sum(x["follow_up_lines"] for x in lines)
    out: dict[str, Any] = {}
    for view in ("shown", "all", "raw"):
        if not all(view in x for x in lines):
            continue
        rows = [{**p, "case": x["id"]} for x in lines for p in x[view]]
        out[view] = {
            "proposals": len(rows),
            "useful": sum(r["useful"] for r in rows),
            "by_kind": {
                k: {"proposals": sum(r["kind"] == k for r in rows), "useful": sum(r["useful"] for r in rows if r["kind"] == k)} for k in KINDS
            },
            "thresholds": table(rows, fu_lines),
        }
    lp = {k: sorted(x["logprob"] for x in lines if x["kind"] == k and x["logprob"] is not None) for k in KINDS}
    out["rewrite_logprob"] = {k: {"median": v[len(v) // 2], "min": v[0], "max": v[-1]} if v else None for k, v in lp.items()}
    # Renames in the edited cell only: what the follow-up is known for (other cells' are not scored).
    here = [(x["id"], p) for x in lines for p in x["renames"] if p["cell_index"] == int(x["id"].split(":")[1])]
    out["renames"] = {
        "proposals_in_the_cell": len(here),
        "useful": sum(p["useful"] for _, p in here),
        "proposals_in_other_cells": sum(len(x["renames"]) for x in lines) - len(here),
        "follow_up_lines_covered": _ratio(len({(i, ln) for i, p in here if p["useful"] for ln in p["covers"]}), fu_lines),
    }
    out["follow_up_lines"] = fu_lines
    return out


# --- running ---------------------------------------------------------------------------


def _task(body: Any, model: Any, settings: Any) -> tuple[Any, Callable[[Any], dict[str, Any]]]:
    """The engine request and `done` payload of the next-edit task, as the server builds
    them (tasks.TASKS: `build` returns a Built, or, before that refactor, the request)."""
    from jupyter_assist.tasks import TASKS

    task = TASKS["next-edit"]
    built = task.build(body, model, settings)
    if hasattr(built, "request"):
        return built.request, built.finish
    return built, lambda done: task.finish(body, done, settings)  # type: ignore[attr-defined]


def _scored(p: dict[str, Any], case: Case, kind: Kind, logprob: float | None) -> dict[str, Any]:
    good = useful(p, case)
    covers = sorted(set(range(p["start_line"], p["end_line"])) & follow_up_lines(case)) if good else []
    return {
        "kind": kind,
        "logprob": logprob,
        "useful": good,
        "covers": covers,
        "cell_index": p["cell_index"],
        "start_line": p["start_line"],
        "old": p["old"],
        "new": p["new"],
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks next_edit_calibration")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", help="model to evaluate (default: the evaluation model, set up on first use)")
    ap.add_argument("--limit", type=int, default=24, help="cases (the first N of the seed's draw)")
    ap.add_argument("--offset", type=int, default=0, help="skip the draw's first N cases (to split a run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dump", help="write one JSON line per case (answer, proposals, scores) to this file")
    ap.add_argument("--merge", nargs="+", metavar="DUMP", help="no model: the figures of earlier runs' --dump files together")
    args = ap.parse_args(argv)
    if args.merge:
        lines = [json.loads(x) for f in args.merge for x in Path(f).read_text(encoding="utf-8").splitlines() if x.strip()]
        if any("raw" not in x for x in lines):  # a dump from before the raw view: its cases drawn again
            notebooks = load_notebooks()
            by_id, cells_of = {c.id: c for c in draw(notebooks, 10**9, args.seed)}, dict(notebooks)
            for x in lines:
                case = by_id[x["id"]]
                x.setdefault("raw", raw(case, request_body(cells_of[case.notebook], case, "r")["cells"], x["answer"], x["logprob"]))
        print(json.dumps({"seed": args.seed, "cases": len(lines), **figures(lines)}, indent=None if args.json else 2))
        return 0

    from . import eval_model

    if args.model is None:
        try:
            args.model = str(eval_model.setup())
        except eval_model.SetupError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    import dataclasses

    from jupyter_assist.tasks import next_edit
    from jupyter_assist.tasks.spec import TaskSettings
    from jupyter_assist.wire import NextEditRequest

    notebooks = load_notebooks()
    by_name = dict(notebooks)
    cases = draw(notebooks, args.offset + args.limit, args.seed)[args.offset :]
    # Every model proposal comes back (the threshold is applied here, per row); the rest as served.
    settings = dataclasses.replace(TaskSettings(), next_edit_min_logprob=float("-inf"))
    model_proposals = getattr(next_edit, "model_proposals", None)  # the pre-merge view, where the task module has it
    t_start = time.perf_counter()
    engine = start_engine(args.model, args.threads)
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115 (closed in finally)
    lines: list[dict[str, Any]] = []

    async def one(i: int, case: Case) -> None:
        body = NextEditRequest.model_validate(request_body(by_name[case.notebook], case, f"ne{i}"))
        req, finish = _task(body, engine.require_ready().text, settings)
        done = None
        async for ev in engine.stream(req):
            if ev.kind == "error":
                raise RuntimeError(f"{case.id}: {ev.message}")
            if ev.kind == "done":
                done = ev
        assert done is not None
        sent = finish(done)
        model = [p for p in sent["proposals"] if p["reason"] == "model"]
        # What the threshold judges: the mean over the tokens the rewrite changed (the
        # whole answer's mean where the backend gives no per-token figures).
        score = sent.get("change_logprob", done.logprob)
        line: dict[str, Any] = {
            "id": case.id,
            "kind": case.kind,
            "logprob": score,
            "answer_logprob": done.logprob,
            "finish_reason": done.finish_reason,
            "completion_tokens": done.completion_tokens,
            "follow_up_lines": len(follow_up_lines(case)),
            "answer": done.text,
            "shown": [_scored(p, case, case.kind, score) for p in model],
            "renames": [_scored(p, case, case.kind, score) for p in sent["proposals"] if p["reason"] != "model"],
        }
        line["raw"] = raw(case, body.model_dump()["cells"], done.text, score)
        if model_proposals is not None:
            line["all"] = [_scored(p.as_json(), case, case.kind, score) for p in model_proposals(body, done.text)]
        lines.append(line)
        if dump:
            dump.write(json.dumps(line) + "\n")
            dump.flush()
        lp = "None" if score is None else f"{score:.3f}"
        marks = " ".join("+" if p["useful"] else "-" for p in line["shown"])
        print(f"[{i + 1}/{args.offset + len(cases)}] {case.id} logprob={lp} shown={marks or '0'} renames={len(line['renames'])}", file=sys.stderr)

    async def all_cases() -> None:
        for i, case in enumerate(cases, args.offset):
            await one(i, case)

    run_then_close(engine, all_cases, dump)
    result = {
        "model": engine.status.model,
        "device": engine.status.device,
        "dtype": engine.status.dtype,
        "threads": args.threads,
        "seed": args.seed,
        "offset": args.offset,
        "cases": len(cases),
        "notebooks": len({c.notebook for c in cases}),
        "kinds": {k: sum(c.kind == k for c in cases) for k in KINDS},
        "current_default": TaskSettings().next_edit_min_logprob,
        **figures(lines),
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    print(json.dumps(result, indent=None if args.json else 2))
    return 0
