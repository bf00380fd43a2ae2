"""The layering rules of docs/ARCHITECTURE.md, checked on the source (AST), not by agreement."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAYERS = {"models": 0, "app": 1, "widgets": 2}
HEAVY = ("torch", "transformers", "mediapipe")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at_top_level) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        out += [(n, id(node) in top) for n in names]
    return out


def _py_files(pkg: str):
    return sorted((REPO / pkg).rglob("*.py"))


def test_imports_only_point_down():
    bad = []
    for pkg, level in LAYERS.items():
        for f in _py_files(pkg):
            for mod, _ in _imports(f):
                root = mod.split(".")[0]
                if root in LAYERS and LAYERS[root] > level:
                    bad.append(f"{f.relative_to(REPO)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_core_and_cli_never_import_qt():
    bad = [f"{f.relative_to(REPO)}: {m}" for pkg in ("models", "cli") for f in _py_files(pkg)
           for m, _ in _imports(f) if m.split(".")[0] in ("PySide6", "pyqtgraph")]
    assert not bad, "\n".join(bad)


def test_app_layer_has_no_widgets():
    bad = [f"{f.relative_to(REPO)}: {m}" for f in _py_files("app") for m, _ in _imports(f)
           if m.startswith("PySide6.QtWidgets") or m.split(".")[0] == "pyqtgraph"]
    assert not bad, "\n".join(bad)


def test_heavy_libraries_are_never_imported_at_module_top():
    bad = [f"{f.relative_to(REPO)}: {m}" for pkg in ("models", "app", "widgets", "cli")
           for f in _py_files(pkg) for m, top in _imports(f)
           if top and m.split(".")[0] in HEAVY]
    assert not bad, "\n".join(bad)


def test_importing_every_core_module_stays_light():
    code = ("import pkgutil, importlib, sys, models\n"
            "for m in pkgutil.walk_packages(models.__path__, 'models.'):\n"
            "    importlib.import_module(m.name)\n"
            f"heavy = [h for h in {HEAVY!r} + ('PySide6',) if h in sys.modules]\n"
            "print(','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
