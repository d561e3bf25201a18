"""A real `jupyter lab` subprocess on 127.0.0.1 with its own config/data/runtime dirs, for
benchmarks and browser tests; plus Debian chromium's launch settings for Playwright."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .processes import free_port, stop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


@dataclass
class Lab:
    base_url: str  # "http://127.0.0.1:PORT/"
    token: str
    root_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    def api(self, route: str, body: Any = None, timeout: float = 30) -> Any:
        """GET (or POST `body` to) `jupyter-assist/<route>` with the token; decoded JSON."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}jupyter-assist/{route}",
            data=data,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def url(self, path: str) -> str:
        return f"{self.base_url}lab/tree/{path}?token={self.token}"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            stop(self.proc, grace=20)


def lab_dirs(base: Path, *extra: str) -> dict[str, Path]:
    """The lab's own folders under `base` (root, config, data, runtime, settings,
    workspaces, ipython, and `extra`), created, with user settings that keep JupyterLab's
    news and update-check toast away."""
    dirs = {n: base / n for n in ("root", "config", "data", "runtime", "settings", "workspaces", "ipython", *extra)}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    quiet = dirs["settings"] / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    quiet.parent.mkdir(parents=True, exist_ok=True)
    quiet.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return dirs


def lab_env(dirs: dict[str, Path]) -> dict[str, str]:
    """This environment, with Jupyter's and IPython's paths in `dirs` (lab_dirs)."""
    return {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),  # sys.prefix/share/jupyter is still searched
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        "OMP_WAIT_POLICY": "PASSIVE",
        "PYTHONUNBUFFERED": "1",
    }


def lab_command(port: int, token: str, root: Path, args: list[str]) -> list[str]:
    """`jupyter lab` on 127.0.0.1:`port` with `token`, serving `root`, its app exposed as
    `window.jupyterapp` (to read a cell's source from its model, not the DOM), then `args`
    (later options win)."""
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        f"--notebook-dir={root}",
        "--LabApp.expose_app_in_browser=True",
        *args,
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def start_lab(base: Path, assist_args: list[str], ready_timeout: float = 600) -> Lab:
    """Start JupyterLab serving `base/root` with `--AssistExtension.*` args; wait until the
    model is ready (raises RuntimeError with the log tail if it fails)."""
    dirs = lab_dirs(base)
    token, port = secrets.token_hex(16), free_port()
    env = lab_env(dirs)
    cmd = lab_command(port, token, dirs["root"], assist_args)
    log_path = base / "lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=dirs["root"], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}/", token, dirs["root"], log_path, proc)
    deadline = time.monotonic() + ready_timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{lab.log_tail()}")
        try:
            status = lab.api("status", timeout=5)
        except (urllib.error.URLError, ConnectionError, OSError):
            status = None
        if status and status["state"] == "ready":
            return lab
        if (status and status["state"] == "error") or time.monotonic() > deadline:
            lab.stop()
            raise RuntimeError(f"model not ready ({status}):\n{lab.log_tail()}")
        time.sleep(0.3)
