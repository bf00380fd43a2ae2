"""Evaluation panel: start (or resume) runs of one or several models + the rule-based
reference with the same settings, watch progress, cancel; reopen past runs as a table
(model x sub-task, mean, overall) and a bar chart; compare two runs item by item."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.controllers.evaluation import EvaluationController
from models.answer_parse import PROMPT_TEMPLATES
from models.errors import StudioError
from models.eval_report import MEAN, OVERALL
from models.evaluate import EvalSettings
from widgets import dialogs
from widgets.evaluation.choosers import STATUS_CHOICES, CheckList, TaskList

RUN_COLUMNS = ("id", "name", "status", "items", "answered", "correct")
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")


class EvaluationPanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.controller = EvaluationController(ctx, self)
        self.shown_runs: list[int] = []
        self._build()
        c = self.controller
        c.runsChanged.connect(self.refresh_runs)
        c.progress.connect(self._on_progress)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        self.refresh_runs()

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.addLayout(self._build_set_row())
        lay.addLayout(self._build_model_row())
        self.progress_bar = QProgressBar()
        lay.addWidget(self.progress_bar)
        self._build_results(lay)

    def _build_set_row(self) -> QHBoxLayout:
        self.set_combo = QComboBox()
        self.set_combo.addItems([f"curated: {label}" for label, _ in STATUS_CHOICES]
                                + ["imported items", "QA file (JSONL / JSON)"])
        self.set_combo.currentIndexChanged.connect(self._set_kind_changed)
        self.file_edit = QLineEdit(placeholderText="canonical / exported JSONL, MVBench or "
                                                   "Video-MME JSON")
        self.file_button = QPushButton("Browse…")
        self.file_button.clicked.connect(self._browse_file)
        self.task_list = TaskList(rows=3)
        self.task_list.setToolTip("sub-tasks to evaluate")
        self._set_kind_changed()
        col = QVBoxLayout()
        col.addWidget(self.set_combo)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit)
        file_row.addWidget(self.file_button)
        col.addLayout(file_row)
        row = QHBoxLayout()
        row.addWidget(QLabel("QA set"))
        row.addLayout(col, 2)
        row.addWidget(QLabel("Sub-tasks"))
        row.addWidget(self.task_list, 2)
        return row

    def _build_model_row(self) -> QHBoxLayout:
        self.model_list = CheckList(rows=3)
        self.model_list.setToolTip("models the VLM panels know (found or added there)")
        refresh = QPushButton("Find models")
        refresh.clicked.connect(self.controller.vlm.refresh_choices)
        self.controller.vlm.choicesChanged.connect(self.refresh_models)
        self.model_edit = QLineEdit(placeholderText="more: checkpoint folder or http://host/v1#model; "
                                                    "several separated by ';'")
        self.reference_check = QCheckBox("rule-based reference")
        self.reference_check.setChecked(True)
        self.frames_spin = QSpinBox(minimum=1, maximum=64, value=8)
        self.template_combo = QComboBox()
        self.template_combo.addItems(list(PROMPT_TEMPLATES))
        self.run_button = QPushButton("Evaluate")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.controller.cancel)
        col = QVBoxLayout()
        col.addWidget(self.model_edit)
        opts = QHBoxLayout()
        for w in (self.reference_check, QLabel("frames"), self.frames_spin, QLabel("prompt"),
                  self.template_combo, self.run_button, self.cancel_button):
            opts.addWidget(w)
        col.addLayout(opts)
        row = QHBoxLayout()
        row.addWidget(QLabel("Models"))
        row.addWidget(self.model_list, 2)
        row.addWidget(refresh)
        row.addLayout(col, 3)
        self.refresh_models()
        return row

    def _build_results(self, lay) -> None:
        self.runs_table = QTableWidget(0, len(RUN_COLUMNS))
        self.runs_table.setHorizontalHeaderLabels(RUN_COLUMNS)
        self.runs_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.runs_table.itemSelectionChanged.connect(self.show_selected)
        buttons = QHBoxLayout()
        for text, slot in (("Compare two", self.compare_selected), ("Delete run", self.delete_selected),
                           ("Save report…", self.save_report), ("Export benchmark…", self.open_export)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        self.results = QTableWidget()
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.chart = pg.PlotWidget(background="w")
        self.chart.setLabel("left", "accuracy (%)")
        self.chart.setYRange(0, 132, padding=0)     # headroom above 100 %: labels, legend row
        self.chart.getAxis("left").setTicks([[(v, str(v)) for v in range(0, 101, 20)]])
        self.legend = self.chart.addLegend(offset=(10, 5), brush=pg.mkBrush(255, 255, 255, 220))
        self.compare_text = QPlainTextEdit(readOnly=True)
        split = QSplitter(Qt.Orientation.Vertical)
        for w in (self.runs_table, self.results, self.chart, self.compare_text):
            split.addWidget(w)
        lay.addLayout(buttons)
        lay.addWidget(split)

    # -- intents ---------------------------------------------------------------------------------
    def specs(self) -> list[str]:
        typed = [s.strip() for s in self.model_edit.text().split(";") if s.strip()]
        specs = list(dict.fromkeys(self.model_list.checked() + typed))
        return specs + (["rule"] if self.reference_check.isChecked() else [])

    def settings(self) -> EvalSettings:
        return EvalSettings(frames=self.frames_spin.value(),
                            template=self.template_combo.currentText())

    def chosen_set(self):
        """(records, video root) of the chosen QA set and sub-tasks."""
        tasks = self.task_list.selected()
        if tasks == []:
            raise StudioError("Choose at least one sub-task")
        k = self.set_combo.currentIndex()
        if k < len(STATUS_CHOICES):
            return self.controller.qa_set("curated", STATUS_CHOICES[k][1], tasks)
        if k == len(STATUS_CHOICES):
            return self.controller.qa_set("imported", tasks=tasks)
        return self.controller.qa_set("file", tasks=tasks, path=self.file_edit.text().strip())

    def start(self) -> bool:
        try:
            records, root = self.chosen_set()
        except StudioError as exc:
            self._on_failed(str(exc))
            return False
        started = self.controller.start(self.specs(), self.settings(), records=records, root=root)
        if started:
            self.progress_bar.setValue(0)
            self.ctx.message("Evaluation started")
        return started

    def selected_runs(self) -> list[int]:
        rows = sorted({i.row() for i in self.runs_table.selectedIndexes()})
        return [int(self.runs_table.item(r, 0).text()) for r in rows]

    def select_runs(self, run_ids) -> None:
        self.runs_table.clearSelection()
        mode = self.runs_table.selectionMode()
        self.runs_table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for r in range(self.runs_table.rowCount()):
            if int(self.runs_table.item(r, 0).text()) in run_ids:
                self.runs_table.selectRow(r)
        self.runs_table.setSelectionMode(mode)

    def show_selected(self) -> None:
        self.show_runs(self.selected_runs())

    def compare_selected(self) -> None:
        runs = self.selected_runs()
        if len(runs) != 2:
            self.compare_text.setPlainText("Select exactly two runs to compare.")
            return
        c = self.controller.compare(*runs)
        lines = [f"Run #{c.run_a} vs run #{c.run_b}: {c.common} items answered by both",
                 f"became correct ({len(c.to_correct)}): " + ", ".join(c.to_correct),
                 f"became wrong ({len(c.to_wrong)}): " + ", ".join(c.to_wrong),
                 f"other answer, same result ({len(c.changed)}): " + ", ".join(c.changed)]
        self.compare_text.setPlainText("\n".join(lines))

    def delete_selected(self) -> None:
        for run_id in self.selected_runs():
            self.controller.delete_run(run_id)

    def save_report(self) -> None:
        runs = self.selected_runs() or self.shown_runs
        path = dialogs.open_file(self, "Save report as (.csv or .md)", "Reports (*.csv *.md)")
        if path and runs:
            try:
                self.controller.report(runs, path)
            except Exception as exc:  # noqa: BLE001 (StudioError: one line to the user)
                dialogs.error("Cannot save the report", str(exc), self)

    def open_export(self):
        from widgets.export.dialog import ExportDialog  # noqa: PLC0415

        dlg = ExportDialog(self.ctx, self.controller, self)
        dlg.show()
        return dlg

    def _set_kind_changed(self, *_):
        is_file = self.set_combo.currentIndex() == len(STATUS_CHOICES) + 1
        self.file_edit.setEnabled(is_file)
        self.file_button.setEnabled(is_file)
        self.refresh_tasks()

    def _browse_file(self) -> None:
        path = dialogs.open_file(self, "QA file to evaluate", "QA files (*.jsonl *.json)")
        if path:
            self.file_edit.setText(path)
            self.refresh_tasks()

    def refresh_tasks(self) -> None:
        """Sub-tasks of the project, plus those of a chosen QA file."""
        tasks = set(self.controller.tasks())
        path = self.file_edit.text().strip()
        if self.set_combo.currentIndex() == len(STATUS_CHOICES) + 1 and path:
            try:
                tasks |= {r.task for r in self.controller.qa_set("file", path=path)[0]}
            except StudioError as exc:
                self.ctx.message(str(exc), 0)
        self.task_list.set_tasks(sorted(tasks))

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.refresh_tasks()                 # items may have been curated meanwhile
        super().showEvent(event)

    def refresh_models(self) -> None:
        self.model_list.set_items(self.controller.model_choices(), checked=False)

    # -- rendering -------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        runs = self.controller.runs()
        self.runs_table.blockSignals(True)
        self.runs_table.setRowCount(len(runs))
        for r, run in enumerate(runs):
            for c, key in enumerate(RUN_COLUMNS):
                self.runs_table.setItem(r, c, QTableWidgetItem(str(run[key])))
        self.runs_table.blockSignals(False)

    def show_runs(self, run_ids) -> None:
        self.shown_runs = list(run_ids)
        rows = self.controller.table(run_ids) if run_ids else []
        models = list(dict.fromkeys(r["model"] for r in rows))
        tasks = list(dict.fromkeys(r["sub_task"] for r in rows))
        acc = {(r["model"], r["sub_task"]): r["accuracy"] for r in rows}
        self.results.clear()
        self.results.setRowCount(len(tasks))
        self.results.setColumnCount(len(models))
        self.results.setHorizontalHeaderLabels(models)
        self.results.setVerticalHeaderLabels(tasks)
        for i, t in enumerate(tasks):
            for j, m in enumerate(models):
                self.results.setItem(i, j, QTableWidgetItem(acc.get((m, t), "")))
        self.results.resizeColumnsToContents()
        self._draw_chart(models, [t for t in tasks if t != OVERALL], acc)

    def _draw_chart(self, models, tasks, acc) -> None:
        self.chart.clear()
        self.legend.clear()
        self.bars = []
        width = 0.8 / max(1, len(models))
        for j, m in enumerate(models):
            heights = [float(acc.get((m, t)) or 0.0) for t in tasks]
            xs = [i + (j - (len(models) - 1) / 2) * width for i in range(len(tasks))]
            bar = pg.BarGraphItem(x=xs, height=heights, width=width * 0.9,
                                  brush=pg.mkBrush(COLORS[j % len(COLORS)]), name=m)
            self.chart.addItem(bar)   # named items join the legend
            self.bars.append(bar)
            for x, t, h in zip(xs, tasks, heights):   # value on top (0 % bars are invisible)
                value = acc.get((m, t))
                label = pg.TextItem(f"{h:.0f}" if value not in (None, "") else "n/a",
                                    color="#333333", anchor=(0.5, 1.0))
                label.setPos(x, h)
                self.chart.addItem(label)
        self.legend.setColumnCount(max(1, len(models)))   # one row above the bars
        labels = [(i, "mean" if t == MEAN else t) for i, t in enumerate(tasks)]
        self.chart.getAxis("bottom").setTicks([labels])

    def _on_progress(self, done: int, total: int, label: str) -> None:
        self.progress_bar.setMaximum(total)
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{label}: %v/%m")

    def _on_finished(self, run_ids) -> None:
        self.progress_bar.setMaximum(max(1, self.progress_bar.maximum()))
        self.progress_bar.setValue(self.progress_bar.maximum())
        self.progress_bar.setFormat("done")
        self.refresh_runs()
        self.select_runs(run_ids)
        self.show_runs(run_ids)
        self.ctx.message(f"Evaluation finished: {len(run_ids)} run(s)")

    def _on_failed(self, message: str) -> None:
        self.refresh_runs()
        self.ctx.message(message, 0)
        if "Cancelled" not in message:
            dialogs.error("Evaluation", message, self)
