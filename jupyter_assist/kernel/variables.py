"""Summaries of the user namespace sent as `variables` (see wire.Variable).

Reads the namespace only: nothing is assigned into it and nothing heavy is imported; numpy
arrays and pandas objects are recognised by duck typing so the kernel pays for neither.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from typing import Any

MAX_VARS = 50
MAX_SUMMARY = 300  # characters per variable; the wire allows 4000
MAX_COLUMNS = 20
_IPYTHON_NAMES = {"In", "Out", "exit", "quit", "get_ipython"}
_SKIP_TYPES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)


def _clip(text: str, limit: int = MAX_SUMMARY) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shape(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        return "x".join(str(n) for n in shape) if shape else "scalar"
    return ""


def _sample(value: Any) -> str:
    # repr of user objects can be huge or slow: only for builtins and objects with .head()
    if isinstance(value, (int, float, complex, bool, str, bytes, list, tuple, dict, set)):
        return _clip(repr(value), 120)
    head = getattr(value, "head", None)
    if callable(head) and type(value).__module__.startswith("pandas"):
        return _clip(repr(head(3)), 200)
    return ""


def summarize(value: Any, samples: bool = False) -> tuple[str, str]:
    """(type name, summary) of one value."""
    cls = type(value)
    tname, module = cls.__name__, cls.__module__ or ""
    parts: list[str] = []
    if hasattr(value, "dtypes") and hasattr(value, "columns"):  # DataFrame-like
        dtypes = value.dtypes
        cols = [f"{c}: {dtypes[c]}" for c in list(value.columns)[:MAX_COLUMNS]]
        more = len(value.columns) - MAX_COLUMNS
        parts.append(f"{_shape(value)}; " + ", ".join(cols) + (f", ... ({more} more)" if more > 0 else ""))
    elif hasattr(value, "shape") and hasattr(value, "dtype"):  # ndarray, Series, tensors
        parts.append(f"{_shape(value)} {value.dtype}")
        name = getattr(value, "name", None)
        if module.startswith("pandas") and name is not None:
            parts.append(f"name={name!r}")
    elif isinstance(value, (str, bytes)):
        parts.append(f"len {len(value)}")
    elif isinstance(value, (list, tuple, set, frozenset, dict)):
        parts.append(f"len {len(value)}")
        if isinstance(value, dict) and value:
            parts.append("keys " + ", ".join(repr(k) for k in list(value)[:10]))
    elif isinstance(value, (int, float, complex, bool)) or value is None:
        parts.append(repr(value))  # scalars are their own summary
    if samples:
        s = _sample(value)
        if s and s not in parts:
            parts.append(f"sample: {s}")
    if not module.startswith("builtins") and module:
        tname = f"{module.split('.')[0]}.{tname}"
    return tname, _clip("; ".join(p for p in parts if p))


def summarize_namespace(
    ns: Mapping[str, Any], samples: bool = False, limit: int = MAX_VARS, hidden: Mapping[str, Any] | None = None
) -> list[dict[str, str]]:
    """Variables a user defined, newest last, at most `limit` (wire.Variable dicts).

    `hidden` is IPython's user_ns_hidden: names the shell itself put there.
    """
    out: list[dict[str, str]] = []
    hidden = hidden or {}
    for name, value in list(ns.items()):  # copy: the namespace may change under us
        if name.startswith("_") or name in _IPYTHON_NAMES or isinstance(value, _SKIP_TYPES):
            continue
        if name in hidden and hidden[name] is value:
            continue
        try:
            tname, summary = summarize(value, samples)
        except Exception:  # a user object's properties may raise: summarise it by type only
            tname, summary = type(value).__name__, ""
        out.append({"name": name[:200], "type": tname[:200], "summary": summary})
    return out[-limit:]


class JsonText:
    """Its repr is the JSON itself: a user_expressions result reaches the frontend as the
    repr (text/plain), which then parses as JSON instead of a quoted Python string."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def for_frontend() -> JsonText:
    """Summaries for the labextension, which evaluates this as a silent user expression.

    Reads the namespace of the running shell without assigning anything into it; sample
    values only when `AssistMagics.share_samples` is on (the extension must be loaded).
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return JsonText("[]")
    magics = shell.magics_manager.registry.get("AssistMagics")
    samples = bool(getattr(magics, "share_samples", False))
    return JsonText(json.dumps(summarize_namespace(shell.user_ns, samples=samples, hidden=shell.user_ns_hidden)))
