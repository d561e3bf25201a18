"""Scores of one completion against its target, and the figures over many (pure)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

try:  # a well-kept C implementation where installed; the DP below otherwise
    from rapidfuzz.distance import Levenshtein as _rf
except ImportError:  # pragma: no cover - depends on the environment
    _rf = None


def first_line(answer: str) -> str:
    return answer.split("\n", 1)[0]


def levenshtein(a: str, b: str) -> int:
    if _rf is not None:
        return int(_rf.distance(a, b))
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def edit_similarity(answer: str, target: str) -> float:
    """1 - Levenshtein / longer length, both whitespace-stripped (two empties: 1)."""
    a, b = answer.strip(), target.strip()
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


def exact_match(answer: str, target: str) -> bool:
    return answer.strip() == target.strip()


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), as numpy's default."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(rows: Iterable[dict[str, float]]) -> dict[str, float | int]:
    """Figures over rows with `exact`, `similarity`, `ms`, `first_ms`, `prompt_tokens`."""
    rows = list(rows)
    if not rows:
        return {"cases": 0}
    ms = [r["ms"] for r in rows]
    return {
        "cases": len(rows),
        "exact_match": round(statistics.fmean(r["exact"] for r in rows), 3),
        "edit_similarity": round(statistics.fmean(r["similarity"] for r in rows), 3),
        "latency_p50_ms": round(percentile(ms, 50), 1),
        "latency_p95_ms": round(percentile(ms, 95), 1),
        "first_event_p50_ms": round(percentile([r["first_ms"] for r in rows], 50), 1),
        "prompt_tokens": round(statistics.fmean(r["prompt_tokens"] for r in rows), 1),
    }


def paired(ours: Sequence[dict[str, float]], base: Sequence[dict[str, float]]) -> dict[str, dict[str, int]]:
    """Wins and losses of `ours` against `base`, case by case (same order)."""
    em = {"wins": 0, "losses": 0}
    sim = {"wins": 0, "losses": 0}
    for a, b in zip(ours, base, strict=True):
        em["wins"] += int(a["exact"] > b["exact"])
        em["losses"] += int(a["exact"] < b["exact"])
        sim["wins"] += int(a["similarity"] > b["similarity"] + 1e-9)
        sim["losses"] += int(a["similarity"] < b["similarity"] - 1e-9)
    return {"exact_match": em, "edit_similarity": sim}
