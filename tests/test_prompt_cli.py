"""`jupyter assist prompt`: prints the rendered prompt and the kept/dropped map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_assist.cli import main

NOTEBOOK = Path(__file__).parent / "golden" / "notebooks" / "analysis.ipynb"


def test_prompt_command_prints_prompt_and_map(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompt", str(NOTEBOOK), "--cell", "7", "--line", "4", "--col", "19", "--budget", "300", "--model", "cl100k"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("===== prompt (complete, ") and "tokenizer cl100k_base" in out
    assert "by_region['price'] \n===== kept / dropped =====" in out
    assert "kept   tokens     priority  name" in out and "context/cell 6" in out


@pytest.mark.parametrize("task", ["chat", "edit", "fix"])
def test_prompt_command_json_per_task(task: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompt", str(NOTEBOOK), "--cell", "5", "--task", task, "--budget", "900", "--answer", "100", "--model", "cl100k", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["task"] == task and data["tokens"] <= 900 and data["budget"] == 900
    assert "df.groupby('regoin')" in data["prompt"]
    assert {"name", "kept", "tokens", "priority"} <= set(data["nodes"][0])


def test_prompt_command_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["prompt", str(NOTEBOOK), "--cell", "99", "--model", "cl100k"]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["prompt", str(NOTEBOOK), "--cell", "5", "--task", "fix", "--budget", "50", "--model", "cl100k"]) == 2
    assert "does not fit the model's context" in capsys.readouterr().err
    assert main(["prompt", str(NOTEBOOK), "--cell", "0", "--model", str(tmp_path)]) == 2
    assert "Could not load a tokenizer" in capsys.readouterr().err


def test_prompt_command_with_a_model_folder(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompt", str(NOTEBOOK), "--cell", "7", "--task", "chat", "--model", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    assert "<|im_start|>system" in out and f"tokenizer {tiny_model_dir}" in out


@pytest.mark.parametrize("task", ["complete", "chat"])
@pytest.mark.parametrize("budget", ["-10", "0"])
def test_prompt_command_rejects_a_budget_that_holds_nothing(task: str, budget: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompt", str(NOTEBOOK), "--cell", "7", "--task", task, "--budget", budget, "--model", "cl100k"]) == 2
    captured = capsys.readouterr()
    assert f"--budget {budget} cannot hold a prompt" in captured.err and captured.out == ""


def test_prompt_command_rejects_a_budget_below_the_fixed_parts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompt", str(NOTEBOOK), "--cell", "7", "--line", "4", "--col", "19", "--budget", "3", "--model", "cl100k"]) == 2
    err = capsys.readouterr().err
    assert "--budget 3 cannot hold a completion prompt" in err
    need = int(err.rsplit("give at least ", 1)[1])
    # The least budget it names does hold a prompt with text before the cursor.
    assert main(["prompt", str(NOTEBOOK), "--cell", "7", "--line", "4", "--col", "19", "--budget", str(need), "--model", "cl100k", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert 0 < data["tokens"] <= need and data["prompt"].strip()
