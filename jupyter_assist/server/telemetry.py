"""Local, opt-in telemetry: one JSON line per suggestion event, appended to a file under the
Jupyter data dir. Nothing here sends anything anywhere; no code or prompt text is stored,
only event kinds, ids, counts and timings.

Events (see docs/api.md, `POST telemetry`):
  shown / accepted / rejected / survived   reported by the frontend
  served                                   written by the server when a stream finishes

`summarize` reads a file back for `jupyter assist stats`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeGuard

FRONTEND_EVENTS = ("shown", "accepted", "rejected", "survived")
EVENTS = (*FRONTEND_EVENTS, "served")

log = logging.getLogger(__name__)


def default_file() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "jupyter_assist" / "telemetry.jsonl"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Telemetry:
    """Appends events to `path`; does nothing when `path` is None (telemetry off)."""

    def __init__(self, path: Path | None, logger: logging.Logger | None = None) -> None:
        self.path = path
        self.log = logger or log
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def record(self, event: dict[str, Any]) -> bool:
        """Append one event with a UTC timestamp. False when off; OSError (logged) on failure."""
        if self.path is None:
            return False
        line = (json.dumps({"ts": _now(), **event}, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line)  # one write per line, O_APPEND: lines never interleave
                finally:
                    os.close(fd)
        except OSError as e:
            self.log.warning("jupyter-assist: could not write telemetry to %s: %s", self.path, e)
            raise
        return True

    def served(self, task: str, request_id: str, latency_ms: float, finish_reason: str | None, prompt_tokens: int, completion_tokens: int) -> None:
        """Log a finished stream; never raises (a full disk must not break serving)."""
        if self.path is None:
            return
        try:
            self.record(
                {
                    "event": "served",
                    "request_id": request_id,
                    "task": task,
                    "latency_ms": latency_ms,
                    "finish_reason": finish_reason,
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                }
            )
        except OSError:
            pass  # already logged


# ---- reading it back -------------------------------------------------------------------


def _number(v: Any) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _valid(ev: Any) -> bool:
    if not isinstance(ev, dict) or ev.get("event") not in EVENTS:
        return False
    if not isinstance(ev.get("task"), str) or not ev["task"]:
        return False
    if "latency_ms" in ev and ev["latency_ms"] is not None and not _number(ev["latency_ms"]):
        return False
    if "similarity" in ev and ev["similarity"] is not None and not _number(ev["similarity"]):
        return False
    return ev["event"] != "survived" or isinstance(ev.get("survived"), bool)


def _median(xs: list[float]) -> float | None:
    return float(statistics.median(xs)) if xs else None


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


class _Acc:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(EVENTS, 0)
        self.shown_latency: list[float] = []
        self.served_latency: list[float] = []
        self.survived_true = 0
        self.cancelled = 0
        self.similarity: list[float] = []

    def add(self, ev: dict[str, Any]) -> None:
        kind = ev["event"]
        self.counts[kind] += 1
        lat = ev.get("latency_ms")
        if kind == "shown" and _number(lat):
            self.shown_latency.append(float(lat))
        elif kind == "served" and ev.get("finish_reason") == "cancelled":
            self.cancelled += 1  # superseded requests: their latency says nothing about serving
        elif kind == "served" and _number(lat):
            self.served_latency.append(float(lat))
        if kind == "survived" and ev["survived"] is True:
            self.survived_true += 1
        if _number(ev.get("similarity")):
            self.similarity.append(float(ev["similarity"]))

    def result(self) -> dict[str, Any]:
        c = self.counts
        return {
            "shown": c["shown"],
            "accepted": c["accepted"],
            "rejected": c["rejected"],
            "served": c["served"],
            "cancelled": self.cancelled,
            "acceptance_rate": _ratio(c["accepted"], c["shown"]),
            "median_shown_latency_ms": _median(self.shown_latency),
            "median_served_latency_ms": _median(self.served_latency),
            "survival_checks": c["survived"],
            "survival_rate": _ratio(self.survived_true, c["survived"]),
            "mean_similarity": statistics.fmean(self.similarity) if self.similarity else None,
        }


def summarize_lines(lines: Iterable[str]) -> dict[str, Any]:
    """Per-task and total figures; malformed lines are skipped and counted."""
    per: dict[str, _Acc] = {}
    total = _Acc()
    events = skipped = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if not _valid(ev):
            skipped += 1
            continue
        events += 1
        per.setdefault(ev["task"], _Acc()).add(ev)
        total.add(ev)
    return {"events": events, "skipped": skipped, "tasks": {t: a.result() for t, a in sorted(per.items())}, "total": total.result()}


def summarize(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8", errors="replace") as f:
        return {"file": str(path), **summarize_lines(f)}


COLUMNS = [
    ("shown", "shown"),
    ("accepted", "accepted"),
    ("rejected", "rejected"),
    ("acceptance_rate", "accept%"),
    ("median_shown_latency_ms", "p50 shown ms"),
    ("served", "served"),
    ("median_served_latency_ms", "p50 served ms"),
    ("survival_rate", "survived%"),
    ("mean_similarity", "similarity"),
]


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if key in ("acceptance_rate", "survival_rate"):
        return f"{v * 100:.1f}"
    if isinstance(v, float):
        return f"{v:.1f}" if key.endswith("_ms") else f"{v:.2f}"
    return str(v)


def table(summary: dict[str, Any]) -> str:
    rows = [(t, r) for t, r in summary["tasks"].items()] + [("all", summary["total"])]
    width = max(len("task"), *(len(t) for t, _ in rows))
    head = [f"{'task':<{width}}"] + [f"{label:>{max(len(label), 6)}}" for _, label in COLUMNS]
    out = ["  ".join(head)]
    for name, r in rows:
        cells = [f"{name:<{width}}"] + [f"{_cell(k, r[k]):>{max(len(label), 6)}}" for k, label in COLUMNS]
        out.append("  ".join(cells))
    out.append(
        f"{summary['events']} events from {summary['file']}" + (f"; {summary['skipped']} malformed lines skipped" if summary["skipped"] else "")
    )
    return "\n".join(out)
