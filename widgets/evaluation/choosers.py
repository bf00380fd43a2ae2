"""Small choosers shared by the evaluation panel and the export dialog: checkable lists of
sub-tasks and of models, and the review-status choices of a curated set."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem

STATUS_CHOICES = (("accepted", ("accepted",)), ("accepted + edited", ("accepted", "edited")),
                  ("every item", ("candidate", "accepted", "edited", "needs_fix")))


class CheckList(QListWidget):
    """Checkable items, each with a value; compact (a few rows visible, scrolls)."""

    def __init__(self, rows: int = 4, parent=None) -> None:
        super().__init__(parent)
        self.setMaximumHeight(8 + rows * self.fontMetrics().height() * 3 // 2)

    def set_items(self, items, checked: bool = True) -> None:
        """``items``: (label, value) pairs; keeps the check state of values already shown."""
        before = {self.item(i).data(Qt.ItemDataRole.UserRole): self.item(i).checkState()
                  for i in range(self.count())}
        self.clear()
        for label, value in items:
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            default = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
            item.setCheckState(before.get(value, default))
            self.addItem(item)

    def values(self) -> list:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def checked(self) -> list:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())
                if self.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, values) -> None:
        wanted = set(values)
        for i in range(self.count()):
            item = self.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)


class TaskList(CheckList):
    """Sub-tasks of the project, all checked by default."""

    def set_tasks(self, tasks) -> None:
        self.set_items([(t, t) for t in tasks])

    def selected(self) -> Optional[list[str]]:
        """None when every sub-task is checked (no filter), else the checked ones."""
        chosen = self.checked()
        return None if len(chosen) == self.count() else chosen
