"""Model sources: classification, verification, conversion of the embedded GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_assist.cli import main as cli_main
from jupyter_assist.engine import models
from jupyter_assist.engine.loading import pick_dtype, pick_quantization
from jupyter_assist.engine.models import ModelError, resolve

from .conftest import Converted


def test_resolve_kinds(tmp_path: Path, tiny_model_dir: Path) -> None:
    assert resolve("embedded").kind == "embedded"
    assert resolve(str(tiny_model_dir)).kind == "folder"
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve(str(gguf)).kind == "gguf"
    assert resolve("Qwen/Qwen2.5-Coder-1.5B").kind == "hub"


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda p: "", "No model configured"),
        (lambda p: str(p / "nope.gguf"), "GGUF file not found"),
        (lambda p: str(p / "sub" / "dir" / "model"), "Model path not found"),
        (lambda p: (p / "empty").mkdir() or str(p / "empty"), "no config.json"),
    ],
)
def test_resolve_errors(tmp_path: Path, make, needle: str) -> None:
    with pytest.raises(ModelError, match=needle):
        resolve(make(tmp_path))


def test_quantization_and_dtype_rules() -> None:
    import torch

    assert pick_quantization("cuda", "auto") == "nf4"
    assert pick_quantization("cpu", "auto") == "none"
    with pytest.raises(ModelError, match="mps"):
        pick_quantization("mps", "nf4")
    with pytest.raises(ModelError, match="Unknown quantization"):
        pick_quantization("cpu", "3bit")
    assert pick_dtype("cpu", "float32") == torch.float32
    assert pick_dtype("cpu", "auto") in (torch.bfloat16, torch.float32)
    with pytest.raises(ModelError, match="Unknown dtype"):
        pick_dtype("cpu", "float8")


def test_corrupt_gguf_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not the model")
    with pytest.raises(ModelError, match="corrupt"):
        models.convert_gguf(fake, tmp_path / "out", expected_sha256=models.EMBEDDED_SHA256)
    assert not (tmp_path / "out").exists()


@pytest.mark.embedded
def test_embedded_converts_once_and_generates(embedded_model: Converted) -> None:
    """The real embedded SmolLM2: sha256 verified, converted to a cached HF folder, loads."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = embedded_model.folder
    assert (folder / "config.json").is_file()
    assert "verifying" in embedded_model.stages and "converting" in embedded_model.stages
    again: list[str] = []
    assert models.materialize(resolve("embedded"), embedded_model.cache_dir, lambda s, f: again.append(s)) == str(folder)
    assert again == []  # cached: no second conversion
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    ids = tok("def add(a, b):\n    return", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert "a + b" in tok.decode(out[0, ids.shape[1] :])
    assert cli_main(["--cache-dir", str(embedded_model.cache_dir), "models", "list"]) == 0
