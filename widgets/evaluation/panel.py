"""Evaluation panel: start (or resume) runs of one or several models + the rule-based
reference with the same settings, watch progress, cancel; reopen past runs as a table
(model x sub-task, mean, overall) and a bar chart; compare two runs item by item."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHBoxLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.controllers.evaluation import EvaluationController
from models.eval_report import MEAN, OVERALL
from models.evaluate import EvalSettings
from widgets import dialogs

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
        self.model_edit = QLineEdit(placeholderText="checkpoint folder or http://host/v1#model; "
                                                    "several separated by ';'")
        self.reference_check = QCheckBox("rule-based reference")
        self.reference_check.setChecked(True)
        self.frames_spin = QSpinBox(minimum=1, maximum=64, value=8)
        self.run_button = QPushButton("Evaluate")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.progress_bar = QProgressBar()
        top = QHBoxLayout()
        for w in (QLabel("Models"), self.model_edit, self.reference_check, QLabel("frames"),
                  self.frames_spin, self.run_button, self.cancel_button):
            top.addWidget(w)
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
        self.chart.setYRange(0, 100)
        self.legend = self.chart.addLegend(offset=(-10, 10), brush=pg.mkBrush(255, 255, 255, 220))
        self.compare_text = QPlainTextEdit(readOnly=True)
        split = QSplitter(Qt.Orientation.Vertical)
        for w in (self.runs_table, self.results, self.chart, self.compare_text):
            split.addWidget(w)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.progress_bar)
        lay.addLayout(buttons)
        lay.addWidget(split)

    # -- intents ---------------------------------------------------------------------------------
    def specs(self) -> list[str]:
        specs = [s.strip() for s in self.model_edit.text().split(";") if s.strip()]
        return specs + (["rule"] if self.reference_check.isChecked() else [])

    def start(self) -> bool:
        settings = EvalSettings(frames=self.frames_spin.value())
        started = self.controller.start(self.specs(), settings)
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
        labels = [(i, "mean" if t == MEAN else t) for i, t in enumerate(tasks)]
        self.chart.getAxis("bottom").setTicks([labels])

    def _on_progress(self, done: int, total: int, label: str) -> None:
        self.progress_bar.setMaximum(total)
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{label}: %v/%m")

    def _on_finished(self, run_ids) -> None:
        self.refresh_runs()
        self.select_runs(run_ids)
        self.show_runs(run_ids)
        self.ctx.message(f"Evaluation finished: {len(run_ids)} run(s)")

    def _on_failed(self, message: str) -> None:
        self.refresh_runs()
        self.ctx.message(message, 0)
        if "Cancelled" not in message:
            dialogs.error("Evaluation", message, self)
