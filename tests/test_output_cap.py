"""The labextension's output capper (labextension/src/shared/outputCap.ts), run under node against
the server's own output code: what it sends gives the server the text it would have got
from the whole output, prompts included; its cuts never split a surrogate pair; and no
output, however big, makes a request big.

The module is compiled from its TypeScript source with the labextension's own tsc, so the
test checks the source as it is, built or not.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jupyter_assist.notebook import Budgets, Fit, chat_prompt, completion_prompt, fix_prompt, from_cells, from_ipynb, split_cursor
from jupyter_assist.notebook.outputs import RAW_CAP, error_text, output_text, outputs_text
from jupyter_assist.prompt import cl100k

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "labextension"
# node_modules of the workspace root (package.json), or of labextension/ where yarn left one
TSC = next(
    (p for p in (REPO / "node_modules" / ".bin" / "tsc", LAB / "node_modules" / ".bin" / "tsc") if p.exists()), REPO / "node_modules" / ".bin" / "tsc"
)
GOLDEN = REPO / "tests" / "golden" / "notebooks"
TOTAL = 400_000  # OUTPUT_LIMITS.total in outputCap.ts
TRACEBACK = 60_000  # OUTPUT_LIMITS.traceback

RUNNER = """
import * as cap from './outputCap.js';
import * as readline from 'node:readline';
const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const req = JSON.parse(line);
  let result;
  if (req.op === 'output') result = cap.capOutput(req.output);
  else if (req.op === 'cells') { cap.capCellOutputs(req.cells, req.current); result = req.cells; }
  else if (req.op === 'limits') result = cap.OUTPUT_LIMITS;
  process.stdout.write(JSON.stringify(result) + '\\n');
}
"""


class Capper:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def _ask(self, request: dict[str, Any]) -> Any:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")  # ensure_ascii: astral chars travel as pairs
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the node capper exited"
        return json.loads(line)

    def output(self, output: dict[str, Any]) -> dict[str, Any]:
        return self._ask({"op": "output", "output": output})

    def cells(self, cells: list[dict[str, Any]], current: int | None) -> list[dict[str, Any]]:
        return self._ask({"op": "cells", "cells": cells, "current": current})

    def limits(self) -> dict[str, int]:
        return self._ask({"op": "limits"})


@pytest.fixture(scope="module")
def capper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capper]:
    node = shutil.which("node")
    if node is None or not TSC.exists():
        pytest.fail("needs node and the labextension's node_modules (jlpm install at the repository root)")
    out = tmp_path_factory.mktemp("outputcap")
    subprocess.run(
        [
            str(TSC),
            str(LAB / "src" / "shared" / "outputCap.ts"),
            "--outDir",
            str(out),
            "--target",
            "es2022",
            "--module",
            "es2022",
            "--strict",
            "--skipLibCheck",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (out / "package.json").write_text('{"type": "module"}')
    (out / "run.js").write_text(RUNNER)
    proc = subprocess.Popen([node, str(out / "run.js")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=out)
    try:
        yield Capper(proc)
    finally:
        proc.kill()
        proc.wait()


def test_mirrored_limits(capper: Capper) -> None:
    limits = capper.limits()
    assert limits["rawCap"] == RAW_CAP  # the server's number, mirrored
    assert (limits["total"], limits["traceback"]) == (TOTAL, TRACEBACK)


# Pieces that make texts hard: astral characters (two UTF-16 units), combining marks, CRLF,
# progress-bar carriage returns, ANSI colours, control characters.
PIECES = ["a", "x = 1\n", "😀", "𝔘", "e\u0301", "\r\n", "10%\r20%\r", "\x1b[31mred\x1b[0m", "\x00", "\t", "€", " "]
piece = st.sampled_from(PIECES)


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Short texts, or long ones whose length lands near the cap (2 * RAW_CAP code points)."""
    head = "".join(draw(st.lists(piece, max_size=8)))
    tail = "".join(draw(st.lists(piece, max_size=8)))
    if draw(st.booleans()):
        return head + tail
    unit = draw(piece)
    near = 2 * RAW_CAP // max(1, len(unit))
    n = draw(st.one_of(st.integers(0, 3 * near), st.integers(max(0, near - 3), near + 3)))
    return head + unit * n + tail


multiline = st.one_of(texts(), st.lists(texts(), max_size=3))  # nbformat: str or list of str
stream = st.builds(lambda t, n: {"output_type": "stream", "name": n, "text": t}, multiline, st.sampled_from(["stdout", "stderr"]))
error = st.builds(
    lambda tb, v, n: {"output_type": "error", "ename": n, "evalue": v, "traceback": tb},
    st.lists(texts(), max_size=3),
    texts(),
    st.sampled_from(["KeyError", "ValueError", "Error😀"]),
)
MIMES = ["text/plain", "text/html", "image/png", "text/markdown", "application/vnd.jupyter.widget-view+json"]
rich = st.builds(
    lambda kinds, plain, other, kind: {
        "output_type": kind,
        "metadata": {"isolated": True},
        "data": {m: (plain if m == "text/plain" else other) for m in kinds},
        **({"execution_count": 3} if kind == "execute_result" else {}),
    },
    st.lists(st.sampled_from(MIMES), unique=True, max_size=3),
    multiline,
    texts(),
    st.sampled_from(["execute_result", "display_data"]),
)
outputs = st.one_of(stream, error, rich)


def _well_formed(value: Any) -> None:
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # a lone surrogate raises here


def _units(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(outputs)
def test_the_server_reads_the_same_text_from_a_capped_output(capper: Capper, output: dict[str, Any]) -> None:
    if output["output_type"] == "error":
        traceback_json = sum(len(json.dumps(x if isinstance(x, str) else "".join(x), ensure_ascii=False)) for x in output["traceback"])
        assume(traceback_json < TRACEBACK // 2)  # within the traceback budget; over it: below
    capped = capper.output(output)
    _well_formed(capped)  # no cut inside a surrogate pair
    assert output_text(capped) == output_text(output)
    if output["output_type"] == "error":
        assert error_text(capped, max_lines=30, max_chars=4000) == error_text(output, max_lines=30, max_chars=4000)
    # Every text is at most what the server itself keeps of it.
    for value in (capped.get("text"), capped.get("evalue"), *(capped.get("data") or {}).values(), *(capped.get("traceback") or [])):
        if isinstance(value, str):
            assert len(value) <= 2 * RAW_CAP + len("\n...\n")
    assert "metadata" not in capped


def test_a_54_mb_output_is_sent_as_the_20k_the_server_keeps(capper: Capper) -> None:
    line = "step 😀 done €\n"
    text = "START\n" + line * (54_000_000 // len(line.encode())) + "END\n"
    output = {"output_type": "stream", "name": "stdout", "text": text}
    capped = capper.output(output)
    assert capped["text"].startswith("START\n") and capped["text"].endswith("END\n")
    assert len(capped["text"]) == 2 * RAW_CAP + len("\n...\n")
    assert output_text(capped) == output_text(output)
    _well_formed(capped)


def test_a_huge_traceback_keeps_its_head_and_tail_within_the_budget(capper: Capper) -> None:
    frames = [f"File frame_{i}.py, line {i}\n" + "😀" * 3000 for i in range(200)]
    output = {"output_type": "error", "ename": "RecursionError", "evalue": "too deep", "traceback": frames}
    capped = capper.output(output)
    tb = capped["traceback"]
    assert sum(len(json.dumps(x, ensure_ascii=False)) + 1 for x in tb if "omitted" not in x) <= TRACEBACK
    assert tb[0] == frames[0] and tb[-1] == frames[-1]
    assert any("traceback entries omitted" in x for x in tb)
    _well_formed(capped)
    assert error_text(capped).endswith("RecursionError: too deep")


def _cell(source: str, outs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "outputs": outs, "execution_count": None}


def test_total_budget_is_spent_on_the_cells_nearest_the_current_one(capper: Capper) -> None:
    big = lambda i: {"output_type": "stream", "name": "stdout", "text": f"cell {i}\n" + "z" * 60_000}  # noqa: E731
    cells = [_cell(f"print({i})", [big(i)]) for i in range(60)]
    current = 40
    capped = capper.cells(cells, current)
    sizes = [sum(len(json.dumps(o, ensure_ascii=False)) + 1 for o in c["outputs"]) for c in capped]
    assert sum(sizes) <= TOTAL
    kept = [i for i, c in enumerate(capped) if c["outputs"]]
    assert current in kept and len(kept) >= 15
    # Those kept are the nearest: every kept cell is at least as near as every dropped one.
    dropped = [i for i in range(60) if i not in kept]
    assert max(abs(i - current) for i in kept) <= min(abs(i - current) for i in dropped)
    for i in kept:
        assert outputs_text(capped[i]["outputs"]) == outputs_text(cells[i]["outputs"])
    assert [c["source"] for c in capped] == [c["source"] for c in cells]


def _wire_cells(path: Path) -> list[dict[str, Any]]:
    book = from_ipynb(path.read_bytes())
    return [
        {"cell_type": c.kind, "source": c.source, "outputs": [dict(o) for o in c.outputs], "execution_count": c.execution_count} for c in book.cells
    ]


def _prompts(cells: list[dict[str, Any]], index: int) -> list[str]:
    book = from_cells(cells)
    tok = cl100k()
    template = lambda msgs: "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in msgs)  # noqa: E731
    source = book.cells[index].source
    prefix, suffix = split_cursor(source, 0, 0)
    ask = [{"role": "user", "content": "What is wrong here?"}]
    out = [completion_prompt(book.cells, index, prefix, suffix, tok, None, Budgets.split(budget)).text for budget in (300, 1200, 6000)]
    out += [chat_prompt(book.cells, index, ask, Fit(tok, template, budget, 64)).text for budget in (400, 1200, 8000)]
    if any(o.get("output_type") == "error" for o in cells[index]["outputs"]):
        out.append(fix_prompt(book.cells, index, Fit(tok, template, 2000, 64)).text)
    return out


@pytest.mark.parametrize("name", sorted(p.stem for p in GOLDEN.glob("*.ipynb")))
def test_golden_notebooks_give_the_same_prompts_through_the_capper(capper: Capper, name: str) -> None:
    cells = _wire_cells(GOLDEN / f"{name}.ipynb")
    for index in range(len(cells)):
        sent = capper.cells(json.loads(json.dumps(cells)), index)
        assert _prompts(sent, index) == _prompts(cells, index), f"{name} cell {index}"


def test_a_huge_output_gives_the_prompt_the_whole_output_gives(capper: Capper) -> None:
    cells = _wire_cells(GOLDEN / "analysis.ipynb")
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    # Astral characters right at both cuts, a progress bar, colours: the hard cases.
    noisy = "😀" * RAW_CAP + "".join(f"\x1b[32mrow {i}\x1b[0m 𝔘\r\n" for i in range(50_000)) + "😀" * RAW_CAP
    cells[code[1]]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": noisy}]
    sent = capper.cells(json.loads(json.dumps(cells)), code[1])
    _well_formed(sent)
    assert len(json.dumps(sent, ensure_ascii=False).encode()) < 200_000  # bytes; the output alone is 1.3 MB
    for index in (code[1], code[-1]):
        assert _prompts(sent, index) == _prompts(cells, index)
