"""The QA item editor: question, options (one per line), answer, note; the item's facts
(a table: one row per fact, one column per field) and quality flags read-only. Saving
calls the controller (one undoable edit)."""
from __future__ import annotations

import json
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from models.qa.record import LETTERS, QARecord

# Fact fields in reading order; any other field follows, in the order it first appears.
FACT_FIELDS = ("frame", "frame_a", "frame_b", "start_s", "end_s", "part", "measure",
               "quantity", "phrase", "value", "unit", "bin", "direction", "visibility")
FIELD_TITLES = {"frame_a": "frame A", "frame_b": "frame B", "start_s": "from (s)",
                "end_s": "to (s)", "visibility": "vis."}


def fact_columns(facts: list) -> list[str]:
    keys = list(dict.fromkeys(k for f in facts if isinstance(f, dict) for k in f))
    return [k for k in FACT_FIELDS if k in keys] + [k for k in keys if k not in FACT_FIELDS]


def fact_cell(value) -> str:
    """One field as a person reads it: numbers rounded, names without underscores."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.3g}"
    if isinstance(value, str):
        return value.replace("_", " ")
    if isinstance(value, (list, tuple)):
        return ", ".join(fact_cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')} {fact_cell(v)}" for k, v in value.items())
    return str(value)


class FactsTable(QTableWidget):
    """The facts an answer was derived from, as a read-only table."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)

    def set_facts(self, facts) -> None:
        facts = [f if isinstance(f, dict) else {"fact": f} for f in (facts or [])]
        cols = fact_columns(facts)
        self.clear()
        self.setColumnCount(len(cols))
        self.setRowCount(len(facts))
        self.setHorizontalHeaderLabels([FIELD_TITLES.get(c, c.replace("_", " ")) for c in cols])
        for r, fact in enumerate(facts):
            for c, key in enumerate(cols):
                item = QTableWidgetItem(fact_cell(fact.get(key)))
                item.setToolTip(json.dumps(fact, ensure_ascii=False))
                if isinstance(fact.get(key), (int, float)) and not isinstance(fact.get(key), bool):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)

    def texts(self) -> list[list[str]]:
        return [[self.item(r, c).text() for c in range(self.columnCount())]
                for r in range(self.rowCount())]


class QAEditor(QWidget):
    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.qa_id: Optional[str] = None
        self._shown: tuple = ()   # (question, option lines, answer, note) as displayed
        self.question = QPlainTextEdit()
        self.question.setMaximumHeight(70)
        self.question.setMinimumHeight(30)
        self.options = QPlainTextEdit()
        self.options.setPlaceholderText("one option per line")
        lines = self.options.fontMetrics().lineSpacing()
        self.options.setMinimumHeight(5 * lines + 12)   # five options visible
        self.options.setMaximumHeight(6 * lines + 12)
        self.options.textChanged.connect(self._sync_answers)
        self.answer = QComboBox()
        self.note = QLineEdit()
        self.save = QPushButton("Save edit")
        self.save.setToolTip("Save question, options, answer and note (Ctrl+S)")
        self.save.clicked.connect(self.commit)
        save = QShortcut(QKeySequence("Ctrl+S"), self, self.commit)
        save.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.facts = FactsTable()
        self.facts.setMinimumHeight(24)
        self.history = QPlainTextEdit()
        self.history.setReadOnly(True)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.facts, "Facts the answer was derived from")
        self.tabs.addTab(self.history, "Edit history")
        self._layout()
        self.setEnabled(False)

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Question", self.question)
        form.addRow("Options", self.options)
        row = QHBoxLayout()
        row.addWidget(self.answer, 1)
        row.addWidget(self.save)
        form.addRow("Answer", row)
        form.addRow("Note", self.note)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(form)
        lay.addWidget(self.info)
        lay.addWidget(self.tabs, 1)

    def _sync_answers(self) -> None:
        n = len(self.option_list())
        keep = self.answer.currentIndex()
        self.answer.blockSignals(True)
        self.answer.clear()
        opts = self.option_list()
        self.answer.addItems([f"{LETTERS[i]}. {o}" for i, o in enumerate(opts[:len(LETTERS)])])
        self.answer.setCurrentIndex(min(max(keep, 0), n - 1) if n else -1)
        self.answer.blockSignals(False)

    def option_list(self) -> list[str]:
        return [ln.strip() for ln in self.options.toPlainText().splitlines() if ln.strip()]

    def show_record(self, rec: Optional[QARecord], flags: list[str] = ()) -> None:
        self.qa_id = rec.qa_id if rec else None
        self.setEnabled(rec is not None)
        if rec is None:
            for w in (self.question, self.options, self.history):
                w.setPlainText("")
            self.facts.set_facts([])
            self.note.setText("")
            self.info.setText("")
            return
        self.question.setPlainText(rec.question)
        self.options.setPlainText("\n".join(rec.options))
        self.answer.setCurrentIndex(rec.answer_index)
        self.note.setText(rec.review.note or "")
        self._shown = (self.question.toPlainText(), self.option_list(), rec.answer_index,
                       self.note.text())
        self.facts.set_facts(rec.provenance.facts or [])
        self.history.setPlainText("\n".join(self.controller.history(rec.qa_id)) or
                                  "no edits yet")
        where = f"frames A={rec.frame_a} B={rec.frame_b}" if rec.frame_b is not None else \
            (f"{rec.start_s}-{rec.end_s} s" if rec.start_s is not None else f"frame {rec.frame_a}")
        text = f"{rec.task} · {rec.review.status} · {rec.source} · {rec.video} · {where}"
        if flags:
            text += "\n⚠ " + "; ".join(flags)
        self.info.setText(text)

    def commit(self) -> Optional[int]:
        """Save what the reviewer changed; untouched fields are passed as None so the stored
        text stays exactly as it was (an option with a line break or edge spaces is never
        rewritten by a save that did not touch the options)."""
        if self.qa_id is None:
            return None
        question, options, answer, note = self._shown
        new_q = self.question.toPlainText()
        new_opts = self.option_list()
        new_note = self.note.text()
        return self.controller.edit(
            self.qa_id, None if new_q == question else new_q,
            None if new_opts == options else new_opts,
            None if self.answer.currentIndex() == answer and new_opts == options
            else self.answer.currentIndex(),
            None if new_note == note else (new_note or ""))
