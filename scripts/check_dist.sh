#!/usr/bin/env bash
# Packaging check, run by scripts/test.sh after setup (or alone, after scripts/setup.sh test):
# - `python -m build` makes the sdist, then the wheel from that sdist, with node, npm, jlpm...
#   hidden (stand-ins that record the call and fail): the sdist must carry the built
#   labextension, and build-system.requires must be complete (isolated build envs);
# - the wheel, installed in a fresh venv, lists both extensions enabled and OK: on the
#   JupyterLab of requirements/constraints.txt and on the oldest one the wheel's metadata
#   allows, which must also ship every @jupyterlab/* version the labextension was built against.
# Environments come from uv (pip takes minutes for each). The venvs get the wheel with
# --no-deps next to what listing the extensions imports (jupyterlab, pydantic, tiktoken):
# no torch, so the step stays short.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=$ROOT/.venv/bin:$PATH
export UV_CONSTRAINT=$ROOT/requirements/constraints.txt
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
t0=$SECONDS
fail() { echo "check_dist: $*" >&2; exit 1; }

[ -f jupyter_assist/labextension/static/style.js ] || fail "no built labextension: run scripts/setup.sh first"

NONODE=$WORK/nonode
mkdir "$NONODE"
for tool in node nodejs npm npx yarn jlpm corepack; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/node-calls"\nexit 127\n' "$tool" "$WORK" >"$NONODE/$tool"
    chmod +x "$NONODE/$tool"
done

PATH=$NONODE:$PATH python -m build --installer uv --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; fail "python -m build failed with node hidden"; }
[ ! -e "$WORK/node-calls" ] || { cat "$WORK/node-calls"; fail "the build called node"; }
sdist=$(echo "$WORK"/dist/*.tar.gz)
wheel=$(echo "$WORK"/dist/*.whl)
tar tzf "$sdist" >"$WORK/sdist-files"
grep -q "/jupyter_assist/labextension/static/style.js$" "$WORK/sdist-files" || fail "the sdist lacks the built labextension"
echo "check_dist: $(basename "$sdist") and $(basename "$wheel") (built from the sdist, node hidden) in $((SECONDS - t0)) s"

# listing VENV JUPYTERLAB_SPEC: the wheel in a fresh venv; both extensions enabled and OK.
listing() {
    local venv=$1 spec=$2 cons=$WORK/constraints-${1##*/}.txt
    grep -v '^jupyterlab==' "$UV_CONSTRAINT" >"$cons"
    uv venv -q "$venv"
    UV_CONSTRAINT=$cons uv pip install -q --python "$venv/bin/python" "$spec" pydantic tiktoken
    uv pip install -q --python "$venv/bin/python" --no-deps "$wheel"
    local env=(env PATH="$NONODE:$venv/bin:$PATH" JUPYTER_CONFIG_DIR="$venv/user-config" JUPYTER_DATA_DIR="$venv/user-data" JUPYTER_PREFER_ENV_PATH=1)
    local lab server
    local plain=(sed 's/\x1b\[[0-9;]*m//g')  # no colour codes
    lab=$(cd "$WORK" && "${env[@]}" jupyter labextension list 2>&1 | "${plain[@]}")
    server=$(cd "$WORK" && "${env[@]}" jupyter server extension list 2>&1 | "${plain[@]}")
    [ -f "$venv/share/jupyter/labextensions/jupyter-assist/package.json" ] || fail "the wheel put no labextension in $venv/share"
    grep -q "jupyter-assist v.* enabled .*OK" <<<"$lab" && ! grep -qi "not compatible\|incompatible" <<<"$lab" \
        || { echo "$lab"; fail "labextension not enabled OK ($spec)"; }
    grep -q "jupyter_assist .*enabled" <<<"$server" && grep -q "jupyter_assist [0-9].* OK" <<<"$server" \
        || { echo "$server"; fail "server extension not enabled OK ($spec)"; }
    echo "check_dist: $(grep -m1 '^JupyterLab v' <<<"$lab"): jupyter-assist labextension and server extension enabled, OK"
}

listing "$WORK/pinned" "jupyterlab==$(sed -n 's/^jupyterlab==//p' "$UV_CONSTRAINT")"
floor=$(python scripts/jupyterlab_floor.py floor "$wheel")
listing "$WORK/floor" "jupyterlab==$floor"
"$WORK/floor/bin/python" scripts/jupyterlab_floor.py provides "$WORK/floor/share/jupyter/labextensions/jupyter-assist" \
    || fail "pyproject's JupyterLab floor ($floor) is below what the labextension was built against"
echo "check_dist: passed in $((SECONDS - t0)) s"
