"""%assist magics in a real IPython shell against a real server; nothing generated runs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_assist.kernel.client import Client, ServerInfo, ServerNotFound

from .conftest import wait_ready


@pytest.fixture
def shell() -> Any:
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "jupyter_assist")
    yield sh
    InteractiveShell.clear_instance()


@pytest.fixture
def server_env(jp_serverapp: Any, monkeypatch: pytest.MonkeyPatch) -> ServerInfo:
    url = jp_serverapp.connection_url
    monkeypatch.setenv("JUPYTER_ASSIST_URL", url)
    monkeypatch.setenv("JUPYTER_ASSIST_TOKEN", jp_serverapp.identity_provider.token)
    return ServerInfo(url.rstrip("/") + "/", jp_serverapp.identity_provider.token)


def test_kernel_package_does_not_import_torch() -> None:
    code = "import jupyter_assist, jupyter_assist.kernel.magics, sys; print('torch' in sys.modules, 'jupyter_server' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


async def test_cell_magic_offers_code_without_running_it(jp_fetch: Any, server_env: ServerInfo, shell: Any, capsys: Any) -> None:
    await wait_ready(jp_fetch)
    shell.user_ns["marker"] = "untouched"
    offered: list[str] = []
    shell.set_next_input = lambda text, replace=False: offered.append(text)  # ipykernel sends this to the front end
    await asyncio.to_thread(shell.run_cell_magic, "assist", "set marker to 'changed'", "marker = 'x'\n")
    out = capsys.readouterr()
    assert "jupyter-assist:" not in out.err, out.err
    hist = (await asyncio.to_thread(Client(server_env).get, "history"))["requests"]
    last = hist[-1]
    assert last["task"] == "generate" and "set marker to 'changed'" in last["prompt"]
    from jupyter_assist.tasks.generate import extract_code

    code = extract_code(last["text"])
    if code.strip():
        assert offered == [code]
    else:
        assert not offered and "returned no code" in out.err
    assert shell.user_ns["marker"] == "untouched"  # nothing was executed


async def test_status_line_magic(jp_fetch: Any, server_env: ServerInfo, shell: Any, capsys: Any) -> None:
    await wait_ready(jp_fetch)
    await asyncio.to_thread(shell.run_line_magic, "assist", "status")
    assert capsys.readouterr().out.startswith("ready: tiny-model")


def test_no_server_gives_clear_message(shell: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("JUPYTER_ASSIST_URL", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    shell.run_cell_magic("assist", "anything", "x = 1\n")
    err = capsys.readouterr().err
    assert "No Jupyter server with jupyter-assist found" in err and "JUPYTER_ASSIST_URL" in err


def test_unreachable_server(shell: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_ASSIST_URL", "http://127.0.0.1:9/")
    shell.run_line_magic("assist", "status")
    assert "Cannot reach the Jupyter server" in capsys.readouterr().err


def test_finds_parent_server_from_runtime_dir(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import os

    monkeypatch.delenv("JUPYTER_ASSIST_URL", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    for name, pid, url in [("a", os.getpid(), "http://127.0.0.1:1111/"), ("b", os.getppid(), "http://127.0.0.1:2222/lab-base/")]:
        (tmp_path / f"jpserver-{name}.json").write_text(json.dumps({"url": url, "pid": pid, "token": name}))
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getppid()))
    from jupyter_assist.kernel.client import find_server

    s = find_server()
    assert (s.url, s.token) == ("http://127.0.0.1:2222/lab-base/", "b")
    monkeypatch.setenv("JPY_PARENT_PID", "1")
    with pytest.raises(ServerNotFound, match="2 are running"):
        find_server()
