"""File > Preferences: default project, model folders, servers, device, theme.

Every change applies at once (the default project from the next start). Model folders and
servers belong to the open project (the CLI sees them too); the default project, the
device of local models and the theme are user settings. A server's API key is never
stored: only the NAME of the environment variable that holds it.
"""
from __future__ import annotations

import os
import re
from typing import Optional

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QListWidget, QPushButton,
                               QVBoxLayout, QWidget)

from app.controllers.vlm import DEVICE_KEY, vlm_controller
from models.errors import StudioError

from . import dialogs
from .theme import THEME_KEY, THEMES, apply_theme

DEFAULT_PROJECT_KEY = "default_project"
DEVICES = ("auto", "cpu", "cuda", "mps")


class PreferencesDialog(QDialog):
    def __init__(self, ctx, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.vlm = vlm_controller(ctx)
        self.setWindowTitle("Preferences")
        self.project_edit = QLineEdit()
        self.project_edit.setPlaceholderText("(the standard project file)")
        self.project_edit.editingFinished.connect(self.save_project)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse_project)
        self.folder_list = QListWidget()
        self.folder_list.setMaximumHeight(90)
        add_folder, remove_folder = QPushButton("Add folder…"), QPushButton("Remove")
        add_folder.clicked.connect(self.browse_folder)
        remove_folder.clicked.connect(self.remove_selected_folder)
        self.server_list = QListWidget()
        self.server_list.setMaximumHeight(90)
        self.server_name = QLineEdit(placeholderText="name")
        self.server_url = QLineEdit(placeholderText="http://host:port/v1#model")
        self.server_key_env = QLineEdit(placeholderText="API key variable, e.g. OPENAI_API_KEY")
        self.server_key_env.setToolTip("The NAME of an environment variable holding the key; "
                                       "the key itself is never saved")
        add_server, remove_server = QPushButton("Save server"), QPushButton("Remove")
        add_server.clicked.connect(self.add_server)
        remove_server.clicked.connect(self.remove_selected_server)
        self.device_box = QComboBox()
        self.device_box.addItems(list(DEVICES))
        self.device_box.currentTextChanged.connect(self.save_device)
        self.theme_box = QComboBox()
        self.theme_box.addItems(list(THEMES))
        self.theme_box.currentTextChanged.connect(self.save_theme)
        self._layout(browse, add_folder, remove_folder, add_server, remove_server)
        self.load()

    def _layout(self, browse, add_folder, remove_folder, add_server, remove_server) -> None:
        project = QHBoxLayout()
        project.addWidget(self.project_edit, 1)
        project.addWidget(browse)
        general = QFormLayout()
        general.addRow("Default project", project)
        general.addRow("", QLabel("used from the next start when no --project is given"))
        general.addRow("Local models run on", self.device_box)
        general.addRow("Theme", self.theme_box)
        folders = QGroupBox("Model folders (searched by Find models, with the Hugging Face cache)")
        fl = QVBoxLayout(folders)
        fl.addWidget(self.folder_list)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(add_folder)
        row.addWidget(remove_folder)
        fl.addLayout(row)
        servers = QGroupBox("Servers (OpenAI-compatible: vLLM, SGLang, Ollama ...)")
        sl = QVBoxLayout(servers)
        sl.addWidget(self.server_list)
        form = QHBoxLayout()
        for w, stretch in ((self.server_name, 1), (self.server_url, 3), (self.server_key_env, 2)):
            form.addWidget(w, stretch)
        sl.addLayout(form)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(add_server)
        row.addWidget(remove_server)
        sl.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addLayout(general)
        lay.addWidget(folders)
        lay.addWidget(servers)
        lay.addWidget(buttons)
        self.resize(620, 520)

    # -- state ------------------------------------------------------------------------------
    def load(self) -> None:
        from models.vlm.discovery import user_folders  # noqa: PLC0415

        s = self.ctx.settings
        self.project_edit.setText(str(s.get(DEFAULT_PROJECT_KEY) or ""))
        for box, value, default in ((self.device_box, s.get(DEVICE_KEY), "auto"),
                                    (self.theme_box, s.get(THEME_KEY), THEMES[0])):
            box.blockSignals(True)
            box.setCurrentText(value if value in [box.itemText(i) for i in range(box.count())]
                               else default)
            box.blockSignals(False)
        self.folder_list.clear()
        self.folder_list.addItems(user_folders(self.ctx.repo))
        self.server_list.clear()
        for ep in self.ctx.repo.endpoints():
            key = f" (key in ${ep['api_key_env']})" if ep.get("api_key_env") else ""
            self.server_list.addItem(f"{ep['name']}: {ep['base_url']}#{ep['model']}{key}")

    def _error(self, text: str) -> None:
        dialogs.error("Preferences", text, self)

    def save_project(self) -> None:
        path = self.project_edit.text().strip()
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(os.path.expanduser(path)))):
            self._error(f"The folder of {path} does not exist")
            return
        self.ctx.settings.set(DEFAULT_PROJECT_KEY,
                              os.path.abspath(os.path.expanduser(path)) if path else None)

    def browse_project(self) -> None:
        path = dialogs.open_file(self, "Default project", "Projects (*.aastudio *.sqlite *.db);;"
                                 "All files (*)")
        if path:
            self.project_edit.setText(path)
            self.save_project()

    def add_folder(self, folder: str) -> bool:
        from models.vlm.discovery import add_folder  # noqa: PLC0415

        try:
            add_folder(self.ctx.repo, folder)
        except StudioError as exc:
            self._error(str(exc))
            return False
        self.load()
        self.vlm.refresh_choices()
        return True

    def browse_folder(self) -> None:
        folder = dialogs.open_folder(self, "Folder of model checkpoints")
        if folder:
            self.add_folder(folder)

    def remove_selected_folder(self) -> None:
        from models.vlm.discovery import remove_folder  # noqa: PLC0415

        item = self.folder_list.currentItem()
        if item is not None:
            remove_folder(self.ctx.repo, item.text())
            self.load()
            self.vlm.refresh_choices()

    def add_server(self) -> bool:
        url, env = self.server_url.text().strip(), self.server_key_env.text().strip()
        if env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
            self._error("Give the NAME of the environment variable holding the key "
                        "(letters, digits, _), never the key itself")
            return False
        try:
            self.vlm.save_endpoint(url, self.server_name.text().strip(), env)
        except StudioError as exc:
            self._error(str(exc))
            return False
        for w in (self.server_name, self.server_url, self.server_key_env):
            w.clear()
        self.load()
        return True

    def remove_selected_server(self) -> None:
        item = self.server_list.currentItem()
        if item is not None:
            self.vlm.remove_endpoint(item.text().split(":", 1)[0])
            self.load()

    def save_device(self, device: str) -> None:
        self.ctx.settings.set(DEVICE_KEY, device)

    def save_theme(self, theme: str) -> None:
        from PySide6.QtWidgets import QApplication  # noqa: PLC0415

        self.ctx.settings.set(THEME_KEY, theme)
        app = QApplication.instance()
        if app is not None:
            apply_theme(app, theme)
