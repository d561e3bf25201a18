"""A scripted model for tests: replays answers a test wrote to a JSON file through the
real engine (its queue, worker thread, cancel and events), so handlers, tasks and their
post-processing all run for real, on answers the test chose.

The answers file, reread at every request (a test may rewrite it between steps)::

    {"rules": [{"match": "make it wink", "answers": ["s = 1\\n```\\n", "s = 2\\n```\\n"]}],
     "delay_ms": 0}

A rule may set `logprob`: the mean token log-probability its answers' `done` events report
(default 0.0, a certain model; null: unknown, as from a remote server).

A request takes the first rule whose `match` occurs in its prompt (a rule without `match`
takes any request) and gets that rule's next answer; the last one repeats. Rewriting the
file starts every rule from its first answer again. A request no rule takes gets its draft
back when it has one (edit, fix, next edit: a model that changes nothing), else nothing.

An answer streams word by word (`delay_ms` between deltas, cut short by a cancel), through
the same stop strings as a real model's text; max_tokens ends it at the last whole word
that fits. Tokens are counted with a real tokenizer (the configured model folder's, e.g.
the tiny test model's), so prompt budgets and token counts are real.

Not a product option: a test selects it with `install` (in-process servers) or
`write_config` (a `jupyter lab` subprocess, through its config dir).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..engine.decoding import Output, StopRule
from ..engine.types import Event, GenerationParams, Request
from ..prompt.model import DEFAULT_WINDOW, ModelText

Emit = Callable[[Event], None]
_WORDS = re.compile(r"\s*\S+|\s+")


def write_answers(path: Path, rules: list[dict[str, Any]], delay_ms: int = 0) -> None:
    """Write the answers file: `rules` as in the module docstring."""
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps({"rules": rules, "delay_ms": delay_ms}, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)  # atomic: the worker never reads a half-written file


class ScriptedBackend:
    """The `Backend` protocol of `jupyter_assist.engine.engine`, answering from a file."""

    def __init__(self, answers: Path, tokenizer: Any) -> None:
        self.answers = Path(answers)
        self.tokenizer = tokenizer
        # Token counts, FIM format and chat template are the real tokenizer's; no model says a window.
        self.text = ModelText.of_tokenizer(tokenizer, lambda: DEFAULT_WINDOW)
        self.info: dict[str, Any] = {"model": "scripted", "device": "scripted", "dtype": None, "quantization": None}
        self.served = 0
        self._version = ""  # hash of the file the counters below belong to
        self._taken: dict[int, int] = {}  # rule index -> answers given (worker thread only)

    @classmethod
    def load(cls, answers: Path, tokenizer_dir: str | Path) -> ScriptedBackend:
        from transformers import AutoTokenizer

        return cls(Path(answers), AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True))

    # -- text helpers (same contract as LocalBackend) ---------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        return self.text.chat_prompt(messages)

    def warm(self, prompt: str) -> int:
        return len(self.encode(prompt))

    def stats(self) -> dict[str, Any]:
        return {"scripted_answers": self.served}

    def close(self) -> None:
        pass

    # -- answers ----------------------------------------------------------------------
    def _script(self) -> dict[str, Any]:
        try:
            raw = self.answers.read_bytes()
        except FileNotFoundError:
            raw = b"{}"
        version = hashlib.sha1(raw).hexdigest()
        if version != self._version:
            self._version, self._taken = version, {}
        try:
            script = json.loads(raw)
        except ValueError as e:
            raise ValueError(f"scripted model: {self.answers} is not valid JSON: {e}") from None
        if not isinstance(script, dict) or not isinstance(script.get("rules", []), list):
            raise ValueError(f"scripted model: {self.answers} must hold an object with a list 'rules'.")
        return script

    def answer(self, req: Request, script: dict[str, Any]) -> tuple[str, float | None]:
        """The next scripted answer for `req` (the draft or "" when no rule takes it), and
        its rule's `logprob` (the confidence its `done` reports; default 0.0, certain)."""
        for i, rule in enumerate(script.get("rules", [])):
            if rule.get("match", "") in req.prompt:
                answers = rule.get("answers") or [""]
                n = self._taken.get(i, 0)
                self._taken[i] = n + 1
                logprob = rule.get("logprob", 0.0)
                return str(answers[min(n, len(answers) - 1)]), None if logprob is None else float(logprob)
        return (req.draft if isinstance(req.draft, str) else ""), 0.0

    def generate(self, req: Request, emit: Emit) -> None:
        script = self._script()
        text, logprob = self.answer(req, script)
        delay = max(0, int(script.get("delay_ms", 0))) / 1000
        p: GenerationParams = req.params
        out = Output(
            lambda ids: "", StopRule(max_tokens=p.max_tokens, stop_strings=p.stop), (), False, lambda delta: emit(Event("delta", text=delta))
        )
        finish = "eos"  # the answer ran out, as a model ends on its end-of-sequence token
        for word in _WORDS.findall(text):
            if req.cancelled.is_set() or (delay and req.cancelled.wait(delay)):
                finish = "cancelled"
                break
            if len(self.encode(out.text + word)) > p.max_tokens:
                finish = "length"
                break
            if out.push_text(word):
                finish = "stop"
                break
        out.flush()
        self.served += 1
        emit(
            Event(
                "done",
                text=out.text,
                finish_reason=finish,  # type: ignore[arg-type]
                prompt_tokens=len(self.encode(req.prompt)),
                completion_tokens=len(self.encode(out.text)),
                logprob=logprob,
            )
        )


def install(answers: str | Path, tokenizer_dir: str | Path | None = None) -> Callable[[], None]:
    """Make every engine in this process load the scripted model instead of the local one
    (tokenizer: `tokenizer_dir`, else the configured model's folder). Returns the undo."""
    from ..engine.local import LocalBackend
    from ..engine.models import ModelError, ModelSpec

    original = LocalBackend.__dict__["load"]

    def load(cls: type, spec: ModelSpec, *args: Any, **kwargs: Any) -> ScriptedBackend:
        folder = tokenizer_dir or (spec.ref if spec.kind == "folder" else None)
        if folder is None:
            raise ModelError(f"scripted model: no tokenizer folder given and {spec.display!r} is not a local folder.")
        return ScriptedBackend.load(Path(answers), folder)

    LocalBackend.load = classmethod(load)  # type: ignore[method-assign, assignment]

    def undo() -> None:
        LocalBackend.load = original  # type: ignore[method-assign]

    return undo


def write_config(config_dir: Path, answers: Path, tokenizer_dir: str | Path | None = None) -> Path:
    """A `jupyter_server_config.py` in `config_dir` (a `jupyter lab`'s JUPYTER_CONFIG_DIR)
    that installs the scripted model when the server starts."""
    path = Path(config_dir) / "jupyter_server_config.py"
    path.write_text(
        "# Test only: the engine serves the scripted model (jupyter_assist.testing.scripted).\n"
        "from jupyter_assist.testing.scripted import install\n\n"
        f"install({str(answers)!r}, {None if tokenizer_dir is None else str(tokenizer_dir)!r})\n",
        encoding="utf-8",
    )
    return path
