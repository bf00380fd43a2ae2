"""Pick the clips of the open dataset to generate QA for (non-blocking, checkable list)."""
from __future__ import annotations

import os
from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem,
                               QVBoxLayout, QWidget)


class ClipPickDialog(QDialog):
    def __init__(self, paths: list, on_chosen: Callable[[list], None],
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Generate QA for clips")
        self.on_chosen = on_chosen
        self.list = QListWidget()
        for p in paths:
            item = QListWidgetItem(os.path.basename(p))
            item.setData(Qt.ItemDataRole.UserRole, p)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Generate QA from the pose facts of the checked clips:"))
        lay.addWidget(self.list, 1)
        lay.addWidget(buttons)

    def set_checked(self, names: list) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            on = item.text() in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def checked(self) -> list:
        items = (self.list.item(i) for i in range(self.list.count()))
        return [it.data(Qt.ItemDataRole.UserRole) for it in items
                if it.checkState() == Qt.CheckState.Checked]

    def accept(self) -> None:
        chosen = self.checked()
        if not chosen:
            return
        super().accept()
        self.on_chosen(chosen)
