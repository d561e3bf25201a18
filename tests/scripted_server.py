"""The conftest's server on the scripted model (jupyter_assist.testing.scripted): a test
writes the model's answers to `answers`. A test module imports both fixtures to use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_assist.testing.scripted import install


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    return tmp_path / "answers.json"


@pytest.fixture
def jp_server_config(tiny_model_dir: Path, tmp_path: Path, answers: Path) -> Iterator[dict[str, Any]]:
    """The scripted model installed before the server starts and removed after it stops
    (the tokenizer: the configured tiny model folder's)."""
    undo = install(answers)
    try:
        yield {
            "ServerApp": {"jpserver_extensions": {"jupyter_assist": True}},
            "AssistExtension": {"model": str(tiny_model_dir), "cache_dir": str(tmp_path / "model-cache")},
        }
    finally:
        undo()
