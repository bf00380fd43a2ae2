"""Pick the model for a blind test or for QA generation from text.

The list is the VLM panel's backend choices (discovered checkpoints, saved servers, models
the user added), so a model already loaded for the Ask panel is reused. A checkpoint
folder, cached model id or server URL can be typed and added here. Non-blocking: the
dialog calls ``on_chosen(choice)`` when the user confirms.
"""
from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout, QWidget)


class ModelChoiceDialog(QDialog):
    def __init__(self, controller, title: str, explanation: str,
                 on_chosen: Callable[[object], None], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.on_chosen = on_chosen
        self.setWindowTitle(title)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(28)
        self.spec = QLineEdit()
        self.spec.setPlaceholderText("checkpoint folder, cached model id or http://host:port/v1#model")
        # wide enough to read the hint and a typical path or URL without scrolling
        self.spec.setMinimumWidth(self.spec.fontMetrics().horizontalAdvance(
            self.spec.placeholderText()) + 24)
        add = QPushButton("Add")
        add.clicked.connect(self.add_spec)
        self.spec.returnPressed.connect(self.add_spec)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                        QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        info = QLabel(explanation)
        info.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.spec, 1)
        row.addWidget(add)
        lay = QVBoxLayout(self)
        for w in (info, self.combo):
            lay.addWidget(w)
        lay.addLayout(row)
        lay.addWidget(self.buttons)
        self.reload()
        self.resize(self.sizeHint().expandedTo(self.minimumSizeHint()))

    def reload(self, select_label: str = "") -> None:
        self.combo.clear()
        for choice in self.controller.model_choices():
            self.combo.addItem(choice.label, choice)
        if select_label:
            self.combo.setCurrentIndex(max(0, self.combo.findText(select_label)))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.combo.count() > 0)
        if not self.combo.count():
            self.combo.setPlaceholderText("no model found: add one below")

    def add_spec(self) -> None:
        spec = self.spec.text().strip()
        if not spec:
            return
        choice = self.controller.add_model(spec)
        if choice is not None:
            self.spec.clear()
            self.reload(choice.label)

    def choice(self):
        return self.combo.currentData()

    def accept(self) -> None:
        choice = self.choice()
        if choice is None:
            return
        super().accept()
        self.on_chosen(choice)
