#!/usr/bin/env bash
# Create or refresh the virtual environment at .venv (repo root) and the system
# libraries Qt needs. Re-running is cheap: packages are only installed when
# requirements.txt changed since the last successful install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

need_sys=()
# the linker cache is read once (no pipe from ldconfig, so no SIGPIPE under pipefail)
LIBS="$(ldconfig -p 2>/dev/null || true)"
have_lib() { grep -F "$1" >/dev/null <<<"$LIBS"; }
have_lib libEGL.so.1        || need_sys+=(libegl1)
have_lib libGL.so.1         || need_sys+=(libgl1)
have_lib libfontconfig.so.1 || need_sys+=(libfontconfig1)
have_lib libxkbcommon.so.0  || need_sys+=(libxkbcommon0)
have_lib libglib-2.0.so.0   || need_sys+=(libglib2.0-0)
have_lib libdbus-1.so.3     || need_sys+=(libdbus-1-3)
# the xcb platform plugin (a real X display) needs these on top
for pair in libxcb-cursor.so.0:libxcb-cursor0 libxcb-icccm.so.4:libxcb-icccm4 \
            libxcb-keysyms.so.1:libxcb-keysyms1 libxkbcommon-x11.so.0:libxkbcommon-x11-0 \
            libxcb-image.so.0:libxcb-image0 libxcb-render-util.so.0:libxcb-render-util0 \
            libxcb-shape.so.0:libxcb-shape0 libxcb-randr.so.0:libxcb-randr0; do
    have_lib "${pair%%:*}" || need_sys+=("${pair##*:}")
done
# the real-display end-to-end test runs the app on its own virtual X server
command -v Xvfb  >/dev/null 2>&1 || need_sys+=(xvfb)
command -v xauth >/dev/null 2>&1 || need_sys+=(xauth)
if [ "${#need_sys[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bootstrap: installing system libraries: ${need_sys[*]}"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_sys[@]}" >/dev/null
    else
        echo "bootstrap: please install these system packages: ${need_sys[*]}" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv with $PY"
    "$PY" -m venv .venv
fi
STAMP=.venv/.requirements.sha256
WANT="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "bootstrap: installing requirements (first run takes a few minutes)"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
    echo "$WANT" > "$STAMP"
fi
