"""Namespace summaries sent as `variables`: types, shapes, columns; nothing added or imported."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any

import numpy as np

from jupyter_assist.kernel.variables import MAX_SUMMARY, summarize_namespace


class FakeFrame:
    """Duck-typed like a pandas DataFrame (pandas is not a dependency)."""

    def __init__(self, columns: dict[str, str], rows: int) -> None:
        self.columns = list(columns)
        self.dtypes = columns
        self.shape = (rows, len(columns))


class Exploding:
    @property
    def shape(self) -> Any:
        raise RuntimeError("no")


def _by_name(ns: dict[str, Any], **kw: Any) -> dict[str, dict[str, str]]:
    return {v["name"]: v for v in summarize_namespace(ns, **kw)}


def test_shapes_columns_and_lengths() -> None:
    ns = {
        "df": FakeFrame({"price": "float64", "region": "object"}, 1000),
        "arr": np.zeros((3, 4), dtype=np.int32),
        "items": [1, 2, 3],
        "cfg": {"a": 1, "b": 2},
        "n": 7,
        "name": "secret-value",
    }
    got = _by_name(ns)
    assert got["df"]["summary"] == "1000x2; price: float64, region: object"
    assert got["df"]["type"].endswith("FakeFrame")
    assert got["arr"] == {"name": "arr", "type": "numpy.ndarray", "summary": "3x4 int32"}
    assert got["items"]["summary"] == "len 3" and got["cfg"]["summary"] == "len 2; keys 'a', 'b'"
    assert got["n"]["summary"] == "7"
    assert "secret-value" not in got["name"]["summary"]  # values only when samples are enabled
    assert "secret-value" in _by_name(ns, samples=True)["name"]["summary"]


def test_skips_modules_functions_classes_private_and_ipython_names() -> None:
    ns = {
        "np": np,
        "f": lambda: 1,
        "C": FakeFrame,
        "_hidden": 1,
        "In": [""],
        "Out": {},
        "exit": object(),
        "get_ipython": print,
        "mod": types.ModuleType("m"),
        "kept": 1,
        "shell_thing": 2,
    }
    got = summarize_namespace(ns, hidden={"shell_thing": 2})
    assert [v["name"] for v in got] == ["kept"]


def test_caps_count_and_size_and_survives_bad_objects() -> None:
    ns = {f"v{i}": i for i in range(100)} | {"wide": FakeFrame({f"c{i}": "int64" for i in range(500)}, 2), "bad": Exploding()}
    got = summarize_namespace(ns, limit=5)
    assert len(got) == 5 and got[-1]["name"] == "bad"  # newest kept
    wide = _by_name(ns)["wide"]
    assert len(wide["summary"]) <= MAX_SUMMARY and "more" in wide["summary"]


def test_namespace_unchanged_and_nothing_heavy_imported() -> None:
    ns = {"arr": np.ones(2), "x": [1]}
    before = dict(ns)
    summarize_namespace(ns, samples=True)
    assert set(ns) == set(before) and all(ns[k] is before[k] for k in ns)
    code = (
        "import jupyter_assist.kernel.variables as v, sys; v.summarize_namespace({'a': [1]}); print('pandas' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
