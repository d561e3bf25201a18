"""Find the Jupyter server this kernel runs under and call the assistant's API.

Standard library only: this runs inside users' kernels, which must not pay for torch or the
server's imports. Discovery order: JUPYTER_ASSIST_URL (+ JUPYTER_ASSIST_TOKEN), then the
running server whose pid is the kernel's JPY_PARENT_PID, then the only running server.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ServerNotFound(RuntimeError):
    pass


class AssistError(RuntimeError):
    pass


@dataclass
class ServerInfo:
    url: str  # ends with '/'
    token: str

    def endpoint(self, name: str) -> str:
        return f"{self.url}jupyter-assist/{name}"


def _runtime_dir() -> Path:
    from jupyter_core.paths import jupyter_runtime_dir

    return Path(jupyter_runtime_dir())


def _running_servers() -> list[dict[str, Any]]:
    found = []
    for f in sorted(_runtime_dir().glob("jpserver-*.json")):
        try:
            info = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if "url" in info and _alive(info.get("pid")):
            found.append(info)
    return found


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_server() -> ServerInfo:
    url = os.environ.get("JUPYTER_ASSIST_URL")
    if url:
        return ServerInfo(url.rstrip("/") + "/", os.environ.get("JUPYTER_ASSIST_TOKEN", ""))
    servers = _running_servers()
    parent = os.environ.get("JPY_PARENT_PID")
    chosen = [s for s in servers if parent and str(s.get("pid")) == parent] or (servers if len(servers) == 1 else [])
    if not chosen:
        why = "none is running" if not servers else f"{len(servers)} are running and none is this kernel's parent"
        raise ServerNotFound(
            f"No Jupyter server with jupyter-assist found ({why}). In a plain IPython or console "
            "session, set JUPYTER_ASSIST_URL (e.g. http://127.0.0.1:8888/) and JUPYTER_ASSIST_TOKEN."
        )
    s = chosen[0]
    return ServerInfo(s["url"].rstrip("/") + "/", s.get("token", ""))


class Client:
    def __init__(self, server: ServerInfo | None = None, timeout: float = 300.0) -> None:
        self.server = server or find_server()
        self.timeout = timeout

    def _request(self, name: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server.endpoint(name), data=data, method="GET" if data is None else "POST")
        req.add_header("Content-Type", "application/json")
        if self.server.token:
            req.add_header("Authorization", f"token {self.server.token}")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            try:
                msg = json.loads(e.read()).get("error", e.reason)
            except ValueError:
                msg = e.reason
            raise AssistError(f"{name}: HTTP {e.code}: {msg}") from None
        except urllib.error.URLError as e:
            raise ServerNotFound(f"Cannot reach the Jupyter server at {self.server.url}: {e.reason}") from None

    def get(self, name: str) -> Any:
        with self._request(name) as resp:
            return json.loads(resp.read())

    def post(self, name: str, body: dict[str, Any]) -> Any:
        with self._request(name, body) as resp:
            return json.loads(resp.read())

    def stream(self, name: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """NDJSON events of a streaming route; raises AssistError on an error event."""
        with self._request(name, body) as resp:
            for raw in resp:
                if not raw.strip():
                    continue
                ev = json.loads(raw)
                if ev.get("type") == "error":
                    raise AssistError(ev.get("message", "generation failed"))
                yield ev
                if ev.get("type") == "done":
                    return
