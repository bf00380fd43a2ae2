#!/usr/bin/env bash
# Set up (first time) and run the whole test suite.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh || exit 1
bash scripts/setup_lmms_eval_venv.sh >/dev/null || exit 1  # side venv: real lmms-eval/vlmeval checks
export QT_QPA_PLATFORM=offscreen
# Linters (pyproject.toml): style and lazy-import rules, types of models/, import layering.
.venv/bin/ruff check . || exit 1
.venv/bin/mypy || exit 1
.venv/bin/lint-imports --no-cache || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "no tests were collected"; exit 1; fi
exit $rc
