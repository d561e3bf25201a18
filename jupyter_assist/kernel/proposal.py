"""One request to a streaming route whose answer is code to review (generate, edit, fix)."""

from __future__ import annotations

import difflib
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Stream = Callable[[str, dict[str, Any]], Iterator[dict[str, Any]]]
REGENERATE_TEMPERATURE = 0.7  # as the lab's Regenerate (labextension/src/review/regenerate.ts)


@dataclass
class Job:
    route: str  # "generate" | "edit" | "fix"
    body: dict[str, Any]  # without request_id: each run gets a fresh one
    target: str = ""  # the source the proposal replaces; "" for new code
    result_key: str = "text"  # done event field holding the code ("code" for generate)
    accept_label: str = "Accept: insert as a new cell below"
    request_ids: list[str] = field(default_factory=list)

    def request(self, sampled: bool = False) -> dict[str, Any]:
        """The body for one run; `sampled` (Regenerate): temperature > 0 (the user's own
        if they set one) and a fresh seed, so it gives another text than greedy did."""
        rid = f"kernel-{uuid.uuid4().hex}"
        self.request_ids.append(rid)
        body = {"request_id": rid, **self.body}
        if sampled:
            body["temperature"] = body.get("temperature") or REGENERATE_TEMPERATURE
            body["seed"] = secrets.randbelow(2**63)
        return body


def run_job(job: Job, stream: Stream, on_delta: Callable[[str], None], sampled: bool = False) -> str:
    """Stream the job's route; returns the code of the done event."""
    for ev in stream(job.route, job.request(sampled)):
        if ev["type"] == "delta":
            on_delta(ev["text"])
        elif ev["type"] == "done":
            return str(ev.get(job.result_key) or "")
    return ""


def unified_diff(target: str, code: str) -> str:
    lines = difflib.unified_diff(target.splitlines(keepends=True), code.splitlines(keepends=True), "target", "proposal", lineterm="")
    return "".join(ln if ln.endswith("\n") else ln + "\n" for ln in lines)
