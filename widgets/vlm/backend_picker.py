"""A combo box of the controller's backend choices (kept in sync with it)."""
from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QComboBox, QWidget

NONE_TEXT = "(none)"


class BackendPicker(QComboBox):
    def __init__(self, controller, allow_none: bool = False,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.allow_none = allow_none
        self.setMinimumContentsLength(18)   # long checkpoint paths must not widen the panel
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        controller.choicesChanged.connect(self.reload)
        self.reload()

    def reload(self) -> None:
        current = self.currentText()
        self.blockSignals(True)
        self.clear()
        if self.allow_none:
            self.addItem(NONE_TEXT, None)
        for choice in self.controller.choices:
            self.addItem(choice.label, choice)
        found = self.findText(current)
        self.setCurrentIndex(found if found >= 0 else 0)
        self.blockSignals(False)

    def choice(self):
        return self.currentData()

    def select_label(self, label: str) -> bool:
        i = self.findText(label)
        if i >= 0:
            self.setCurrentIndex(i)
        return i >= 0
