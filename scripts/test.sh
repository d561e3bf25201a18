#!/usr/bin/env bash
# Install everything (test tools and Debian chromium included) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export PATH=$PWD/.venv/bin:$PATH
export OMP_WAIT_POLICY=PASSIVE
jupyter labextension list 2>&1 | grep -q "jupyter-assist.*enabled.*OK"
jupyter server extension list 2>&1 | grep -q "jupyter_assist.*enabled"
exec python -m pytest -v --timeout=600 "$@"
