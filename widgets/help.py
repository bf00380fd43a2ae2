"""Help menu and Preferences: keyboard-shortcut sheet, "How to get a model", About.

``HelpLauncher(window)`` is the lazy ``help`` action target (app/actions.py). Every sheet
is a non-modal dialog built from live data: the shortcuts from the window's actions, the
model folders and servers from the project, the versions from the installed packages.
"""
from __future__ import annotations

import html
import importlib.metadata
import platform
import sys
from typing import Optional

from PySide6.QtGui import QAction, QShortcut
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from models import resources

# Small checkpoints of the families models/vlm/registry.py runs (id, size, where it runs).
SMALL_MODELS = (
    ("HuggingFaceTB/SmolVLM2-256M-Video-Instruct", "SmolVLM2", "about 0.5 GB; runs on a CPU"),
    ("HuggingFaceTB/SmolVLM2-500M-Video-Instruct", "SmolVLM2", "about 1 GB; runs on a CPU"),
    ("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen2.5-VL", "about 7.5 GB; a GPU with 10 GB or more"),
)
PACKAGES = ("numpy", "pyqtgraph", "mediapipe", "torch", "transformers", "huggingface_hub")
LICENCES = (
    ("Qt for Python (PySide6)", "LGPL v3"), ("NumPy", "BSD 3-Clause"),
    ("OpenCV", "Apache 2.0"), ("pyqtgraph", "MIT"), ("MediaPipe", "Apache 2.0"),
    ("PyTorch (optional)", "BSD 3-Clause"), ("transformers (optional)", "Apache 2.0"),
)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


def app_version() -> str:
    return _version("actionart-studio") or _pyproject_version() or "development"


def _pyproject_version() -> str:
    import tomllib  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    path = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        with open(path, "rb") as fh:
            return str(tomllib.load(fh).get("project", {}).get("version", ""))
    except (OSError, ValueError):
        return ""


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def shortcut_rows(window) -> list[tuple[str, str, str]]:
    """(where, what, keys) of every action and shortcut with keys in ``window``."""
    rows, seen = [], set()
    menu_of = {}
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if menu is not None:
            for a in menu.actions():
                menu_of[a] = _plain(menu_action.text())
    for obj in window.findChildren(QAction) + window.findChildren(QShortcut):
        keys = obj.shortcut() if isinstance(obj, QAction) else obj.key()
        text = keys.toString() if keys is not None else ""
        if not text:
            continue
        what = _plain(obj.text()) if isinstance(obj, QAction) else (obj.whatsThis() or
                                                                    obj.objectName())
        where = menu_of.get(obj) if isinstance(obj, QAction) else None
        if where is None:
            where = _panel_title(window, obj) or "Window"
        key = (where, what, text)
        if what and key not in seen:
            seen.add(key)
            rows.append(key)
    return rows


def _panel_title(window, obj) -> str:
    """Title of the dock panel that owns ``obj`` ("" if none)."""
    parent = obj.parent()
    for pid, panel in window.panels.items():
        p = parent
        while p is not None:
            if p is panel:
                return window.docks[pid].windowTitle()
            p = p.parent()
    return ""


def shortcuts_html(window) -> str:
    rows = shortcut_rows(window)
    body = "".join(f"<tr><td>{html.escape(w)}</td><td>{html.escape(t)}</td>"
                   f"<td><b>{html.escape(k)}</b></td></tr>" for w, t, k in rows)
    return ("<h3>Keyboard shortcuts</h3><p>Window keys work wherever the focus is, except "
            "in a text field (typing there never moves the video). Panel keys work while "
            "that panel has the focus.</p>"
            "<table cellspacing=6><tr><th align=left>Where</th><th align=left>What</th>"
            f"<th align=left>Keys</th></tr>{body}</table>")


def models_html(repo=None) -> str:
    """How a new user gets a real vision-language model, with the exact commands."""
    from models.vlm.discovery import user_folders  # noqa: PLC0415
    from models.vlm.local import hub_cache_dir  # noqa: PLC0415
    from models.vlm.registry import (FAMILIES, backend_kind,  # noqa: PLC0415
                                     missing_requirements)

    missing = missing_requirements(backend_kind("transformers"))
    folders = user_folders(repo) if repo is not None else []
    first = SMALL_MODELS[0][0]
    models = "".join(f"<li><code>{m}</code> ({fam}, {html.escape(note)})</li>"
                     for m, fam, note in SMALL_MODELS)
    install = ("<p><b>First install the model packages</b> (not installed yet: "
               f"{', '.join(missing)}):<br><code>pip install torch transformers "
               "huggingface_hub</code></p>" if missing else
               "<p>torch and transformers are installed: local models can run.</p>")
    folder_items = "".join(f"<li><code>{html.escape(f)}</code></li>" for f in folders) or \
        "<li>(none yet: add one in File → Preferences)</li>"
    return (
        "<h3>How to get a model</h3>"
        "<p>Out of the box only the <i>rule-based describer</i> answers: it describes the "
        "poses of the sampled frames and answers multiple-choice questions that the poses "
        "decide; it does not read free questions. For real answers download a "
        "vision-language model (or connect to a server).</p>"
        f"{install}"
        "<p><b>Small models that work with this app</b>:</p>"
        f"<ul>{models}</ul>"
        "<p><b>Download one</b> (into the Hugging Face cache, where the app finds it):<br>"
        f"<code>hf download {first}</code><br>"
        f"older huggingface_hub: <code>huggingface-cli download {first}</code><br>"
        "or into a folder of your own: "
        f"<code>hf download {first} --local-dir ~/models/{first.split('/')[-1]}</code> "
        "and add <code>~/models</code> as a model folder (File → Preferences).</p>"
        "<p>Then press <b>Find models</b> in Ask a model, Compare models or Evaluation; "
        "the model appears in the list. You can also type a checkpoint folder or a cached "
        "id (e.g. <code>" + first + "</code>) in the Ask panel's field and press Enter.</p>"
        "<p><b>Where the app looks</b>:</p><ul>"
        f"<li>the Hugging Face cache: <code>{html.escape(str(hub_cache_dir()))}</code> "
        "(HF_HUB_CACHE or HF_HOME change it)</li>"
        f"<li>model folders of this project:<ul>{folder_items}</ul></li>"
        "<li>saved servers (File → Preferences)</li></ul>"
        "<p><b>A model on a server</b> (vLLM, SGLang, Ollama, transformers serve): start "
        "it, e.g. <code>vllm serve Qwen/Qwen2.5-VL-3B-Instruct</code>, then add "
        "<code>http://127.0.0.1:8000/v1#Qwen/Qwen2.5-VL-3B-Instruct</code>. An API key "
        "is never saved: put it in an environment variable and give the variable's name.</p>"
        "<p>Model families the app runs: "
        + ", ".join(f.label for f in FAMILIES) + " (other image-text models: images only)."
        "</p>")


def about_html() -> str:
    versions = [("ActionArt Studio", app_version()), ("Python", platform.python_version())]
    import PySide6  # noqa: PLC0415
    from PySide6 import QtCore  # noqa: PLC0415

    versions += [("PySide6", PySide6.__version__), ("Qt", QtCore.qVersion())]
    cv2 = sys.modules.get("cv2")          # loaded at start-up; its wheel name varies
    if cv2 is not None:
        versions.append(("OpenCV", str(getattr(cv2, "__version__", "?"))))
    versions += [(p, v) for p in PACKAGES if (v := _version(p))]
    vrows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(v)}</td></tr>"
                    for n, v in versions)
    lrows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(lic)}</td></tr>"
                    for n, lic in LICENCES)
    try:
        notice = resources.path("demo", "NOTICE").read_text(encoding="utf-8")
    except OSError:
        notice = "(the demo clip's notice file is missing from this build)"
    return ("<h3>ActionArt Studio</h3><p>A workbench for human-pose video understanding: "
            "poses, rule-based descriptions, vision-language models, QA curation, "
            "benchmark export.</p>"
            f"<h4>Versions</h4><table cellspacing=4>{vrows}</table>"
            f"<h4>Third-party licences</h4><table cellspacing=4>{lrows}</table>"
            "<h4>Demo clip</h4><pre style='white-space: pre-wrap'>"
            + html.escape(notice.strip()) + "</pre>")


class HelpSheet(QDialog):
    """A non-modal window with one read-only rich-text page."""

    def __init__(self, title: str, body: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setHtml(body)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
        self.resize(640, 560)

    def plain(self) -> str:
        return self.text.toPlainText()


class HelpLauncher:
    """Target ``help`` of the action table: opens (or brings back) each sheet."""

    def __init__(self, window) -> None:
        self.window = window
        self.sheets: dict[str, QDialog] = {}

    def _show(self, key: str, title: str, body: str) -> HelpSheet:
        old = self.sheets.get(key)
        if old is not None:
            old.text.setHtml(body)       # fresh content (folders, versions may change)
            sheet = old
        else:
            sheet = self.sheets[key] = HelpSheet(title, body, self.window)
        sheet.show()
        sheet.raise_()
        sheet.activateWindow()
        return sheet

    def shortcuts(self) -> HelpSheet:
        return self._show("shortcuts", "Keyboard shortcuts", shortcuts_html(self.window))

    def models(self) -> HelpSheet:
        return self._show("models", "How to get a model", models_html(self.window.ctx.repo))

    def about(self) -> HelpSheet:
        return self._show("about", "About ActionArt Studio", about_html())

    def preferences(self):
        from .preferences import PreferencesDialog  # noqa: PLC0415

        dlg = self.sheets.get("preferences")
        if dlg is None:
            dlg = self.sheets["preferences"] = PreferencesDialog(self.window.ctx, self.window)
        else:
            dlg.load()
        dlg.show()
        dlg.raise_()
        return dlg


def show_models_help(widget: QWidget):
    """The "How to get a model" sheet from a panel (through the window's Help target)."""
    window = widget.window()
    act = getattr(window, "actions_by_id", {}).get("help.models")
    if act is not None:
        act.trigger()
        return
    sheet = HelpSheet("How to get a model", models_html(getattr(widget, "ctx", None) and
                                                        widget.ctx.repo), widget)
    sheet.show()
