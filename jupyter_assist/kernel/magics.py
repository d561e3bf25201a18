"""`%assist` / `%%assist` magics. Generated code is shown and offered, never executed."""

from __future__ import annotations

import sys
import uuid
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from .client import AssistError, Client, ServerNotFound

USAGE = """Usage:
  %%assist <instruction>     generate code for the instruction; the cell body adds detail
                             or code to start from. The result goes into a new cell below,
                             for you to review and run. Nothing is executed.
  %assist status             the server's model status
"""


def _history_cells(shell: Any, limit: int = 10) -> list[dict[str, Any]]:
    """Recently executed inputs as notebook context (the kernel's own history)."""
    inputs = [s for s in getattr(shell, "user_ns", {}).get("In", [])[1:] if s and s.strip()]
    return [{"cell_type": "code", "source": s} for s in inputs[-limit:]]


@magics_class
class AssistMagics(Magics):
    client_factory = Client

    def _client(self) -> Client:
        return self.client_factory()

    @line_cell_magic
    def assist(self, line: str, cell: str | None = None) -> Any:
        line = line.strip()
        try:
            if cell is None:
                return self._line(line)
            return self._generate(line, cell)
        except (ServerNotFound, AssistError) as e:
            print(f"jupyter-assist: {e}", file=sys.stderr)
            return None

    def _line(self, line: str) -> Any:
        if line == "status":
            s = self._client().get("status")
            print(f"{s['state']}: {s['model']} on {s.get('device')} ({s.get('dtype')})")
            if s.get("error"):
                print(s["error"], file=sys.stderr)
            return None
        print(USAGE)
        return None

    def _generate(self, instruction: str, body: str) -> str | None:
        if not instruction and not body.strip():
            print(USAGE)
            return None
        request = {
            "request_id": f"kernel-{uuid.uuid4().hex}",
            "instruction": instruction or body,
            "code": body if instruction else "",
            "cells": _history_cells(self.shell),
        }
        code = ""
        for ev in self._client().stream("generate", request):
            if ev["type"] == "delta":
                print(ev["text"], end="", flush=True)
            elif ev["type"] == "done":
                code = ev.get("code", "")
        print()
        if not code.strip():
            print("jupyter-assist: the model returned no code.", file=sys.stderr)
            return None
        # Offer, never run: the code lands in a new cell below for the user to review.
        self.shell.set_next_input(code, replace=False)
        return None
