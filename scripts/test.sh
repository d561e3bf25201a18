#!/usr/bin/env bash
# Install everything (test tools and Debian chromium included) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export PATH=$PWD/.venv/bin:$PATH
export OMP_WAIT_POLICY=PASSIVE
# Both halves must be installed and enabled (the suite runs against the installed package).
labext=$(jupyter labextension list 2>&1)
servext=$(jupyter server extension list 2>&1)
grep -q "jupyter-assist v.*enabled.*OK" <<<"$labext" || { echo "$labext"; echo "labextension not enabled"; exit 1; }
grep -q "jupyter_assist.*OK" <<<"$servext" || { echo "$servext"; echo "server extension not OK"; exit 1; }
# Gates: Python lint, format and types (pyproject.toml's [tool.ruff] / [tool.mypy]).
ruff check .
ruff format --check .
mypy
# Packaging: sdist and wheel (built from the sdist, node hidden) install and list OK in fresh
# venvs, on the pinned and on the oldest allowed JupyterLab.
bash scripts/check_dist.sh
# The labextension's gates (eslint + prettier --check on src) and unit tests (jest) first:
# no browser or server needed.
jlpm install && jlpm lint && jlpm test  # the workspace root: its scripts run labextension/'s
exec python -m pytest -v --timeout=600 "$@"
