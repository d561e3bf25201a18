"""%assist fix / explain / --edit and the review widget against a real server.

The model has random weights: tests check plumbing (what was sent, what was offered against
what the server returned in GET /history), never content. Nothing generated may run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_assist.kernel.client import Client, ServerInfo

from .conftest import wait_ready
from .test_kernel import server_env, shell  # noqa: F401  (fixtures)


@pytest.fixture
def offered(shell: Any) -> list[str]:
    got: list[str] = []
    shell.set_next_input = lambda text, replace=False: got.append(text)  # ipykernel sends this to the front end
    shell.user_ns["marker"] = "untouched"
    return got


def _magics(shell: Any) -> Any:
    return shell.magics_manager.registry["AssistMagics"]


async def _last(server: ServerInfo) -> dict[str, Any]:
    return (await asyncio.to_thread(Client(server).get, "history"))["requests"][-1]


async def test_fix_sends_the_exception_and_its_cell(jp_fetch: Any, server_env: ServerInfo, shell: Any, offered: list[str], capsys: Any) -> None:
    await wait_ready(jp_fetch)
    shell.run_cell("values = [1, 2]\n", store_history=True)
    result = shell.run_cell("total = values[5]  # boom\n", store_history=True)
    assert isinstance(result.error_in_exec, IndexError)
    err = capsys.readouterr()
    assert "IndexError" in err.out + err.err  # the user still sees the normal traceback
    captured = _magics(shell).recorder.last
    assert (captured.ename, captured.source, captured.execution_count) == ("IndexError", "total = values[5]  # boom\n", 2)

    await asyncio.to_thread(shell.run_line_magic, "assist", "fix")
    assert "jupyter-assist:" not in capsys.readouterr().err
    last = await _last(server_env)
    assert last["task"] == "fix"
    assert "IndexError" in last["prompt"] and "list index out of range" in last["prompt"] and "values[5]" in last["prompt"]
    assert offered == ([last["text"]] if last["text"].strip() else [])
    assert shell.user_ns["marker"] == "untouched" and "total" not in shell.user_ns


async def test_fix_without_exception_says_so(shell: Any, capsys: Any) -> None:
    await asyncio.to_thread(shell.run_line_magic, "assist", "fix")
    assert "no exception captured" in capsys.readouterr().err


async def test_explain_prints_the_streamed_answer(jp_fetch: Any, server_env: ServerInfo, shell: Any, offered: list[str], capsys: Any) -> None:
    await wait_ready(jp_fetch)
    shell.run_cell("def square(v):\n    return v * v\n", store_history=True)
    names = set(shell.user_ns)
    await asyncio.to_thread(shell.run_line_magic, "assist", "explain")
    out = capsys.readouterr()
    assert "jupyter-assist:" not in out.err, out.err
    last = await _last(server_env)
    assert last["task"] == "chat" and "return v * v" in last["prompt"]
    # the stream shows the answer; the engine's repetition guard may trim a looped tail from done.text
    assert out.out.startswith(last["text"].rstrip("\n"))
    assert set(shell.user_ns) == names and not offered  # no names added, nothing offered


async def test_edit_rewrites_the_referenced_cell(jp_fetch: Any, server_env: ServerInfo, shell: Any, offered: list[str], capsys: Any) -> None:
    await wait_ready(jp_fetch)
    shell.run_cell("subtotal = 40 + 2\n", store_history=True)
    shell.run_cell("other = 1\n", store_history=True)
    await asyncio.to_thread(shell.run_line_magic, "assist", "--edit 1 --max-tokens 8 --temperature 0 make it a function")
    assert "jupyter-assist:" not in capsys.readouterr().err
    last = await _last(server_env)
    assert last["task"] == "edit" and "subtotal = 40 + 2" in last["prompt"] and "make it a function" in last["prompt"]
    assert offered == ([last["text"]] if last["text"].strip() else [])
    assert shell.user_ns["marker"] == "untouched"


async def test_bad_cell_ref_is_a_clear_message(shell: Any, capsys: Any) -> None:
    await asyncio.to_thread(shell.run_cell_magic, "assist", "--edit 99 do it", "\n")
    assert "no cell 99" in capsys.readouterr().err


async def test_variables_are_sent_with_requests(
    jp_fetch: Any,
    server_env: ServerInfo,
    shell: Any,
    offered: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await wait_ready(jp_fetch)
    sent: list[dict[str, Any]] = []
    stream = Client.stream
    monkeypatch.setattr(Client, "stream", lambda self, route, body: (sent.append(body), stream(self, route, body))[1])
    shell.user_ns["prices_table"] = [1.5, 2.5]
    await asyncio.to_thread(shell.run_line_magic, "assist", "--max-tokens 4 sum the prices")
    assert {"name": "prices_table", "type": "list", "summary": "len 2"} in sent[0]["variables"]
    assert sent[0]["max_tokens"] == 4
    assert "prices_table" in (await _last(server_env))["prompt"]


async def test_review_widget_accept_and_regenerate(jp_fetch: Any, server_env: ServerInfo, shell: Any, offered: list[str]) -> None:
    from jupyter_assist.tasks.generate import extract_code

    await wait_ready(jp_fetch)
    magics = _magics(shell)
    magics.widget_mode = "always"
    await asyncio.to_thread(shell.run_cell_magic, "assist", "set marker to 'changed'", "marker = 'x'\n")
    widget = magics.last_widget
    last = await _last(server_env)
    code = extract_code(last["text"])
    assert last["request_id"] == widget.job.request_ids[-1]
    assert (widget.status, widget.code) == (("ready", code) if code.strip() else ("error", ""))
    assert not offered  # nothing is written before Accept

    await asyncio.to_thread(widget.regenerate)
    last = await _last(server_env)
    code = extract_code(last["text"])
    assert len(widget.job.request_ids) == 2 and last["request_id"] == widget.job.request_ids[-1]
    assert widget.code == code
    widget.accept()
    assert offered == ([code] if code.strip() else [])
    assert shell.user_ns["marker"] == "untouched"  # nothing was executed


def test_help_documents_commands_and_options(shell: Any, capsys: Any) -> None:
    doc = shell.find_line_magic("assist").__doc__
    for word in ("fix", "explain", "--edit", "--temperature", "--max-tokens", "--model", "--samples", "never executed"):
        assert word in doc, word
    shell.run_line_magic("assist", "")
    assert "--max-tokens" in capsys.readouterr().out


def test_bad_option_is_reported_not_raised(shell: Any, capsys: Any) -> None:
    shell.run_line_magic("assist", "--max-tokens lots write code")
    assert "jupyter-assist:" in capsys.readouterr().err


async def test_readme_example_instruction_on_the_magic_line_with_empty_body(
    jp_fetch: Any,
    server_env: ServerInfo,
    shell: Any,
    offered: list[str],
    capsys: Any,
) -> None:
    # The README's `%%assist plot a histogram of df.price` with nothing below it: IPython
    # alone raises UsageError ("the cell body is empty"); it runs as `%assist <instruction>`.
    await wait_ready(jp_fetch)
    for cell in ("%%assist plot a histogram of df.price", "%%assist plot a histogram of df.price\n\n"):
        result = await asyncio.to_thread(shell.run_cell, cell)
        out = capsys.readouterr()
        assert result.error_before_exec is None and result.error_in_exec is None, (result, out.err)
        assert "jupyter-assist:" not in out.err, out.err
        last = await _last(server_env)
        assert last["task"] == "generate" and "plot a histogram of df.price" in last["prompt"]
    assert len(offered) == 2  # generated code offered below, never run
    # A real body still goes the cell-magic way; other cells are left alone.
    from jupyter_assist.kernel.transform import empty_body_as_line_magic

    assert empty_body_as_line_magic(["%%assist do x\n", "y = 1\n"]) == ["%%assist do x\n", "y = 1\n"]
    assert empty_body_as_line_magic(["%%assistant x\n"]) == ["%%assistant x\n"]
    assert empty_body_as_line_magic(["%%time\n"]) == ["%%time\n"]
