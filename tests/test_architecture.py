"""The import layering (pyproject's [tool.importlinter] contracts) holds, and a broken
contract is reported: widgets > app | cli > models, and layers inside models."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_import_contracts_are_kept():
    result = _lint_imports()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_broken_contract_fails_the_check(tmp_path):
    # the real code: models.video imports models.errors, so errors above video is broken
    config = tmp_path / "reversed.toml"
    config.write_text('[tool.importlinter]\nroot_packages = ["models"]\n\n'
                      '[[tool.importlinter.contracts]]\nname = "errors above video"\n'
                      'type = "layers"\nlayers = ["models.errors", "models.video"]\n')
    result = _lint_imports(str(config))
    assert result.returncode != 0
    assert "models.video is not allowed to import models.errors" in result.stdout


def test_app_names_no_widget_module():
    """No "widgets...." string (a lazy import the contracts cannot see) in app/."""
    named = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    node.value.startswith("widgets."):
                named.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert not named, named
