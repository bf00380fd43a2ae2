#!/usr/bin/env bash
# Create (once) the side virtual environment used to check exports with the real
# lmms-eval / datasets / VLMEvalKit packages. It lives outside the repo, keyed by a hash of
# scripts/lmms_eval_requirements.txt, and is reused while that file is unchanged.
# Prints the venv's python path on the last line of stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/scripts/lmms_eval_requirements.txt"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
HASH="$(sha256sum "$REQ" | cut -c1-12)"
BASE="${ACTIONART_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/actionart}"
VENV="$BASE/venv-lmms-eval-$HASH"
STAMP="$VENV/.complete"
if [ ! -f "$STAMP" ]; then
    mkdir -p "$BASE"
    rm -rf "$VENV.partial"
    echo "setup_lmms_eval_venv: creating $VENV (one time, takes a few minutes)" >&2
    "$PY" -m venv "$VENV.partial"
    "$VENV.partial/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" >&2
    # Optional: VLMEvalKit's loaders; its absence is reported by the checks, not fatal.
    if "$VENV.partial/bin/python" -m pip install -q --disable-pip-version-check ms-vlmeval >&2; then
        echo "ok" > "$VENV.partial/.vlmeval"
    else
        echo "setup_lmms_eval_venv: ms-vlmeval did not install; VLMEvalKit loader check skipped" >&2
    fi
    rm -rf "$VENV"
    mv "$VENV.partial" "$VENV"
    # venv scripts hard-code the creation path: recreate activation shims by re-running venv
    "$PY" -m venv --upgrade "$VENV" >/dev/null 2>&1 || true
    touch "$STAMP"
fi
echo "$VENV/bin/python"
