"""The quality view of the curation panel: the last quality report and the last blind test,
kept on screen (a tab beside the item editor) until the next run replaces them.

A tree: answer positions per option count (balanced or not), each flag with its count and
the flagged items (question text; double-click selects the item), and the blind test's
model, score and the items it answered right without the video.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

WARN = QBrush(QColor(240, 176, 80))


class QualityView(QWidget):
    def __init__(self, item_words: Callable[[str], str], on_pick: Callable[[str], None],
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.item_words, self.on_pick = item_words, on_pick
        self.placeholder = QLabel("No quality report yet: use “Quality report” or a blind test "
                                  "(Generate QA menu).")
        self.placeholder.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["check", "result"])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.tree.itemDoubleClicked.connect(self._pick)
        self.tree.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.placeholder)
        lay.addWidget(self.tree, 1)
        self._report: Optional[QTreeWidgetItem] = None
        self._blind: Optional[QTreeWidgetItem] = None

    # -- content ----------------------------------------------------------------------------
    def _section(self, old: Optional[QTreeWidgetItem], title: str, result: str,
                 index: int) -> QTreeWidgetItem:
        if old is not None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(old))
        top = QTreeWidgetItem([title, result])
        font = top.font(0)
        font.setBold(True)
        top.setFont(0, font)
        self.tree.insertTopLevelItem(min(index, self.tree.topLevelItemCount()), top)
        top.setExpanded(True)
        self.placeholder.hide()
        self.tree.show()
        return top

    def _items(self, parent: QTreeWidgetItem, qa_ids, detail: Callable[[str], str] = lambda _q: "",
               limit: int = 200) -> None:
        for qa_id in list(qa_ids)[:limit]:
            row = QTreeWidgetItem(parent, [self.item_words(qa_id), detail(qa_id)])
            row.setData(0, Qt.ItemDataRole.UserRole, qa_id)
            row.setToolTip(0, f"{qa_id}: double-click to open it")
        if len(qa_ids) > limit:
            QTreeWidgetItem(parent, [f"… and {len(qa_ids) - limit} more", ""])

    def show_report(self, report: dict) -> None:
        stamp = datetime.now().strftime("%H:%M")
        top = self._section(self._report, f"Quality report ({stamp})",
                            f"{report['items']} items checked", 0)
        self._report = top
        for n, b in sorted(report["balance"].items()):
            counts = ", ".join(f"{k} {v}" for k, v in (b["counts"].items()
                               if isinstance(b["counts"], dict) else enumerate(b["counts"])))
            row = QTreeWidgetItem(top, [f"answer positions ({n} options)",
                                        "balanced" if b["balanced"] else "unbalanced"])
            row.setToolTip(1, counts)
            QTreeWidgetItem(row, [counts, ""])
            if not b["balanced"]:
                row.setForeground(1, WARN)
        by_flag: dict[str, list[str]] = {}
        for qa_id, flags in report["flags"].items():
            for f in flags:
                by_flag.setdefault(f.split(" of ")[0], []).append(qa_id)
        if not report["flag_counts"]:
            QTreeWidgetItem(top, ["flags", "no item flagged"])
        for name, count in sorted(report["flag_counts"].items()):
            row = QTreeWidgetItem(top, [name, f"{count} item{'s' if count != 1 else ''}"])
            row.setForeground(1, WARN)
            self._items(row, by_flag.get(name, []))

    def show_blind_test(self, right: dict, tested: list, model: str) -> None:
        stamp = datetime.now().strftime("%H:%M")
        top = self._section(self._blind, f"Blind test with {model} ({stamp})",
                            f"{len(right)} of {len(tested)} right without the video", 1)
        self._blind = top
        if right:
            top.setForeground(1, WARN)
            self._items(top, list(right), lambda q: "answered without the video")
        else:
            QTreeWidgetItem(top, ["no question could be answered without the video", ""])

    def texts(self) -> list[str]:
        """Every row as "check | result", depth-first (for tests and copying)."""
        out = []

        def walk(item, depth):
            out.append("  " * depth + f"{item.text(0)} | {item.text(1)}")
            for i in range(item.childCount()):
                walk(item.child(i), depth + 1)
        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i), 0)
        return out

    def _pick(self, item: QTreeWidgetItem, _col: int) -> None:
        qa_id = item.data(0, Qt.ItemDataRole.UserRole)
        if qa_id:
            self.on_pick(qa_id)
