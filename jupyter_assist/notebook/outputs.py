"""Cell outputs as short, safe plain text.

Outputs are untrusted data and can be huge (a printed DataFrame, a progress bar, base64
images): they are capped before any other work, ANSI codes and control characters are
stripped, and rich data becomes a one-line placeholder.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# C0/C1 controls other than tab and newline; carriage returns are handled first.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
RAW_CAP = 10_000  # characters kept from each end of an output before any processing


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def as_text(value: Any) -> str:
    """nbformat multiline strings (str or list of str) and stray types as one str."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "".join(v if isinstance(v, str) else str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def clean(text: str) -> str:
    """Printable text: capped, ANSI and control characters removed, progress bars collapsed."""
    text = _capped(text)
    if "\x1b" in text:
        text = strip_ansi(text)
    if "\r" in text:  # progress bars redraw a line: keep what the user finally saw
        text = "\n".join(line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n"))
    return CONTROL.sub("", text)


def _capped(text: str) -> str:
    return text if len(text) <= 2 * RAW_CAP else text[:RAW_CAP] + "\n...\n" + text[-RAW_CAP:]


def plain(text: str, max_lines: int = 12, max_chars: int = 1200) -> str:
    """Printed text as shown in a prompt."""
    return _plain(_capped(text), max_lines, max_chars)


@functools.lru_cache(maxsize=1024)  # the same outputs come with every request; keys are capped
def _plain(text: str, max_lines: int, max_chars: int) -> str:
    text = clean(text)
    return "[binary output]" if looks_binary(text) else head_tail(text, max_lines, max_chars)


def looks_binary(text: str) -> bool:
    sample = text[:2000]
    return bool(sample) and (sample.count("\ufffd") + sample.count("\x00")) > len(sample) // 10


def head_tail(text: str, max_lines: int = 12, max_chars: int = 1200) -> str:
    """Keep the head and tail of long text, with a marker where the middle was cut."""
    lines = text.splitlines()
    if len(lines) > max_lines:
        keep = max(1, max_lines // 2)
        lines = lines[:keep] + [f"... {len(lines) - 2 * keep} lines omitted ..."] + lines[-keep:]
    out = "\n".join(lines)
    if len(out) > max_chars:
        half = max_chars // 2
        out = out[:half] + f" ... {len(out) - max_chars} chars omitted ... " + out[-half:]
    return out


def _placeholder(data: Mapping[str, Any]) -> str:
    kinds = sorted(str(k) for k in data)
    if any(k.startswith("image/") for k in kinds):
        return "[image]"
    if "text/html" in kinds:
        return "[HTML output]"
    if any("widget" in k for k in kinds):
        return "[widget]"
    return f"[{', '.join(kinds) or 'empty'} output]"


def error_text(output: Mapping[str, Any], max_lines: int = 16, max_chars: int = 2000) -> str:
    tb = output.get("traceback") or []
    lines = [clean(as_text(x)) for x in tb] if isinstance(tb, list) else [clean(as_text(tb))]
    head = f"{as_text(output.get('ename')) or 'Error'}: {clean(as_text(output.get('evalue')))}"
    body = "\n".join(x for x in lines if x.strip())
    if not body:
        return head
    text = head_tail(body, max_lines=max_lines, max_chars=max_chars)
    return text if text.rstrip().endswith(head.rstrip()) else text + "\n" + head


def output_text(output: Any) -> str:
    """One nbformat output as short plain text ('' for nothing worth showing)."""
    if not isinstance(output, dict):  # nbformat's NotebookNode is a dict too
        return ""
    kind = output.get("output_type")
    if kind == "stream":
        return plain(as_text(output.get("text")))
    if kind == "error":
        return error_text(output)
    data = output.get("data")
    if isinstance(data, dict):
        text = data.get("text/plain")
        rich = len(data) > (text is not None)
        if rich and (text is None or as_text(text).startswith("<")):  # '<Figure ...>' reprs
            return _placeholder(data)
        if text is not None:
            return plain(as_text(text))
        return _placeholder(data)
    return ""


def outputs_text(outputs: Any) -> str:
    if not isinstance(outputs, (list, tuple)):
        return ""
    return "\n".join(t for t in (output_text(o) for o in outputs) if t.strip())


def last_error(outputs: Any) -> Mapping[str, Any] | None:
    if not isinstance(outputs, (list, tuple)):
        return None
    errors = [o for o in outputs if isinstance(o, dict) and o.get("output_type") == "error"]
    return errors[-1] if errors else None
