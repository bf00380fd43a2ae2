#!/usr/bin/env bash
# Set up (first time) and launch ActionArt Studio; with no argument it opens the demo clip.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/main.py" "$@"
