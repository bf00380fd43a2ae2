"""The QA curation panel: filters, the lazily loaded table, the editor, one-key review
(A accept, R reject, F needs fix, J/K or N/P next/previous), bulk actions on a selection,
undo/redo (Ctrl+Z / Ctrl+Shift+Z, described in words), quality report and blind test (a
view that stays, beside the editor), per-sub-task progress and generation."""
from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGridLayout, QHBoxLayout,
                               QHeaderView, QInputDialog, QLabel, QLineEdit, QMenu, QMessageBox,
                               QPushButton, QSplitter, QTableView, QTabWidget, QToolButton,
                               QVBoxLayout, QWidget)

from app.controllers.curation import CurationController
from models.qa.record import REVIEW_STATUSES
from models.qa.taxonomy import task_ids

from .. import dialogs
from .clip_pick import ClipPickDialog
from .editor import QAEditor
from .model_dialog import ModelChoiceDialog
from .quality import QualityView
from .table_model import COLUMNS, QATableModel

# Preferred widths (in average characters) of the columns beside the question; in a narrow
# dock they shrink together so the question keeps at least QUESTION_SHARE of the width.
SIDE_CHARS = {"status": 9, "task": 13, "video": 13, "answer": 16, "source": 6}
QUESTION_SHARE = 0.45
REVIEW_KEYS = {Qt.Key.Key_A: "accept", Qt.Key.Key_R: "reject", Qt.Key.Key_F: "needs_fix",
               Qt.Key.Key_J: "next", Qt.Key.Key_N: "next", Qt.Key.Key_K: "previous",
               Qt.Key.Key_P: "previous"}


class QATableView(QTableView):
    """Single keys without modifiers are review actions while the table has focus (they
    win over the window's own single-key shortcuts only here)."""

    def __init__(self, panel, parent=None) -> None:
        super().__init__(parent)
        self.panel = panel

    def fit_columns(self) -> None:
        """The question column (stretching) keeps QUESTION_SHARE of the width at least."""
        header = self.horizontalHeader()
        avail = self.viewport().width()
        if avail <= 0:
            return
        char = self.fontMetrics().averageCharWidth()
        wanted = {i: SIDE_CHARS[key] * char + 12 for i, (key, _t) in enumerate(COLUMNS)
                  if key in SIDE_CHARS}
        room = max(0, int(avail * (1 - QUESTION_SHARE)))
        scale = min(1.0, room / max(1, sum(wanted.values())))
        for i, w in wanted.items():
            header.resizeSection(i, max(header.minimumSectionSize(), int(w * scale)))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.fit_columns()

    def _review_key(self, event) -> str | None:
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return None
        return REVIEW_KEYS.get(Qt.Key(event.key()))

    def event(self, event):
        if event.type() == QEvent.Type.ShortcutOverride and self._review_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        action = self._review_key(event)
        if action is None:
            super().keyPressEvent(event)
            return
        getattr(self.panel, action)()


class CurationPanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.controller = CurationController(ctx, parent=self)
        self.model = QATableModel(self.controller, self)
        self.table = QATableView(self)
        self.editor = QAEditor(self.controller, self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self._build_filters()
        self._build_table()
        self._build_buttons()
        self._layout()
        self._wire()
        self.reload()

    # -- construction ---------------------------------------------------------------------------
    def _combo(self, key: str, label: str, values) -> QComboBox:
        box = QComboBox()
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(9)
        box.addItem(f"All {label}", None)
        for v in values:
            box.addItem(str(v).replace("_", " "), v)
        box.currentIndexChanged.connect(
            lambda _i, k=key, b=box: self.controller.set_filter(k, b.currentData()))
        return box

    def _build_filters(self) -> None:
        self.task_box = self._combo("task", "sub-tasks", task_ids())
        self.status_box = self._combo("status", "statuses", REVIEW_STATUSES)
        self.source_box = self._combo("source", "sources", self.ctx.repo.qa_distinct("source"))
        self.video_box = self._combo("video", "clips", self.ctx.repo.qa_distinct("video"))
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search question, options, note…")
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(
            lambda: self.controller.set_filter("text", self.search.text().strip()))
        self.search.textChanged.connect(lambda _t: self._search_timer.start())

    def _build_table(self) -> None:
        t = self.table
        t.setModel(self.model)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        t.setSortingEnabled(True)
        t.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        t.verticalHeader().setDefaultSectionSize(22)
        t.verticalHeader().hide()
        header = t.horizontalHeader()
        header.setMinimumSectionSize(36)
        for i, (key, _title) in enumerate(COLUMNS):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.Stretch if key == "question"
                                        else QHeaderView.ResizeMode.Interactive)
        t.setTextElideMode(Qt.TextElideMode.ElideRight)
        t.fit_columns()
        t.setWordWrap(False)
        t.setMinimumHeight(150)

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    def _build_buttons(self) -> None:
        self.accept_btn = self._button("Accept (A)", "Accept the selected item(s)", self.accept)
        self.reject_btn = self._button("Reject (R)", "Reject the selected item(s)", self.reject)
        self.fix_btn = self._button("Needs fix (F)", "Mark the selected item(s) as needing a fix",
                                    self.needs_fix)
        self.undo_act = QAction("Undo", self, shortcut=QKeySequence("Ctrl+Z"))
        self.redo_act = QAction("Redo", self, shortcut=QKeySequence("Ctrl+Shift+Z"))
        for act, slot in ((self.undo_act, self.controller.undo), (self.redo_act, self.controller.redo)):
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            self.addAction(act)
        self.undo_btn, self.redo_btn = QToolButton(), QToolButton()
        self.undo_btn.setDefaultAction(self.undo_act)
        self.redo_btn.setDefaultAction(self.redo_act)
        self.report_btn = self._button("Quality report", "Run the quality checks on the listed items",
                                       self.show_report)
        self.gen_btn = QToolButton(text="Generate QA")
        self.gen_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.gen_btn)
        menu.addAction("From the open clip's poses", lambda: self.generate(False))
        menu.addAction("From chosen clips of the dataset…", self.generate_chosen)
        menu.addAction("From every clip of the dataset", lambda: self.generate(True))
        menu.addAction("From texts: captions, model answers, pose descriptions (choose a model)…",
                       self.generate_from_text)
        menu.addAction("Blind test (choose a model)…", self.blind_test)
        menu.addAction("Cancel generation", self.controller.cancel_generation)
        menu.addSeparator()
        menu.addAction("Import captions…", self.import_captions)
        menu.addAction("Type a caption for the open clip…", self.type_caption)
        self.gen_btn.setMenu(menu)

    def _layout(self) -> None:
        filters = QGridLayout()    # 2 x 2 and two button rows: fits a narrow side dock
        for i, w in enumerate((self.task_box, self.status_box, self.source_box, self.video_box)):
            filters.addWidget(w, i // 2, i % 2)
        buttons = QHBoxLayout()
        for w in (self.accept_btn, self.reject_btn, self.fix_btn, self.undo_btn, self.redo_btn):
            buttons.addWidget(w)
        buttons.addStretch(1)
        tools = QHBoxLayout()
        tools.addWidget(self.gen_btn)
        tools.addStretch(1)
        tools.addWidget(self.report_btn)
        self.quality = QualityView(self.controller.item_words, self.select_id)
        self.lower = QTabWidget()
        self.lower.addTab(self.editor, "Item")
        self.lower.addTab(self.quality, "Quality report")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([320, 220])
        lay = QVBoxLayout(self)
        lay.addLayout(filters)
        lay.addWidget(self.search)
        lay.addLayout(tools)
        lay.addLayout(buttons)
        lay.addWidget(split, 1)
        lay.addWidget(self.summary)

    def _wire(self) -> None:
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.controller.itemsChanged.connect(self._on_items_changed)
        self.controller.undoChanged.connect(self._on_undo_changed)
        self.controller.filtersChanged.connect(self._restore_selection)
        self.controller.posesMissing.connect(self.offer_extraction)
        self.controller.reportReady.connect(self._on_report)
        self.controller.blindTestDone.connect(self._on_blind_test)
        self.controller.generationProgress.connect(
            lambda d, t, m: self.summary.setText(f"Generating QA… {d}/{t} {m}"))
        self._on_undo_changed(self.controller.action_words(self.ctx.repo.undo_label()),
                              self.controller.action_words(self.ctx.repo.redo_label()))

    # -- intents ----------------------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        ids = [self.model.qa_id(r) for r in rows]
        cur = self.model.qa_id(self.table.currentIndex().row())
        return [i for i in ids if i] or ([cur] if cur else [])

    def _review(self, status: str) -> None:
        ids = self.selected_ids()
        if ids:
            self.controller.set_status(ids, status)
            if len(ids) == 1:
                self.next()

    def accept(self) -> None:
        self._review("accepted")

    def reject(self) -> None:
        self._review("rejected")

    def needs_fix(self) -> None:
        self._review("needs_fix")

    def next(self) -> None:
        self._move(1)

    def previous(self) -> None:
        self._move(-1)

    def _move(self, step: int) -> None:
        row = self.table.currentIndex().row()
        target = max(0, min(self.model.rowCount() - 1, row + step if row >= 0 else 0))
        self.select_row(target)

    def select_id(self, qa_id: str) -> None:
        """Select an item (e.g. from the quality view); clears the filters if it is hidden."""
        row = self.model.row_of(qa_id)
        if row is None:
            self.controller.current = qa_id
            for box in (self.task_box, self.status_box, self.source_box, self.video_box):
                box.setCurrentIndex(0)
            self.search.clear()
            self.controller.set_filter("text", "")
            row = self.model.row_of(qa_id)
        if row is not None:
            self.select_row(row)
            self.lower.setCurrentWidget(self.editor)

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            index = self.model.index(row, 0)
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | \
                QItemSelectionModel.SelectionFlag.Rows
            self.table.selectionModel().setCurrentIndex(index, flags)
            self.table.scrollTo(index)

    def reload(self) -> None:
        self.model.reload()
        self._update_summary()

    def generate(self, whole_dataset: bool) -> None:
        paths = list(self.ctx.dataset.paths) if whole_dataset else \
            [self.ctx.player.path] if self.ctx.player.path else []
        if not paths:
            self.ctx.message("Open a clip or a dataset folder first")
            return
        self.controller.generate(paths)

    def generate_chosen(self) -> Optional[ClipPickDialog]:
        paths = list(self.ctx.dataset.paths)
        if not paths:
            self.ctx.message("Open a dataset folder first")
            return None
        dlg = ClipPickDialog(paths, self.controller.generate, self)
        self._clip_dialog = dlg
        dlg.open()
        return dlg

    def offer_extraction(self, paths: list) -> QMessageBox:
        """Clips without poses were skipped: ask (non-blocking) whether to extract them."""
        names = ", ".join(os.path.basename(p) for p in paths[:4]) + ("…" if len(paths) > 4 else "")
        box = QMessageBox(QMessageBox.Icon.Question, "No poses yet",
                          f"{len(paths)} clip(s) have no extracted poses ({names}), so no QA "
                          "could be generated from them.\n\nExtract their poses now and "
                          "generate QA?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.finished.connect(lambda r, p=list(paths): self._extraction_answer(r, p))
        self._extract_box = box
        box.open()
        return box

    def _extraction_answer(self, result: int, paths: list) -> None:
        if result == QMessageBox.StandardButton.Yes:
            self.controller.extract_and_generate(paths)

    def _choose_model(self, title: str, explanation: str, run) -> ModelChoiceDialog:
        dlg = ModelChoiceDialog(self.controller, title, explanation, run, self)
        self._model_dialog = dlg
        dlg.open()
        return dlg

    def generate_from_text(self) -> ModelChoiceDialog:
        return self._choose_model(
            "Generate QA from text", "Generate questions (human-object interaction, action "
            "sequence) from the project's captions and saved model answers, and the open "
            "clip's pose descriptions and difference texts, with:",
            self.controller.generate_from_text)

    def blind_test(self) -> ModelChoiceDialog:
        return self._choose_model(
            "Blind test", "Ask this model every listed question without any frames; items "
            "it answers right are flagged (they may not need the video):",
            self.controller.run_blind_test)

    def import_captions(self) -> None:
        path = dialogs.open_file(self, "Import captions", "Captions (*.csv *.json *.jsonl)")
        if path:
            self.controller.import_captions(path)

    def type_caption(self) -> None:
        path = self.ctx.player.path
        if not path:
            self.ctx.message("Open a clip first")
            return
        video = os.path.basename(path)
        text, ok = QInputDialog.getMultiLineText(self, "Caption", f"Caption for {video}:")
        if ok:
            self.controller.add_caption(video, text)

    def show_report(self) -> dict:
        """Run the checks; the report shows in the Quality report tab (and stays there)."""
        report = self.controller.run_checks()
        self._show_current()
        return report

    def _on_report(self, report: dict) -> None:
        self.quality.show_report(report)
        self.lower.setCurrentWidget(self.quality)

    def _on_blind_test(self, right: dict, tested: list, model: str) -> None:
        self.quality.show_blind_test(right, tested, model)
        self.lower.setCurrentWidget(self.quality)

    # -- observers ---------------------------------------------------------------------------------
    def _on_current_row(self, current, _previous) -> None:
        qa_id = self.model.qa_id(current.row())
        rec = self.controller.select(qa_id)
        self.editor.show_record(rec, self.controller.flags(qa_id) if qa_id else [])

    def _show_current(self) -> None:
        qa_id = self.controller.current
        rec = self.controller.record(qa_id) if qa_id else None
        self.editor.show_record(rec, self.controller.flags(qa_id) if rec else [])

    def _refill(self, box: QComboBox, values) -> None:
        current = box.currentData()
        box.blockSignals(True)
        while box.count() > 1:
            box.removeItem(1)
        for v in values:
            box.addItem(str(v).replace("_", " "), v)
        box.setCurrentIndex(max(0, box.findData(current)) if current is not None else 0)
        box.blockSignals(False)

    def _on_items_changed(self, ids: list) -> None:
        if not ids:
            self._refill(self.source_box, self.ctx.repo.qa_distinct("source"))
            self._refill(self.video_box, self.ctx.repo.qa_distinct("video"))
            self._restore_selection()
        self._show_current()
        self._update_summary()

    def _restore_selection(self) -> None:
        row = self.model.row_of(self.controller.current) if self.controller.current else None
        if row is not None:
            self.select_row(row)

    def _on_undo_changed(self, undo: str, redo: str) -> None:
        self.undo_act.setEnabled(bool(undo))
        self.undo_act.setToolTip(f"Undo {undo} (Ctrl+Z)" if undo else "Nothing to undo")
        self.redo_act.setEnabled(bool(redo))
        self.redo_act.setToolTip(f"Redo {redo} (Ctrl+Shift+Z)" if redo else "Nothing to redo")

    def _update_summary(self) -> None:
        summary = self.controller.summary()
        short = [f"{task.replace('_', ' ')} {d['accepted']}✓ {d['rejected']}✗ /{d['total']}"
                 for task, d in sorted(summary.items())]
        full = [f"{task}: {d['total']} items: {d['candidate']} candidates, {d['accepted']} "
                f"accepted, {d['rejected']} rejected, {d['edited']} edited, {d['needs_fix']} "
                f"need a fix" for task, d in sorted(summary.items())]
        self.summary.setText(" · ".join(short) if short else "No QA items yet: use Generate QA")
        self.summary.setToolTip("\n".join(full))
