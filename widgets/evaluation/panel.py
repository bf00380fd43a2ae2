"""Evaluation panel: start (or resume) runs of one or several models + the rule-based
reference with the same settings, watch progress, cancel; reopen past runs as a table
(model x sub-task, mean, overall) and a bar chart; two runs chosen (base and tuned) are
compared: per sub-task B - A with its 95 % bootstrap interval and the flipped items."""
from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.controllers.evaluation import EvaluationController
from models.answer_parse import PROMPT_TEMPLATES
from models.errors import StudioError
from models.eval_report import MEAN, OVERALL, one_line
from models.evaluate import EvalSettings
from widgets import dialogs
from widgets.evaluation.choosers import STATUS_CHOICES, CheckList, TaskList

RUN_COLUMNS = ("id", "name", "status", "items", "answered", "correct")
COMPARE_HEADERS = ("n", "A %", "B %", "B − A", "95 % CI", "right→wrong", "wrong→right")
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")
CHART_BG = (30, 31, 34)          # the app's dark plots (as the joint angle plot)
SPLITTER_KEY = "evaluation_splitters"


def _num(x) -> str:
    return "" if x is None else f"{x:.1f}"


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
        """Three columns side by side (the panel usually lives in a wide, short bottom dock):
        the run set-up | runs over the results table | the chart over the comparison. The
        splitter positions are kept in the user settings."""
        setup = QWidget()
        col = QVBoxLayout(setup)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(self._build_set_row())
        col.addLayout(self._build_model_row())
        self.progress_bar = QProgressBar()
        col.addWidget(self.progress_bar)
        col.addStretch(1)
        self.columns = QSplitter(Qt.Orientation.Horizontal)
        self.columns.setChildrenCollapsible(False)
        self.columns.addWidget(setup)
        self._build_results(self.columns)
        self.columns.setStretchFactor(0, 2)
        self.columns.setStretchFactor(1, 3)
        self.columns.setStretchFactor(2, 4)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.columns)
        self._restore_splitters()
        for split in self._splitters():
            split.splitterMoved.connect(lambda *_: self._save_splitters())

    def _build_set_row(self) -> QVBoxLayout:
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
        row = QHBoxLayout()
        row.addWidget(QLabel("QA set"))
        row.addWidget(self.set_combo, 1)
        col.addLayout(row)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.file_button)
        col.addLayout(file_row)
        col.addWidget(QLabel("Sub-tasks"))
        col.addWidget(self.task_list)
        return col

    def _build_model_row(self) -> QVBoxLayout:
        self.model_list = CheckList(rows=3)
        self.model_list.setToolTip("models the VLM panels know (found or added there)")
        refresh = QPushButton("Find models")
        refresh.clicked.connect(self.controller.vlm.refresh_choices)
        self.controller.vlm.choicesChanged.connect(self.refresh_models)
        self.model_edit = QLineEdit(placeholderText="more: checkpoint folder or http://host/v1#model; "
                                                    "several separated by ';'")
        self.model_edit.setToolTip(self.model_edit.placeholderText())
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
        head = QHBoxLayout()
        head.addWidget(QLabel("Models"))
        head.addStretch(1)
        head.addWidget(refresh)
        col.addLayout(head)
        col.addWidget(self.model_list)
        col.addWidget(self.model_edit)
        opts = QHBoxLayout()
        for w in (self.reference_check, QLabel("frames"), self.frames_spin):
            opts.addWidget(w)
        opts.addStretch(1)
        col.addLayout(opts)
        run = QHBoxLayout()
        run.addWidget(QLabel("prompt"))
        run.addWidget(self.template_combo, 1)
        run.addWidget(self.run_button)
        run.addWidget(self.cancel_button)
        col.addLayout(run)
        self.refresh_models()
        return col

    def _table(self, table: QTableWidget, rows: int) -> QTableWidget:
        """Compact rows; tall enough for ``rows`` rows and the header."""
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setWordWrap(False)
        row_h = table.fontMetrics().height() + 8
        table.verticalHeader().setDefaultSectionSize(row_h)
        table.setMinimumHeight(row_h * (rows + 1) + 6)
        return table

    def _build_results(self, columns: QSplitter) -> None:
        self.runs_table = self._table(QTableWidget(0, len(RUN_COLUMNS)), 3)
        self.runs_table.setHorizontalHeaderLabels(RUN_COLUMNS)
        self.runs_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_table.verticalHeader().hide()
        self.runs_table.horizontalHeader().setStretchLastSection(True)
        self.runs_table.itemSelectionChanged.connect(self.show_selected)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for text, slot in (("Compare two", self.compare_selected), ("Delete run", self.delete_selected),
                           ("Save report…", self.save_report), ("Export benchmark…", self.open_export)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        runs = QWidget()
        runs_lay = QVBoxLayout(runs)
        runs_lay.setContentsMargins(0, 0, 0, 0)
        runs_lay.addLayout(buttons)
        runs_lay.addWidget(self.runs_table, 1)
        self.results = self._table(QTableWidget(), 4)
        self.tables = QSplitter(Qt.Orientation.Vertical)
        self.tables.setChildrenCollapsible(False)
        self.tables.addWidget(runs)
        self.tables.addWidget(self.results)
        self.chart = pg.PlotWidget(background=CHART_BG)
        self.chart.setMinimumHeight(160)
        self.chart.setLabel("left", "accuracy (%)")
        self.chart.setYRange(0, 112, padding=0)     # headroom above 100 %: the value labels
        self.chart.getAxis("left").setTicks([[(v, str(v)) for v in range(0, 101, 20)]])
        self.chart.showGrid(x=False, y=True, alpha=0.15)
        self.chart.setMouseEnabled(x=False, y=False)
        self.legend = QLabel()              # above the chart: never over a bar
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        chart = QWidget()
        chart_lay = QVBoxLayout(chart)
        chart_lay.setContentsMargins(0, 0, 0, 0)
        chart_lay.setSpacing(2)
        chart_lay.addWidget(self.legend)
        chart_lay.addWidget(self.chart, 1)
        self.compare_text = QPlainTextEdit(readOnly=True)
        self.compare_text.setPlaceholderText("Select two runs (the earlier one is A, e.g. the "
                                             "base): the difference per sub-task and the "
                                             "items whose result changed are shown here.")
        self.compare_table = self._table(QTableWidget(0, len(COMPARE_HEADERS)), 2)
        self.compare_table.setHorizontalHeaderLabels(COMPARE_HEADERS)
        self.compare_table.setToolTip("B − A in percentage points, with its 95 % paired "
                                      "bootstrap interval over the items (2000 resamples)")
        comparison = QWidget()
        comp_lay = QVBoxLayout(comparison)
        comp_lay.setContentsMargins(0, 0, 0, 0)
        comp_lay.addWidget(self.compare_table, 1)
        comp_lay.addWidget(self.compare_text, 1)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.setChildrenCollapsible(False)
        self.right.addWidget(chart)
        self.right.addWidget(comparison)
        self.right.setStretchFactor(0, 3)
        self.right.setStretchFactor(1, 1)
        columns.addWidget(self.tables)
        columns.addWidget(self.right)

    def _splitters(self) -> list:
        return [self.columns, self.tables, self.right]

    def _save_splitters(self) -> None:
        settings = getattr(self.ctx, "settings", None)
        if settings is not None:
            settings.set(SPLITTER_KEY, [bytes(s.saveState().toBase64()).decode()
                                        for s in self._splitters()])

    def _restore_splitters(self) -> bool:
        settings = getattr(self.ctx, "settings", None)
        states = settings.get(SPLITTER_KEY) if settings is not None else None
        if not (isinstance(states, list) and len(states) == 3
                and all(isinstance(x, str) for x in states)):
            return False
        return all([split.restoreState(QByteArray.fromBase64(state.encode()))
                    for split, state in zip(self._splitters(), states)])

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
        runs = self.selected_runs()
        self.show_runs(runs)
        if len(runs) == 2:
            self.compare_selected()

    def compare_selected(self) -> None:
        runs = sorted(self.selected_runs())        # the earlier run is A (e.g. the base)
        if len(runs) != 2:
            self.compare_text.setPlainText("Select exactly two runs to compare.")
            self.compare_table.setRowCount(0)
            return
        self.show_comparison(*runs)

    def show_comparison(self, run_a: int, run_b: int, note: str = "") -> None:
        """Run A (e.g. the base) against run B (e.g. the tuned model): per sub-task
        difference with its interval, and the flipped items; ``note`` heads the text."""
        data = self.controller.comparison(run_a, run_b)
        rows = data["tasks"] + [data["overall"]]
        self.compare_table.setRowCount(len(rows))
        self.compare_table.setVerticalHeaderLabels([str(r["sub_task"]) for r in rows])
        for i, r in enumerate(rows):
            ci = (f"[{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]"
                  if r["ci_low"] is not None else "")
            cells = (str(r["n"]), _num(r["accuracy_a"]), _num(r["accuracy_b"]),
                     "" if r["difference"] is None else f"{r['difference']:+.1f}", ci,
                     str(r["became_wrong"]), str(r["became_correct"]))
            for j, text in enumerate(cells):
                self.compare_table.setItem(i, j, QTableWidgetItem(text))
        self.compare_table.resizeColumnsToContents()
        lines = ([note] if note else []) + [
            f"A = {data['model_a']}, B = {data['model_b']}: {data['items']} items "
            "answered by both"]
        for key, name in (("became_wrong", "right → wrong"), ("became_correct", "wrong → right")):
            lines.append(f"{name} ({len(data[key])}):")
            lines += [f"  {it['qa_id']} [{it['task']}] {one_line(it['question'])}"
                      for it in data[key]]
        lines.append(f"other answer, same result ({len(data['changed_same_result'])}): "
                     + ", ".join(data["changed_same_result"]))
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
        self.runs_table.resizeColumnsToContents()
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
        self.bars = []
        width = 0.8 / max(1, len(models))
        for j, m in enumerate(models):
            heights = [float(acc.get((m, t)) or 0.0) for t in tasks]
            xs = [i + (j - (len(models) - 1) / 2) * width for i in range(len(tasks))]
            bar = pg.BarGraphItem(x=xs, height=heights, width=width * 0.9,
                                  brush=pg.mkBrush(COLORS[j % len(COLORS)]), pen=None)
            self.chart.addItem(bar)
            self.bars.append(bar)
            for x, t, h in zip(xs, tasks, heights):   # value on top (0 % bars are invisible)
                value = acc.get((m, t))
                label = pg.TextItem(f"{h:.0f}" if value not in (None, "") else "n/a",
                                    color="#d8d8d8", anchor=(0.5, 1.0))
                label.setPos(x, h)
                self.chart.addItem(label)
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(
            f"<span style='color:{COLORS[j % len(COLORS)]}'>&#9632;</span>&nbsp;{html.escape(m)}"
            for j, m in enumerate(models)))
        if tasks:
            self.chart.setXRange(-0.6, len(tasks) - 0.4, padding=0)
        labels = [(i, "mean" if t == MEAN else t.replace("_", "\n", 1)) for i, t in enumerate(tasks)]
        axis = self.chart.getAxis("bottom")
        axis.setTicks([labels])          # two short lines per sub-task: they fit side by side
        axis.setHeight(2 * self.fontMetrics().height() + 14)

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
