"""`%assist` / `%%assist` magics. Generated code is shown and offered, never executed."""

from __future__ import annotations

import sys
import uuid
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool

from .bridge import Bridge, acceptor
from .client import AssistError, Client, ServerNotFound
from .exceptions import ExceptionRecorder
from .proposal import Job, run_job, unified_diff
from .variables import summarize_namespace

CONTEXT_CELLS = 10


def _is_assist(src: str) -> bool:
    return src.lstrip().startswith(("%assist", "%%assist"))


def _raw_history(shell: Any) -> list[str]:
    hm = getattr(shell, "history_manager", None)
    return list(getattr(hm, "input_hist_raw", None) or getattr(shell, "user_ns", {}).get("In", [""]))


def _history_cells(shell: Any, upto: int | None = None, limit: int = CONTEXT_CELLS) -> list[dict[str, Any]]:
    """Executed inputs before `upto` (an execution count) as notebook context, minus %assist cells."""
    hist = _raw_history(shell)[1:upto]
    return [{"cell_type": "code", "source": s} for s in hist if s and s.strip() and not _is_assist(s)][-limit:]


@magics_class
class AssistMagics(Magics):
    client_factory = Client
    widget_mode = "auto"  # "auto": a widget when ipywidgets and a kernel front end exist; "always"; "never"
    share_samples = Bool(
        False,
        config=True,
        help="Send sample values of variables (off: values can be private). Also read by the "
        "labextension's variable summaries. `%config AssistMagics.share_samples = True`.",
    )

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self.recorder = ExceptionRecorder()
        self.bridge = Bridge()
        self.last_widget: Any = None
        self.last_code: str | None = None  # what was last offered through set_next_input

    def _client(self) -> Client:
        return self.client_factory()

    @magic_arguments()
    @argument("--edit", metavar="CELL", help="rewrite the cell CELL (an In index like 3, or -1 for the previous cell)")
    @argument("--temperature", type=float, help="sampling temperature, sent as `temperature` (0 = greedy)")
    @argument("--max-tokens", type=int, help="cap on generated tokens (generate, edit and fix)")
    @argument("--model", help="model name, sent as `model`; the server serves one model and may ignore it")
    @argument("--samples", action="store_true", help="include sample values of variables in the context")
    @argument("words", nargs="*", help="instruction, or a command: status | fix | explain [CELL]")
    @line_cell_magic
    def assist(self, line: str, cell: str | None = None) -> Any:
        """Code assistant on the jupyter-assist server. Generated code is never executed.

        %%assist <instruction>          generate code; the cell body adds detail or code
                                        (%assist <instruction> is the same without a body).
        %assist --edit CELL <instr.>    rewrite cell CELL (In index like 3; -1 = previous cell).
        %assist fix                     propose a fix for the last exception and its cell.
        %assist explain [CELL]          explain cell CELL (default: the previous cell).
        %assist status                  the server's model status.

        Proposals appear in a review widget (Accept inserts the code as a new cell below,
        or for --edit/fix replaces the target cell if it is unchanged; Reject; Regenerate)
        or, without ipywidgets or a notebook front end, are printed and put into the next
        cell with set_next_input. Accept writes through the jupyter-assist labextension; with
        none (classic notebook, console) it uses set_next_input: the code appears below the
        next cell you run. Variables of the namespace (name, type,
        shape, DataFrame columns and dtypes) are sent as context; values only with --samples.
        Outside a Jupyter server's kernel set JUPYTER_ASSIST_URL and JUPYTER_ASSIST_TOKEN.
        """
        try:
            args = parse_argstring(self.assist, line)
        except Exception as e:  # UsageError from argparse: show it, don't raise into the cell
            print(f"jupyter-assist: {e}", file=sys.stderr)
            return None
        try:
            if cell is None:
                return self._line(args)
            return self._cell(args, cell)
        except (ServerNotFound, AssistError) as e:
            print(f"jupyter-assist: {e}", file=sys.stderr)
            return None

    # -- commands ---------------------------------------------------------------------

    def _line(self, args: Any) -> Any:
        cmd, rest = (args.words[0], args.words[1:]) if args.words else ("", [])
        if cmd == "status":
            s = self._client().get("status")
            print(f"{s['state']}: {s['model']} on {s.get('device')} ({s.get('dtype')})")
            if s.get("error"):
                print(s["error"], file=sys.stderr)
        elif cmd == "fix":
            self._fix(args)
        elif cmd == "explain":
            self._explain(args, rest[0] if rest else "-1")
        elif args.words or args.edit is not None:
            self._cell(args, "")  # `%assist <instruction>`: %%assist without a body
        else:
            print(self.assist.__doc__)
        return None

    def _cell(self, args: Any, body: str) -> None:
        instruction = " ".join(args.words)
        if args.edit is not None:
            index, source = self._cell_ref(args.edit)
            text = "\n".join(p for p in (instruction, body.strip()) if p)
            if not text:
                raise AssistError("--edit needs an instruction")
            job = Job("edit", {"instruction": text, "source": source, **self._context(args)}, target=source)
            job.accept_label = "Accept: insert the rewritten cell below"
            return self._propose(job, target_index=index)
        if not instruction and not body.strip():
            print(self.assist.__doc__)
            return None
        fields = {"instruction": instruction or body, "code": body if instruction else ""}
        return self._propose(Job("generate", {**fields, **self._context(args)}, result_key="code"))

    def _fix(self, args: Any) -> None:
        err = self.recorder.last
        if err is None:
            raise AssistError("no exception captured yet: run the failing cell after %load_ext jupyter_assist")
        ctx = self._context(args, upto=err.execution_count)
        ctx["cells"].append({"cell_type": "code", "source": err.source, "outputs": [err.as_output()]})
        job = Job("fix", {**ctx, "cell_index": len(ctx["cells"]) - 1}, target=err.source)
        job.accept_label = "Accept: insert the fixed cell below"
        self._propose(job, target_index=err.execution_count)

    def _explain(self, args: Any, ref: str) -> None:
        source = self._cell_source(ref)
        content = f"Explain what this cell does:\n```python\n{source}\n```"
        err = self.recorder.last
        if err is not None and err.source == source:
            content += f"\nIt raised:\n{err.ename}: {err.evalue}"
        ctx = self._context(args)
        ctx.pop("max_tokens", None)  # the chat route has no max_tokens
        body = {"request_id": f"kernel-{uuid.uuid4().hex}", "messages": [{"role": "user", "content": content}], **ctx}
        shown = ""
        for ev in self._client().stream("chat", body):
            if ev["type"] == "delta":
                shown += ev["text"]
                print(ev["text"], end="", flush=True)
            elif ev["type"] == "done" and ev.get("text", "").startswith(shown):
                print(ev["text"][len(shown) :], end="")  # text the server held back from deltas
        print()

    # -- helpers ----------------------------------------------------------------------

    def _cell_source(self, ref: str) -> str:
        return self._cell_ref(ref)[1]

    def _cell_ref(self, ref: str) -> tuple[int, str]:
        """(In index, raw source) of an In index (3) or of a cell relative to this one (-1 = previous)."""
        try:
            n = int(ref)
        except ValueError:
            raise AssistError(f"cell reference must be an In index like 3 or -1, not {ref!r}") from None
        hist = _raw_history(self.shell)
        i = self._current_index() + n if n < 0 else n
        if not 1 <= i < len(hist):
            raise AssistError(f"no cell {ref} in this session's history (In[1]..In[{len(hist) - 1}])")
        return i, hist[i]

    def _current_index(self) -> int:
        """In index of the running %assist cell (it is stored before it runs, when stored at all)."""
        hist = _raw_history(self.shell)
        return len(hist) - 1 if len(hist) > 1 and _is_assist(hist[-1]) else len(hist)

    def _context(self, args: Any, upto: int | None = None) -> dict[str, Any]:
        if upto is None:
            upto = self._current_index()
        shell = self.shell
        assert shell is not None, "magics run inside a shell"
        ctx: dict[str, Any] = {
            "cells": _history_cells(shell, upto),
            "variables": summarize_namespace(shell.user_ns, samples=args.samples or self.share_samples, hidden=shell.user_ns_hidden),
        }
        if args.max_tokens is not None:
            ctx["max_tokens"] = args.max_tokens
        if args.temperature is not None:
            ctx["temperature"] = args.temperature
        if args.model:
            ctx["model"] = args.model
        return ctx

    def _use_widget(self) -> bool:
        if self.widget_mode != "auto":
            return self.widget_mode == "always"
        if getattr(self.shell, "kernel", None) is None:  # plain IPython / console: no widget front end
            return False
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return False
        return True

    def _offer(self, code: str) -> None:
        # Offer, never run: the code lands in a new cell below for the user to review.
        self.last_code = code
        assert self.shell is not None, "magics run inside a shell"
        self.shell.set_next_input(code, replace=False)

    def _propose(self, job: Job, target_index: int | None = None) -> None:
        client = self._client()
        if self._use_widget():
            from IPython.display import display

            from .widget import ReviewWidget

            # Captured now: at click time the parent message is the click, not this cell.
            # Replace only where the label can say so: a frontend answered and knows the target.
            target_cell = self.bridge.cell_ids.get(target_index) if target_index is not None else None
            if not (job.target and target_cell is not None and self.bridge.ready()):
                target_cell = None
            else:
                job.accept_label = "Accept: replace the cell (if unchanged)"
            on_accept = acceptor(self.bridge, self._offer, self.bridge.current_cell_id(), job.target, target_cell)
            self.last_widget = ReviewWidget(job, client.stream, on_accept)
            display(self.last_widget)
            self.last_widget.run()
            return
        code = run_job(job, client.stream, lambda t: print(t, end="", flush=True))
        print()
        if not code.strip():
            print("jupyter-assist: the model returned no code.", file=sys.stderr)
            return
        if job.target:
            print(unified_diff(job.target, code))
        self._offer(code)
