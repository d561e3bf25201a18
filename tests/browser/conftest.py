"""Fixtures for browser tests: a real `jupyter lab` subprocess serving the tiny model, and
Debian chromium driven by Playwright (sync API).

Artifacts (server log, browser console logs, screenshots) go to `test-artifacts/` at the
repository root.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupyter_assist.testing.lab import CHROMIUM, CHROMIUM_ARGS, Lab, lab_command, lab_dirs, lab_env
from jupyter_assist.testing.processes import free_port
from jupyter_assist.testing.scripted import write_answers, write_config

from .pages import new_notebook, press_until_changed, wait_for  # noqa: F401  (press_until_changed, wait_for: for the tests)

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"


NOTEBOOK_NAME = "assist-demo.ipynb"
# The Jupyter Assist settings page's ghostText defaults (labextension/schema/settings.json).
GHOST_TEXT_SETTINGS = {"enabled": True, "requestDelay": 150, "maxTokens": 0, "disabledLanguages": [], "survivalDelay": 180}
READY_TIMEOUT_S = 90


def _write_notebook(path: Path) -> None:
    import nbformat
    from nbformat import v4

    code = v4.new_code_cell("import os\nprint(os.sep)", execution_count=1)
    code.outputs = [v4.new_output("stream", name="stdout", text="/\n")]
    nb = new_notebook([v4.new_markdown_cell("# Assist browser test\nA notebook for the ghost text."), code, v4.new_code_cell("")])
    nbformat.write(nb, str(path))


@dataclass
class LabServer(Lab):
    """testing.lab's Lab, with the test notebook, the local telemetry file and the scripted
    model's answers file (SCRIPTED_MODEL = True)."""

    notebook: str = NOTEBOOK_NAME
    telemetry_file: Path | None = None
    answers: Path | None = None

    def telemetry(self) -> list[dict[str, Any]]:
        """The local telemetry events recorded so far (the server runs with telemetry on)."""
        if self.telemetry_file is None or not self.telemetry_file.exists():
            return []
        return [json.loads(line) for line in self.telemetry_file.read_text().splitlines() if line.strip()]

    def history(self, task: str | None = None) -> list[dict[str, Any]]:
        entries = self.api("history")["requests"]
        return [e for e in entries if task is None or e["task"] == task]

    def lab_url(self, path: str | None = None) -> str:
        return self.url(path or self.notebook)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # jupyter_server shuts kernels and extensions down
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def lab_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("lab")
    dirs = lab_dirs(base, "cache")  # user settings (not an override in the venv): no news toast
    # Our inline provider (JupyterLab's own settings for it), and on the Jupyter Assist page a
    # 2 s survival check, so telemetry tests see `survived`, and ghost text off in markdown cells.
    inline = dirs["settings"] / "@jupyterlab" / "completer-extension" / "inline-completer.jupyterlab-settings"
    inline.parent.mkdir(parents=True)
    provider = {"enabled": True, "timeout": 5000, "debouncerDelay": 0}
    inline.write_text(json.dumps({"providers": {"@jupyter-assist/inline-completer": provider}}))
    assist = dirs["settings"] / "jupyter-assist" / "settings.jupyterlab-settings"
    assist.parent.mkdir(parents=True)
    assist.write_text(json.dumps({"ghostText": {**GHOST_TEXT_SETTINGS, "survivalDelay": 2, "disabledLanguages": ["markdown"]}}))
    _write_notebook(dirs["root"] / NOTEBOOK_NAME)
    # A test module with SCRIPTED_MODEL = True gets the scripted model (jupyter_assist.testing.
    # scripted), installed by a server config file; its tests write the answers (`script`).
    answers = base / "answers.json" if getattr(request.module, "SCRIPTED_MODEL", False) else None
    if answers is not None:
        write_config(dirs["config"], answers)
    # This checkout's labextension build and Python package, not whichever one the venv was
    # installed from (the first labextension found on the Jupyter path wins; the data dir
    # comes before sys.prefix).
    built = REPO_ROOT / "jupyter_assist" / "labextension"
    if not (built / "package.json").exists():
        pytest.fail(f"labextension not built at {built}: run `jlpm build:prod` in labextension/")
    (dirs["data"] / "labextensions").mkdir()
    (dirs["data"] / "labextensions" / "jupyter-assist").symlink_to(built, target_is_directory=True)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "jupyter-lab-browser.log"
    token = secrets.token_hex(16)
    port = free_port()
    env = lab_env(dirs)
    # In a venv jupyter_core searches sys.prefix before the data dir, which would serve
    # the venv's labextension (a link to another checkout) instead of this build.
    env["JUPYTER_PREFER_ENV_PATH"] = "0"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    assist = [
        f"--AssistExtension.model={tiny_model_dir}",
        "--AssistExtension.torch_threads=1",
        "--AssistExtension.completion_max_tokens=12",
        "--AssistExtension.chat_max_tokens=24",
        f"--AssistExtension.cache_dir={dirs['cache']}",
        "--AssistExtension.telemetry=True",
        f"--AssistExtension.telemetry_file={base / 'telemetry.jsonl'}",
    ]
    # A test module may set LAB_ARGS (e.g. a larger chat budget): later options win.
    cmd = lab_command(port, token, dirs["root"], [*assist, *getattr(request.module, "LAB_ARGS", ())])
    log = open(log_path, "wb")  # noqa: SIM115  (JupyterLab writes to it until the fixture stops it)
    proc = subprocess.Popen(
        cmd,
        cwd=dirs["root"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = LabServer(f"http://127.0.0.1:{port}/", token, dirs["root"], log_path, proc, NOTEBOOK_NAME, base / "telemetry.jsonl", answers)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        status: Any = None
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                status = server.api("status", timeout=5)
            except (urllib.error.URLError, ConnectionError, OSError):
                status = None
            if status and status["state"] == "ready":
                break
            if status and status["state"] == "error":
                pytest.fail(f"model failed to load: {status}\n{server.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab not ready after {READY_TIMEOUT_S} s (status {status}):\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


# pytest-jupyter (loaded by tests/conftest.py) has two autouse fixtures that these tests
# don't need (their server is a subprocess): its loop fixture would adopt Playwright's
# sync-API loop, which looks "running" while a test runs, and fail to close it.
@pytest.fixture
def jp_asyncio_loop() -> None:
    return None


@pytest.fixture
def jp_server_cleanup() -> None:
    return None


@pytest.fixture
def script(lab_server: LabServer) -> Any:
    """`script(rules, delay_ms=0)` writes the scripted model's answers for the next requests
    (see jupyter_assist.testing.scripted); the test module sets SCRIPTED_MODEL = True."""
    answers = lab_server.answers
    if answers is None:
        pytest.fail("this lab serves the tiny model: set SCRIPTED_MODEL = True in the test module")
    return lambda rules, delay_ms=0: write_answers(answers, rules, delay_ms)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


KERNEL_IDLE_JS = """() => {
  const ctx = window.jupyterapp?.shell.currentWidget?.sessionContext;
  const kernel = ctx?.session?.kernel;
  return !!ctx && ctx.isReady && !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""


def wait_kernel_idle(page: Any, timeout_s: float = 240) -> None:
    """Wait until the current notebook's kernel is started, connected and idle: on a loaded box
    a kernel can take minutes to start, and a cell run before that waits in the queue, so tests
    bound the wait on the kernel's own state, not on a fixed time for the first cell."""
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000, polling=200)


def shot(page: Any, name: str) -> None:
    """A screenshot under test-artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@pytest.fixture(scope="module")
def browser_context(browser: Any) -> Iterator[Any]:
    """One context per module: its HTTP cache keeps JupyterLab's bundles between pages."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def lab_page(browser_context: Any, lab_server: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page with JupyterLab showing the test notebook."""
    from playwright.sync_api import expect

    name = _safe_name(request.node.name)
    for stale in SCREENSHOTS.glob(f"{name}-*.png"):
        stale.unlink()
    page = browser_context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    try:
        page.goto(lab_server.lab_url(), wait_until="domcontentloaded", timeout=60_000)
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        expect(notebook).to_be_visible(timeout=60_000)
        expect(notebook.locator(".jp-Cell")).to_have_count(3, timeout=30_000)
        yield page
    finally:
        call = getattr(request.node, "rep_call", None)
        outcome = "passed" if call is not None and call.passed else "failed"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{outcome}.png"))
        except Exception as e:
            console.append(f"[screenshot failed] {e}")
        (ARTIFACTS / f"browser-console-{name}.log").write_text("\n".join(console) + "\n")
        page.close()
