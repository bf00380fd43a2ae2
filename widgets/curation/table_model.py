"""Item model of the QA table: the filtered, sorted id list comes from SQL in one query;
row contents are fetched lazily in pages of ``PAGE`` rows when the view first asks for
them, so 100k items open as fast as a few hundred."""
from __future__ import annotations

import json
from typing import Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

PAGE = 200
COLUMNS = (("status", "Status"), ("task", "Sub-task"), ("video", "Clip"),
           ("question", "Question"), ("answer", "Answer"), ("source", "Source"))
SORT_KEYS = {"status": "status", "task": "task", "video": "video", "question": "question",
             "source": "source"}
STATUS_COLOURS = {"accepted": "#2e7d32", "rejected": "#c62828", "needs_fix": "#ef6c00",
                  "edited": "#1565c0", "candidate": "#616161"}


class QATableModel(QAbstractTableModel):
    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.ids: list[str] = []
        self._rows: dict[str, dict] = {}
        self._row_of: dict[str, int] = {}
        controller.filtersChanged.connect(self.reload)
        controller.itemsChanged.connect(self.refresh)

    # -- loading ------------------------------------------------------------------------------
    def reload(self) -> None:
        self.beginResetModel()
        self.ids = self.controller.ids()
        self._row_of = {qid: i for i, qid in enumerate(self.ids)}
        self._rows = {}
        self.endResetModel()

    def refresh(self, qa_ids: list) -> None:
        """Re-read changed rows ([] = everything: rows may have appeared or gone)."""
        if not qa_ids:
            self.reload()
            return
        for qid in qa_ids:
            self._rows.pop(qid, None)
            row = self._row_of.get(qid)
            if row is not None:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def _row(self, row: int) -> Optional[dict]:
        qid = self.ids[row]
        hit = self._rows.get(qid)
        if hit is None:
            start = row - row % PAGE
            page = [i for i in self.ids[start:start + PAGE] if i not in self._rows]
            self._rows.update(self.controller.repo.qa_table_rows(page))
            hit = self._rows.get(qid)
        return hit

    # -- Qt model API -----------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._row(index.row())
        if row is None:
            return None
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return _text(row, key)
        if role == Qt.ItemDataRole.ForegroundRole and key == "status":
            return QColor(STATUS_COLOURS.get(row["status"], "#616161"))
        if role == Qt.ItemDataRole.ToolTipRole and key == "question":
            return row["question"]
        if role == Qt.ItemDataRole.UserRole:
            return row["qa_id"]
        return None

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        key = SORT_KEYS.get(COLUMNS[column][0], "seq")
        self.controller.set_sort(key, order == Qt.SortOrder.DescendingOrder)

    # -- helpers ----------------------------------------------------------------------------------
    def qa_id(self, row: int) -> Optional[str]:
        return self.ids[row] if 0 <= row < len(self.ids) else None

    def row_of(self, qa_id: str) -> Optional[int]:
        return self._row_of.get(qa_id)


def _text(row: dict, key: str) -> str:
    if key == "answer":
        options = json.loads(row["options"])
        i = row["answer_index"]
        return f"{'ABCDEFGHIJ'[i]}. {options[i]}" if 0 <= i < len(options) else "?"
    if key == "status":
        return row["status"].replace("_", "-")
    if key == "question":
        return row["question"].replace("\n", " ")[:200]
    return str(row[key] if row[key] is not None else "")
