"""Export dialog: the registry's formats, an output folder, options; asks before replacing
an earlier export (any other non-empty folder is refused with a message, as the model
refuses it), before leaving out items whose video is missing, and before exporting a set
that is only a small part of the project's items (most still unreviewed); once done it
offers to open the folder. The export runs in
the background (EvaluationController.export); the dialog only gathers choices."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QMessageBox, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout,
                               QWidget)

from app.controllers.evaluation import EvaluationController
from models.export import ExportOptions, MissingVideosError, formats
from models.export.base import replace_problem
from widgets import dialogs
from widgets.evaluation.choosers import STATUS_CHOICES, TaskList

FEW_ITEMS_SHARE = 0.25   # ask first when fewer than this share of the items would go out


class ExportDialog(QDialog):
    def __init__(self, ctx, controller=None, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.controller = controller or EvaluationController(ctx, self)
        self.setWindowTitle("Export benchmark / training data")
        self.formats = formats()
        self._build()
        self.controller.exportDone.connect(self._on_done)
        self.controller.exportFailed.connect(self._on_failed)
        self._pending = None

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        self.format_list = QListWidget()
        for f in self.formats:
            item = QListWidgetItem(f.label)
            item.setToolTip(f.description)
            self.format_list.addItem(item)
        self.format_list.setMaximumHeight(12 + len(self.formats) * self.fontMetrics().height() * 3 // 2)
        self.format_list.currentRowChanged.connect(self._show_description)
        self.description = QLabel(wordWrap=True)
        self.out_edit = QLineEdit(placeholderText="output folder (empty or new)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out_edit)
        row.addWidget(browse)
        self.name_edit = QLineEdit("actionart")
        self.status_combo = QComboBox()
        self.status_combo.addItems([label for label, _ in STATUS_CHOICES])
        self.task_list = TaskList(rows=4)
        self.task_list.set_tasks(self.controller.tasks())
        self.root_edit = QLineEdit(placeholderText="default: found from the project's clips")
        self.root_edit.setToolTip("folder the items' relative video paths live in")
        root_browse = QPushButton("Browse…")
        root_browse.clicked.connect(self._browse_root)
        root_row = QHBoxLayout()
        root_row.addWidget(self.root_edit)
        root_row.addWidget(root_browse)
        self.copy_check = QCheckBox("Copy videos into the export")
        self.copy_check.setChecked(True)
        self.cut_check = QCheckBox("Cut start/end windows into their own clip files")
        self.cut_check.setChecked(True)
        self.copy_check.toggled.connect(self.cut_check.setEnabled)
        self.overwrite_check = QCheckBox("Replace an earlier export in the folder without asking")
        self.frames_spin = QSpinBox(minimum=1, maximum=64, value=8)
        form = QFormLayout()
        form.addRow("Output folder", _wrap(row))
        form.addRow("Benchmark name", self.name_edit)
        form.addRow("Items", self.status_combo)
        form.addRow("Sub-tasks", self.task_list)
        form.addRow("Video root", _wrap(root_row))
        form.addRow("Frames per item", self.frames_spin)
        form.addRow("", self.copy_check)
        form.addRow("", self.cut_check)
        form.addRow("", self.overwrite_check)
        self.status = QLabel(wordWrap=True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.clicked.connect(lambda: self.start_export())
        self.open_button = self.buttons.addButton("Open folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.setToolTip("Show the exported files in the file manager")
        self.open_button.clicked.connect(self.open_folder)
        self.open_button.hide()
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        for w in (QLabel("Format"), self.format_list, self.description):
            lay.addWidget(w)
        lay.addLayout(form)
        lay.addStretch(1)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        self.format_list.setCurrentRow(0)

    def _show_description(self, row: int) -> None:
        if 0 <= row < len(self.formats):
            self.description.setText(self.formats[row].description)

    def _browse(self) -> None:
        path = dialogs.open_folder(self, "Export to folder")
        if path:
            self.out_edit.setText(path)

    def _browse_root(self) -> None:
        path = dialogs.open_folder(self, "Folder of the items' videos")
        if path:
            self.root_edit.setText(path)

    # -- intents ---------------------------------------------------------------------------------
    def select_format(self, format_id: str) -> None:
        self.format_list.setCurrentRow([f.id for f in self.formats].index(format_id))

    def options(self, overwrite: bool = False, skip_missing: bool = False) -> ExportOptions:
        return ExportOptions(name=self.name_edit.text().strip() or "actionart",
                             video_root=self.root_edit.text().strip() or None,
                             copy_videos=self.copy_check.isChecked(),
                             cut_clips=self.cut_check.isChecked(),
                             frames_per_item=self.frames_spin.value(), overwrite=overwrite,
                             skip_missing=skip_missing)

    def start_export(self, skip_missing: bool = False, overwrite=None) -> bool:
        out = self.out_edit.text().strip()
        if not out:
            self.status.setText("Choose an output folder first.")
            return False
        tasks = self.task_list.selected()
        if tasks == []:
            self.status.setText("Choose at least one sub-task.")
            return False
        folder = Path(out)
        if overwrite is None and self.overwrite_check.isChecked():
            overwrite = True
        if overwrite is not False and self._not_empty(folder):
            problem = replace_problem(folder)
            if problem:        # never ask to replace what an export did not write
                self.status.setText(problem)
                dialogs.error("Export refused", problem, self)
                return False
            if overwrite is None and not self.confirm(
                    f"{folder} holds an earlier export. Replace it with the new one?"):
                self.status.setText("Export cancelled: the folder holds an earlier export.")
                return False
            overwrite = True
        overwrite = bool(overwrite)
        fid = self.formats[self.format_list.currentRow()].id
        statuses = STATUS_CHOICES[self.status_combo.currentIndex()][1]
        if not skip_missing and not self._enough_items(statuses, tasks):
            return False
        self._pending = (overwrite,)
        self.export_button.setEnabled(False)
        self.open_button.hide()
        self.status.setText("Exporting…")
        self.controller.export(fid, out, self.options(overwrite, skip_missing), statuses, tasks)
        return True

    def item_counts(self, statuses, tasks) -> tuple[int, int]:
        """(items with the chosen statuses, all items) in the chosen sub-tasks."""
        summary = self.ctx.repo.qa_summary()
        chosen = [d for t, d in summary.items() if tasks is None or t in tasks]
        return (sum(d.get(s, 0) for d in chosen for s in statuses),
                sum(d["total"] for d in chosen))

    def _enough_items(self, statuses, tasks) -> bool:
        """Ask before exporting a small part of the project (most items still unreviewed)."""
        count, total = self.item_counts(statuses, tasks)
        if not total or count >= FEW_ITEMS_SHARE * total:
            return True
        label = self.status_combo.currentText()
        if self.confirm(f"Only {count} of the {total} items are {label}: the others are still "
                        f"candidates, rejected or need a fix.\n\nExport just these {count}? "
                        "(Review more in the QA curation panel, or choose “every item”.)"):
            return True
        self.status.setText(f"Export cancelled: only {count} of {total} items are {label}.")
        return False

    def open_folder(self) -> bool:
        """Open the exported folder in the desktop's file manager."""
        folder = self.out_edit.text().strip()
        if not folder or not Path(folder).is_dir():
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(folder).resolve())))

    @staticmethod
    def _not_empty(folder: Path) -> bool:
        try:
            return folder.is_dir() and any(folder.iterdir())
        except OSError:
            return False       # unreadable: the export itself reports it

    def confirm(self, text: str) -> bool:
        """Ask a yes/no question (tests replace this method)."""
        answer = QMessageBox.question(self, "Export", text)
        return answer == QMessageBox.StandardButton.Yes

    def _on_done(self, report) -> None:
        self.export_button.setEnabled(True)
        self.open_button.show()
        self.status.setText(report.summary())
        self.ctx.message(report.summary())

    def _on_failed(self, exc) -> None:
        self.export_button.setEnabled(True)
        if isinstance(exc, MissingVideosError):
            if self.confirm(f"{exc}\n\nExport without these items?"):
                self.start_export(skip_missing=True, overwrite=self._pending[0])
                return
        self.status.setText(str(exc))
        dialogs.error("Export failed", str(exc), self)


def _wrap(layout) -> QWidget:
    w = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    w.setLayout(layout)
    w.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return w


class ExportLauncher:
    """Menu target: opens the export dialog over the main window."""

    def __init__(self, window) -> None:
        self.window = window

    def open_dialog(self) -> ExportDialog:
        dlg = ExportDialog(self.window.ctx, parent=self.window)
        dlg.show()
        return dlg
