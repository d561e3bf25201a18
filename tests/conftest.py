from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    from jupyter_assist.testing.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def jp_server_config(tiny_model_dir: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_assist": True}},
        "AssistExtension": {
            "model": str(tiny_model_dir),
            "torch_threads": 1,
            "cache_dir": str(tmp_path / "model-cache"),
            "completion_max_tokens": 16,
            "chat_max_tokens": 24,
            "generate_max_tokens": 24,
            "max_body_bytes": 200_000,
        },
    }


async def wait_ready(jp_fetch: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await jp_fetch("jupyter-assist", "status")
        status = json.loads(r.body)
        if status["state"] in ("ready", "error") or asyncio.get_running_loop().time() > deadline:
            return status
        await asyncio.sleep(0.1)


def wait_loaded(engine: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while engine.status.state == "loading" and time.monotonic() < deadline:
        time.sleep(0.05)


@contextlib.contextmanager
def running_engine(model_dir: Path, cache_dir: Path, **opts: Any) -> Iterator[Any]:
    """A started Engine on `model_dir`, ready, shut down after. CPU, float32 and one thread
    unless `opts` say otherwise: exact equalities (batched == alone, speculative == greedy)
    hold only in float32, and dtype=auto picks bf16 on a CPU that has it."""
    from jupyter_assist.engine import Engine, LoadOptions

    opts = {"device": "cpu", "dtype": "float32", "quantization": "none", "threads": 1, **opts}
    e = Engine(str(model_dir), LoadOptions(**opts), cache_dir)
    e.start()
    wait_loaded(e, 120)
    assert e.status.state == "ready", e.status.error
    try:
        yield e
    finally:
        e.shutdown()


async def collect(engine: Any, req: Any) -> tuple[list[str], dict[str, Any]]:
    """A request's deltas and how it ended ({text, reason, n}); an error event fails."""
    deltas: list[str] = []
    done: dict[str, Any] = {}
    async for ev in engine.stream(req):
        if ev.kind == "delta":
            deltas.append(ev.text)
        elif ev.kind == "done":
            done = {"text": ev.text, "reason": ev.finish_reason, "n": ev.completion_tokens}
        else:
            raise AssertionError(ev.message)
    return deltas, done


def auto_device() -> str:
    """What device=auto serves on here: CUDA where torch sees a GPU, else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def ndjson(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


@dataclass
class Converted:
    cache_dir: Path
    folder: Path
    stages: list[str]  # progress stages reported while converting


@pytest.fixture(scope="session")
def embedded_model(tmp_path_factory: pytest.TempPathFactory) -> Converted:
    """One conversion of the embedded model per test session, shared by the slow tests."""
    from jupyter_assist.engine import models

    cache = tmp_path_factory.mktemp("embedded-cache")
    stages: list[str] = []
    folder = models.materialize(models.resolve("embedded"), cache, lambda stage, fraction: stages.append(stage))
    return Converted(cache, Path(folder), stages)
