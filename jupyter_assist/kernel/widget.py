"""Review widget: streams a proposal, shows it with a diff, and offers Accept/Reject/Regenerate.

State lives on the object (`code`, `status`, `error`) so it is testable without a browser.
Model output is untrusted: everything shown goes through html.escape. Nothing is executed.

The Accept button carries a fresh random id in its DOM classes (`jp-assist-accept-<id>`): the
labextension records the ids of Accept buttons the user really clicked and writes a cell only
for a bridge message naming such an id, once (see bridge.py).
"""

from __future__ import annotations

import html
import secrets
import time
from collections.abc import Callable

import ipywidgets as w

from .client import AssistError, ServerNotFound
from .proposal import Job, Stream, run_job, unified_diff

STATUSES = ("streaming", "ready", "accepted", "rejected", "error")
ACCEPT_CLASS = "jp-assist-accept"  # the labextension's click watcher looks for it (acceptClicks.ts)
_REFRESH_S = 0.05  # cap on view updates while streaming (each is a comm message)


def _pre(text: str, style: str = "") -> str:
    return f'<pre style="white-space:pre-wrap;margin:0;{style}">{html.escape(text)}</pre>'


def _diff_html(diff: str) -> str:
    colors = {"+": "#1a7f37", "-": "#cf222e", "@": "#8250df"}
    rows = []
    for ln in diff.splitlines():
        color = colors.get(ln[:1], "inherit") if not ln.startswith(("+++", "---")) else "#57606a"
        rows.append(f'<span style="color:{color}">{html.escape(ln)}</span>')
    return '<pre style="white-space:pre-wrap;margin:0">' + "\n".join(rows) + "</pre>"


class ReviewWidget:
    def __init__(self, job: Job, stream: Stream, on_accept: Callable[[str, str], str | None]) -> None:
        """`on_accept(code, accept_id)` writes the code somewhere and may return a note saying where;
        `accept_id` is the one the Accept button shows the frontend."""
        self.job, self._stream, self._on_accept = job, stream, on_accept
        self.code = ""
        self.streamed = ""  # raw text as it arrived
        self.status = "streaming"
        self.error = ""
        self.note = ""  # what on_accept said it did
        self.accepted: list[str] = []  # what accept() handed to on_accept
        self.title = w.HTML()
        self.body = w.HTML()
        self.accept_id = secrets.token_hex(16)  # one widget accepts once: one id
        self.accept_button = w.Button(
            description=job.accept_label,
            button_style="success",
            layout=w.Layout(width="auto"),
            _dom_classes=(ACCEPT_CLASS, f"{ACCEPT_CLASS}-{self.accept_id}"),
        )
        self.reject_button = w.Button(description="Reject", layout=w.Layout(width="auto"))
        self.regenerate_button = w.Button(description="Regenerate", layout=w.Layout(width="auto"))
        self.accept_button.on_click(lambda _: self.accept())
        self.reject_button.on_click(lambda _: self.reject())
        self.regenerate_button.on_click(lambda _: self.regenerate())
        self.view = w.VBox([self.title, self.body, w.HBox([self.accept_button, self.reject_button, self.regenerate_button])])
        self._last_refresh = 0.0
        self._render()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.view)

    def run(self, sampled: bool = False) -> None:
        """Stream the job (blocking), updating the view as deltas arrive; `sampled`:
        Regenerate's run (temperature > 0, a fresh seed)."""
        self.code, self.streamed, self.error, self.status = "", "", "", "streaming"
        self._render()
        try:
            self.code = run_job(self.job, self._stream, self._delta, sampled)
            self.status = "ready" if self.code.strip() else "error"
            if not self.code.strip():
                self.error = "the model returned no code"
        except (AssistError, ServerNotFound) as e:
            self.status, self.error = "error", str(e)
        self._render()

    def _delta(self, text: str) -> None:
        self.streamed += text
        now = time.monotonic()
        if now - self._last_refresh >= _REFRESH_S:
            self._last_refresh = now
            self._render()

    def accept(self) -> None:
        if self.status != "ready":
            return
        self.note = self._on_accept(self.code, self.accept_id) or ""
        self.accepted.append(self.code)
        self.status = "accepted"
        self._render()

    def reject(self) -> None:
        if self.status in ("accepted", "streaming"):
            return
        self.code, self.status = "", "rejected"
        self._render()

    def regenerate(self) -> None:
        if self.status in ("accepted", "streaming"):
            return
        self.run(sampled=True)  # greedy would give the same text again

    def _render(self) -> None:
        route = self.job.route
        self.title.value = (
            f"<b>jupyter-assist {html.escape(route)}</b>: {html.escape(self.status)}"
            + (f" ({html.escape(self.error)})" if self.error else "")
            + (f": {html.escape(self.note)}" if self.note and self.status == "accepted" else "")
        )
        if self.status == "streaming":
            self.body.value = _pre(self.streamed, "opacity:0.7")
        elif self.status in ("ready", "accepted"):
            diff = unified_diff(self.job.target, self.code)
            self.body.value = _pre(self.code) + ("<hr>" + _diff_html(diff) if self.job.target else "")
        else:
            self.body.value = ""
        ready = self.status == "ready"
        self.accept_button.disabled = not ready
        self.reject_button.disabled = self.status not in ("ready", "error")
        self.regenerate_button.disabled = self.status in ("streaming", "accepted")
