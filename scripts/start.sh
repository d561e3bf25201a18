#!/usr/bin/env bash
# Install everything, convert the embedded model once, start JupyterLab on notebooks/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
export PATH=$PWD/.venv/bin:$PATH
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
jupyter assist models install embedded   # no-op once converted; shows progress the first time
args=(--notebook-dir=notebooks --ServerApp.ip="${JUPYTER_IP:-127.0.0.1}" --ServerApp.port="${JUPYTER_PORT:-8888}")
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec jupyter lab "${args[@]}" "$@"
