"""A real ipykernel subprocess (jupyter_client) running %%assist against a real server.

This test plays the frontend at the Jupyter protocol level: it answers (or not) the
`jupyter_assist` comm handshake and clicks the widget's Accept button by sending the comm
message ipywidgets sends. The browser test does the same through JupyterLab.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

from jupyter_assist.kernel.client import Client, ServerInfo
from jupyter_assist.tasks.generate import extract_code

from .conftest import wait_ready
from .test_kernel import server_env  # noqa: F401  (fixture)

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60


def probe_expression() -> str:
    """The labextension's variables probe (labextension/src/kernel/variables.ts), as it sends it."""
    ts = (REPO_ROOT / "labextension" / "src" / "kernel" / "variables.ts").read_text()
    loader = re.search(r"const LOADER = `(.*?)`;", ts, re.S)
    assert loader, "LOADER not found in variables.ts"
    # The same template as the TS: JSON.stringify of the ASCII loader is json.dumps of it.
    assert "const EXPRESSION = `(lambda ns: (exec(${JSON.stringify(LOADER)}, ns), ns['load']())[1])({}).for_frontend()`;" in ts
    return f"(lambda ns: (exec({json.dumps(loader.group(1))}, ns), ns['load']())[1])({{}}).for_frontend()"


VARS_EXPR = probe_expression()


class Kernel:
    """Helpers over one async kernel client (the server the kernel talks to runs on the
    test's event loop, so waiting must not block it)."""

    def __init__(self, kc: AsyncKernelClient) -> None:
        self.kc = kc
        self.comm_opens: list[dict[str, Any]] = []  # every comm_open the kernel sent
        self.comm_msgs: list[dict[str, Any]] = []  # every comm_msg the kernel sent
        self.comm_closes: list[str] = []  # comm ids the kernel closed

    def _send(self, msg_type: str, content: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
        msg = self.kc.session.msg(msg_type, content, metadata=metadata or {})
        self.kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    async def _drain(self, msg_id: str) -> list[dict[str, Any]]:
        """iopub messages caused by `msg_id` until the kernel is idle again."""
        got = []
        while True:
            m = await self.kc.get_iopub_msg(timeout=TIMEOUT)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            got.append(m)
            kind = m["msg_type"]
            if kind == "comm_open":
                self.comm_opens.append(m)
            elif kind == "comm_msg":
                self.comm_msgs.append(m)
            elif kind == "comm_close":
                self.comm_closes.append(m["content"]["comm_id"])
            elif kind == "status" and m["content"]["execution_state"] == "idle":
                return got

    async def _reply(self, msg_id: str) -> dict[str, Any]:
        while True:
            m = await self.kc.get_shell_msg(timeout=TIMEOUT)
            if m["parent_header"].get("msg_id") == msg_id:
                return m

    async def execute(
        self, code: str, cell_id: str | None = None, silent: bool = False, user_expressions: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        content = {
            "code": code,
            "silent": silent,
            "store_history": not silent,
            "allow_stdin": False,
            "stop_on_error": True,
            "user_expressions": user_expressions or {},
        }
        msg_id = self._send("execute_request", content, {"cellId": cell_id} if cell_id else None)
        iopub = await self._drain(msg_id)
        return await self._reply(msg_id), iopub

    async def comm(self, comm_id: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._drain(self._send("comm_msg", {"comm_id": comm_id, "data": data}))

    async def open_comm(self, comm_id: str, target: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._drain(self._send("comm_open", {"comm_id": comm_id, "target_name": target, "data": data}))

    async def expression(self, expr: str) -> Any:
        reply, _ = await self.execute("", silent=True, user_expressions={"x": expr})
        result = reply["content"]["user_expressions"]["x"]
        assert result["status"] == "ok", result
        return result["data"]["text/plain"]

    def accept_button(self) -> str:
        """Comm id of the newest review widget's Accept button."""
        for m in reversed(self.comm_opens):
            state = m["content"]["data"].get("state", {})
            if state.get("_model_name") == "ButtonModel" and state.get("description", "").startswith("Accept"):
                return str(m["content"]["comm_id"])
        raise AssertionError("no Accept button was displayed")

    def accept_id(self, button: str) -> str:
        """The one-time id an Accept button shows the frontend in its DOM classes."""
        opened = next(m for m in self.comm_opens if m["content"]["comm_id"] == button)
        classes = opened["content"]["data"]["state"]["_dom_classes"]
        ids = [c.removeprefix("jp-assist-accept-") for c in classes if re.fullmatch(r"jp-assist-accept-[0-9a-f]{32}", c)]
        assert "jp-assist-accept" in classes and len(ids) == 1, classes
        return ids[0]

    async def click_accept(self, since: int | None = None) -> tuple[str, list[dict[str, Any]]]:
        """Click the newest Accept button: its one-time id, and the contents of the comm
        messages with an action the kernel sent (from comm message `since`; default: the
        click's)."""
        before = len(self.comm_msgs) if since is None else since
        button = self.accept_button()
        accept_id = self.accept_id(button)
        await self.comm(button, {"method": "custom", "content": {"event": "click"}})
        return accept_id, [m["content"] for m in self.comm_msgs[before:] if m["content"]["data"].get("action")]

    def bridge_comm(self) -> dict[str, Any]:
        opened = [m for m in self.comm_opens if m["content"]["target_name"] == "jupyter_assist"]
        assert len(opened) == 1, opened
        return opened[0]


@contextlib.asynccontextmanager
async def started_kernel(server: ServerInfo, tmp_path: Path, checkout_first: bool = True) -> AsyncIterator[Kernel]:
    """An ipykernel subprocess that finds the test server through JUPYTER_ASSIST_URL.
    (A context manager, not a fixture: pytest-jupyter runs async tests, not async fixtures.)
    `checkout_first`: this checkout on PYTHONPATH, ahead of the kernel's cwd; else the
    installed package, behind it as in a notebook server's kernel."""
    env = dict(os.environ)
    env.update(
        JUPYTER_ASSIST_URL=server.url,
        JUPYTER_ASSIST_TOKEN=server.token,
        IPYTHONDIR=str(tmp_path / "ipython"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    if checkout_first:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel(env=env, cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=TIMEOUT)
        yield Kernel(kc)
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def _ok(reply: dict[str, Any]) -> None:
    assert reply["content"]["status"] == "ok", reply["content"]


async def _last_request(server: ServerInfo) -> dict[str, Any]:
    """The server's newest history entry."""
    return dict((await asyncio.to_thread(Client(server).get, "history"))["requests"][-1])


async def _generated(server: ServerInfo) -> str:
    last = await _last_request(server)
    assert last["task"] == "generate"
    code = extract_code(last["text"])
    assert code.strip(), f"the tiny model gave no code for this prompt: {last['text']!r}"
    return code


async def _assist(k: Kernel, server: ServerInfo, cell_id: str) -> str:
    reply, _ = await k.execute("%%assist --temperature 0 write a function\n# that adds two numbers\n", cell_id)
    _ok(reply)
    return await _generated(server)


async def test_without_frontend_accept_falls_back_to_set_next_input(jp_fetch: Any, server_env: ServerInfo, tmp_path: Path) -> None:
    await wait_ready(jp_fetch)
    async with started_kernel(server_env, tmp_path) as k:
        reply, _ = await k.execute("%load_ext jupyter_assist", "c-load")
        _ok(reply)
        k.bridge_comm()  # offered, but nobody answers it
        code = await _assist(k, server_env, "c-assist")
        assert await k.expression("'torch' in __import__('sys').modules") == "False"

        await k.comm(k.accept_button(), {"method": "custom", "content": {"event": "click"}})
        assert not [m for m in k.comm_msgs if m["content"]["data"].get("action")]  # nothing sent to a frontend
        # set_next_input reaches a frontend with the reply of the next execution.
        reply, _ = await k.execute("n_runs = 1", "c-next")
        _ok(reply)
        assert reply["content"]["payload"] == [{"source": "set_next_input", "text": code, "replace": False}]
        assert reply["content"]["execution_count"] == 3  # load_ext, %%assist, this: the code never ran


async def test_ready_frontend_gets_insert_and_replace(jp_fetch: Any, server_env: ServerInfo, tmp_path: Path) -> None:
    await wait_ready(jp_fetch)
    async with started_kernel(server_env, tmp_path) as k:
        _ok((await k.execute("%load_ext jupyter_assist", "c-load"))[0])
        bridge_id = k.bridge_comm()["content"]["comm_id"]
        await k.comm(bridge_id, {"ready": True})  # what the labextension answers

        code = await _assist(k, server_env, "c-assist")
        accept_id, sent = await k.click_accept(since=0)
        ids = [accept_id]
        # The id lets the labextension check that the user clicked this very button.
        assert sent == [
            {
                "comm_id": bridge_id,
                "data": {"action": "insert", "cell_id": "c-assist", "code": code, "session": k.kc.session.session, "accept_id": ids[0]},
            }
        ]
        reply, _ = await k.execute("n_runs = 1", "c-next")
        assert reply["content"]["payload"] == []  # no set_next_input as well

        # --edit of a cell the frontend knows by id: a replace that carries the original source.
        _ok((await k.execute("subtotal = 40 + 2", "c-target"))[0])
        reply, _ = await k.execute("%assist --edit 4 --temperature 0 make it a function", "c-edit")
        _ok(reply)
        last = await _last_request(server_env)
        assert last["task"] == "edit" and "subtotal = 40 + 2" in last["prompt"]
        accept_id, sent = await k.click_accept()
        ids.append(accept_id)
        if last["text"].strip():
            assert [s["data"] for s in sent] == [
                {
                    "action": "replace",
                    "cell_id": "c-target",
                    "expected": "subtotal = 40 + 2",
                    "after": "c-edit",
                    "code": last["text"],
                    "session": k.kc.session.session,
                    "accept_id": ids[-1],
                }
            ]
        else:
            assert sent == []  # an empty proposal cannot be accepted

        # fix: the failing cell (known by its id) is the target.
        reply, _ = await k.execute("total = [1, 2][5]", "c-fails")
        assert reply["content"]["status"] == "error"
        _ok((await k.execute("%assist fix --temperature 0", "c-fix"))[0])
        last = await _last_request(server_env)
        assert last["task"] == "fix" and "IndexError" in last["prompt"]
        accept_id, sent = await k.click_accept()
        ids.append(accept_id)
        if last["text"].strip():
            assert [(d["action"], d["cell_id"], d["expected"], d["after"], d["accept_id"]) for d in (s["data"] for s in sent)] == [
                ("replace", "c-fails", "total = [1, 2][5]", "c-fix", ids[-1])
            ]
        else:
            assert sent == []
        assert len(set(ids)) == 3  # a fresh id for every widget: one click writes once
        assert await k.expression("'total' in globals()") == "False"  # nothing proposed ran


async def test_frontend_connecting_later_opens_its_own_comm(jp_fetch: Any, server_env: ServerInfo, tmp_path: Path) -> None:
    await wait_ready(jp_fetch)
    async with started_kernel(server_env, tmp_path) as k:
        _ok((await k.execute("%load_ext jupyter_assist", "c-load"))[0])
        # A reloaded page: it finds the extension's comm in comm_info and opens one to the kernel.
        msg = k.kc.session.msg("comm_info_request", {"target_name": "jupyter_assist"})
        k.kc.shell_channel.send(msg)
        info = await k._reply(msg["header"]["msg_id"])
        assert list(info["content"]["comms"].values()) == [{"target_name": "jupyter_assist"}]
        await k.open_comm("page-2-comm", "jupyter_assist", {"ready": True})

        code = await _assist(k, server_env, "c-assist")
        _, sent = await k.click_accept(since=0)
        assert [(s["comm_id"], s["data"]["code"], s["data"]["cell_id"]) for s in sent] == [("page-2-comm", code, "c-assist")]


async def test_variables_for_the_frontend_add_nothing(tmp_path: Path) -> None:
    server = ServerInfo("http://127.0.0.1:9/", "")  # not used: no request goes to a server
    async with started_kernel(server, tmp_path) as k:
        # Before %load_ext: jupyter_assist is importable, the summaries work, without samples.
        _ok((await k.execute("df_sales = [1, 2, 3]\nsecret = 'hunter2'", "c-1"))[0])
        names = await k.expression("sorted(globals())")
        got = json.loads(await k.expression(VARS_EXPR))
        assert {"name": "df_sales", "type": "list", "summary": "len 3"} in got
        assert "hunter2" not in json.dumps(got)
        assert await k.expression("sorted(globals())") == names  # nothing added
        count = await k.expression("get_ipython().execution_count")
        assert count == "2"  # silent requests don't count

        _ok((await k.execute("%load_ext jupyter_assist\n%config AssistMagics.share_samples = True", "c-2"))[0])
        got = json.loads(await k.expression(VARS_EXPR))
        assert "hunter2" in {v["name"]: v for v in got}["secret"]["summary"]  # samples only once enabled


async def test_reload_ext_closes_every_bridge_comm(tmp_path: Path) -> None:
    """The labextension holds one bridge comm and ignores other `jupyter_assist` comms while
    it is open: unloading must close them all, so the reload's handshake is the bridge."""
    server = ServerInfo("http://127.0.0.1:9/", "")  # not used: no request goes to a server
    async with started_kernel(server, tmp_path) as k:
        _ok((await k.execute("%load_ext jupyter_assist", "c-load"))[0])
        own = k.bridge_comm()["content"]["comm_id"]
        await k.comm(own, {"ready": True})
        await k.open_comm("page-2-comm", "jupyter_assist", {"ready": True})  # a reloaded page
        _ok((await k.execute("%reload_ext jupyter_assist", "c-reload"))[0])
        assert sorted(k.comm_closes) == sorted([own, "page-2-comm"])
        opened = [m["content"]["comm_id"] for m in k.comm_opens if m["content"]["target_name"] == "jupyter_assist"]
        assert len(opened) == 2 and opened[1] not in (own, "page-2-comm")  # the new handshake
        # The new bridge counts a frontend ready only once it answers the new comm.
        ready = "get_ipython().magics_manager.registry['AssistMagics'].bridge.ready()"
        assert await k.expression(ready) == "False"
        await k.comm(opened[1], {"ready": True})
        assert await k.expression(ready) == "True"


async def test_variables_probe_skips_a_jupyter_assist_in_the_notebook_folder(tmp_path: Path) -> None:
    """A `jupyter_assist` package next to the notebook (the kernel's cwd) must not run when
    the labextension reads the variables; the installed one still answers."""
    marker = tmp_path / "marker"
    fake = tmp_path / "jupyter_assist"
    (fake / "kernel").mkdir(parents=True)
    (fake / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (fake / "kernel" / "__init__.py").write_text("")
    (fake / "kernel" / "variables.py").write_text("def for_frontend():\n    return '[]'\n")
    server = ServerInfo("http://127.0.0.1:9/", "")
    async with started_kernel(server, tmp_path, checkout_first=False) as k:
        # The trap is set: a plain import would take the package in the cwd.
        origin = await k.expression("__import__('importlib.util').util.find_spec('jupyter_assist').origin")
        assert origin == repr(str(fake / "__init__.py"))
        _ok((await k.execute("df_sales = [1, 2, 3]", "c-1"))[0])
        names = await k.expression("sorted(globals())")
        answer = await k.expression(VARS_EXPR)
        assert not marker.exists()
        assert {"name": "df_sales", "type": "list", "summary": "len 3"} in json.loads(answer)
        installed = await k.expression("__import__('sys').modules['jupyter_assist'].__file__")
        assert installed.endswith("jupyter_assist/__init__.py'") and str(tmp_path) not in installed
        assert await k.expression("sorted(globals())") == names  # nothing added
        got = json.loads(await k.expression(VARS_EXPR))  # again, from the imported module
        assert {"name": "df_sales", "type": "list", "summary": "len 3"} in got and not marker.exists()
