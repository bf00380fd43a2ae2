"""Dataset runs panel: the runs of a runs folder (state, stages finished, failures), the
selected run's stages (done / failed / pending, items per second, time left) and its
failures with their reasons; start a run from a config file, cancel, resume, merge a run
into the open project and look at the merged items in QA curation."""
from __future__ import annotations

import datetime as _dt
import os
from typing import Optional

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QSizePolicy, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.controllers.dataset_runs import DatasetRunsController, merged_ids, merged_source
from widgets import dialogs

RUN_COLUMNS = ("Run", "ID", "State", "Created", "Stages", "Failures")
STAGE_COLUMNS = ("Stage", "Done", "Failed", "Pending", "Items/s", "ETA")
FAILURE_COLUMNS = ("Video", "Stage", "Error", "Attempts")
CONFIG_FILTER = "Run configs (*.toml *.json)"
STATE_COLORS = {"done": QColor(95, 180, 110), "running": QColor(100, 165, 235),
                "new": QColor(100, 165, 235), "cancelled": QColor(226, 150, 80),
                "interrupted": QColor(226, 150, 80), "failed": QColor(230, 95, 95),
                "unreadable": QColor(230, 95, 95)}
RESUMABLE = ("cancelled", "interrupted", "failed", "new")


def _created(text) -> str:
    """run.json's ISO time in local time, to the minute."""
    if not isinstance(text, str) or not text:
        return ""
    try:
        return _dt.datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def _duration(seconds) -> str:
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _stage_done(s: dict) -> bool:
    total = int(s.get("total") or 0)
    return total > 0 and int(s.get("pending") or 0) == 0 and \
        int(s.get("done") or 0) + int(s.get("failed") or 0) + int(s.get("blocked") or 0) >= total


def failure_count(run: dict) -> int:
    return sum(int(s.get("failed") or 0) for s in run.get("stages") or [])


def _name(run: dict) -> str:
    return os.path.basename(os.path.normpath(run.get("path") or "")) or str(run.get("path"))


def _sort_key(run: dict):
    return (str(run.get("created") or ""), str(run.get("path") or ""))


class PathLabel(QLabel):
    """A path elided in the middle to the width it gets (the whole path in its tooltip)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(80)

    def set_path(self, path: str) -> None:
        self._full = path
        self.setToolTip(path)
        self._elide()

    def path(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle,
                                                   max(20, self.width())))


class DatasetRunsPanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("DatasetRunsPanel")
        self.ctx = ctx
        self.controller = DatasetRunsController(ctx, self)
        self.selected_path: Optional[str] = None
        self.merge_results: dict[str, object] = {}      # run folder -> merge_run's result
        self._shard_failures: dict[str, tuple] = {}     # run folder -> (updated, rows)
        self._asked_failures: set = set()
        self._warned_unreadable: set = set()
        self._rows: list[dict] = []
        self._build()
        c = self.controller
        c.runsChanged.connect(self.show_runs)
        c.rootChanged.connect(self._show_root)
        c.failed.connect(lambda title, text: dialogs.error(title, text, self))
        c.runStarted.connect(self._on_started)
        c.runFinished.connect(self._on_finished)
        c.merged.connect(self._on_merged)
        c.failuresReady.connect(self._on_failures)
        self._show_root(c.root)

    # -- layout -------------------------------------------------------------------------------
    def _button(self, text: str, tip: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(lambda _c=False: slot())
        return b

    def _table(self, columns, rows: int, stretch: int) -> QTableWidget:
        t = QTableWidget(0, len(columns))
        t.setHorizontalHeaderLabels(columns)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        t.setWordWrap(False)
        t.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        t.verticalHeader().hide()
        row_h = t.fontMetrics().height() + 8
        t.verticalHeader().setDefaultSectionSize(row_h)
        t.setMinimumHeight(row_h * (rows + 1) + 6)
        header = t.horizontalHeader()
        header.setMinimumSectionSize(40)
        for i in range(len(columns)):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.Stretch if i == stretch
                                        else QHeaderView.ResizeMode.ResizeToContents)
        return t

    def _build(self) -> None:
        self.root_label = PathLabel()
        self.change_root_btn = self._button("Change…", "Show the runs of another folder",
                                            self.choose_root)
        self.refresh_btn = self._button("Refresh", "Read the runs folder again",
                                        self.controller.refresh)
        self.new_btn = self._button("New run…", "Start a dataset run from a config file "
                                    "(.toml or .json)", self.new_run)
        self.cancel_btn = self._button("Cancel", "Stop the selected run at its next task "
                                       "(resume it later)", self.cancel_selected)
        self.resume_btn = self._button("Resume", "Run the selected run's configuration again: "
                                       "finished results are kept, the rest is done",
                                       self.resume_selected)
        self.merge_btn = self._button("Merge into project", "Bring the selected run's results "
                                      "into the open project", self.merge_selected)
        self.curation_btn = self._button("Open in curation", "Show the merged items in the QA "
                                         "curation panel", self.open_in_curation)
        self.runs_table = self._table(RUN_COLUMNS, 3, 0)
        self.runs_table.itemSelectionChanged.connect(self._on_selection)
        self.stage_table = self._table(STAGE_COLUMNS, 3, 0)
        self.failure_table = self._table(FAILURE_COLUMNS, 3, 2)
        self.failure_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        # one line (a wrapping label would make the dock's height depend on its width)
        self.detail = QLabel()
        self.detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        top = QHBoxLayout()           # one row: the dock is short
        for b in (self.new_btn, self.cancel_btn, self.resume_btn, self.merge_btn,
                  self.curation_btn):
            top.addWidget(b)
        top.addSpacing(12)
        top.addWidget(QLabel("Runs folder:"))
        top.addWidget(self.root_label, 1)
        top.addWidget(self.change_root_btn)
        top.addWidget(self.refresh_btn)
        # three columns side by side: the panel lives in a wide, short bottom dock
        self.columns = QSplitter(Qt.Orientation.Horizontal)
        self.columns.setChildrenCollapsible(False)
        self.columns.addWidget(self._titled("Runs", self.runs_table))
        self.columns.addWidget(self._titled("Stages of the selected run", self.stage_table))
        self.columns.addWidget(self._titled("Failures", self.failure_table))
        for i, share in enumerate((4, 3, 5)):
            self.columns.setStretchFactor(i, share)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.columns, 1)
        lay.addWidget(self.detail)
        self._update_buttons()

    def _say(self, text: str) -> None:
        """The line under the tables (the whole text also in its tooltip)."""
        self.detail.setText(text)
        self.detail.setToolTip(text)

    @staticmethod
    def _titled(title: str, table: QTableWidget) -> QWidget:
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        label = QLabel(title)
        label.setStyleSheet("font-weight: bold")
        col.addWidget(label)
        col.addWidget(table, 1)
        return box

    # -- visibility: poll only while shown ---------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.controller.set_visible(True)

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().hideEvent(event)
        self.controller.set_visible(False)

    # -- intents -----------------------------------------------------------------------------------
    def choose_root(self) -> None:
        path = dialogs.open_folder(self, "Runs folder", self.controller.root)
        if path:
            self.controller.set_root(path)

    def new_run(self) -> Optional[str]:
        start = self.ctx.settings.get("dataset_runs_config_folder") or ""
        path = dialogs.open_file(self, "Dataset run config", CONFIG_FILTER,
                                 start if isinstance(start, str) else "")
        if not path:
            return None
        self.ctx.settings.set("dataset_runs_config_folder", os.path.dirname(os.path.abspath(path)))
        return self.start_config(path)

    def start_config(self, path: str) -> Optional[str]:
        """Start a run of the config file; its run is selected (a bad config: a dialog)."""
        out = self.controller.start(path)
        if out is not None:
            self.select_run(out)
        return out

    def cancel_selected(self) -> None:
        if self.selected_path:
            self.controller.cancel(self.selected_path)
            self._update_buttons()

    def resume_selected(self) -> None:
        if self.selected_path:
            self.controller.resume(self.selected_path)

    def merge_selected(self) -> None:
        if self.selected_path and self.controller.merge(self.selected_path):
            self._say("Merging the run into the project…")
            self._update_buttons()

    def open_in_curation(self) -> bool:
        """Raise the QA curation panel (reloaded), showing the merged items when the merge
        said which source they carry."""
        win = self.window()
        panels = getattr(win, "panels", {})
        curation = panels.get("curation") if isinstance(panels, dict) else None
        if curation is None or not hasattr(win, "show_panel"):
            dialogs.error("Open in curation", "The QA curation panel is not open in this window",
                          self)
            return False
        win.show_panel("curation")
        result = self.merge_results.get(self.selected_path or "")
        curation.controller.itemsChanged.emit([])          # re-read items and filter values
        source = merged_source(result)
        if source is not None:
            box = curation.source_box
            i = box.findData(source)
            if i >= 0:
                box.setCurrentIndex(i)                    # the combo applies the filter
            else:
                curation.controller.set_filter("source", source)
        curation.reload()
        ids = merged_ids(result)
        if ids:
            curation.select_id(ids[0])
        return True

    def select_run(self, path: str) -> None:
        path = os.path.abspath(path)
        self.selected_path = path
        self.show_runs()

    # -- observers ------------------------------------------------------------------------------
    def _show_root(self, root: str) -> None:
        self.root_label.set_path(root)

    def _on_started(self, path: str) -> None:
        self.selected_path = path
        self._say(f"Run started: {path}")

    def _on_finished(self, path: str, status: dict) -> None:
        state = status.get("state", "")
        self.ctx.message(f"Dataset run {os.path.basename(path)}: {state}")

    def _on_merged(self, path: str, result) -> None:
        self.merge_results[path] = result
        words = result.get("summary") if isinstance(result, dict) else None
        self._say(f"Merged {os.path.basename(path)} into the project"
                            + (f": {words}" if isinstance(words, str) and words else ""))
        self.ctx.message(f"Merged {os.path.basename(path)} into the project")
        self._update_buttons()

    def _on_failures(self, path: str, rows: list) -> None:
        run = self.controller.run(path)
        self._shard_failures[path] = (run.get("updated") if run else None, rows)
        if path == self.selected_path:
            self._show_failures(run or {})

    def _on_selection(self) -> None:
        rows = self.runs_table.selectionModel().selectedRows()
        if not rows:
            return
        r = rows[0].row()
        if 0 <= r < len(self._rows):
            self.selected_path = os.path.abspath(self._rows[r]["path"])
            self._show_selected(user=True)

    def show_runs(self) -> None:
        """Fill the runs table (kept in place: the selection and scroll survive refreshes)."""
        runs = sorted(self.controller.runs, key=_sort_key, reverse=True)
        self._rows = runs
        t = self.runs_table
        with QSignalBlocker(t):
            t.setRowCount(len(runs))
            for r, run in enumerate(runs):
                stages = run.get("stages") or []
                finished = sum(1 for s in stages if _stage_done(s))
                state = str(run.get("state") or "")
                if run.get("cancel_requested") and run.get("alive"):
                    state = "cancelling"
                values = (_name(run), str(run.get("run_id") or ""), state,
                          _created(run.get("created")),
                          f"{finished}/{len(stages)}" if stages else "",
                          str(failure_count(run)) if stages else "")
                for c, text in enumerate(values):
                    item = _item(t, r, c, text)
                    if c == 0:
                        item.setToolTip(str(run.get("path")))
                    elif c == 2:
                        item.setForeground(STATE_COLORS.get(run.get("state"), QColor(200, 200, 200)))
                        item.setToolTip(run.get("error") or state)
            row = next((i for i, run in enumerate(runs)
                        if os.path.abspath(run["path"]) == self.selected_path), None)
            if row is None and runs and self.selected_path is None:
                row = 0
                self.selected_path = os.path.abspath(runs[0]["path"])
            if row is not None:
                t.selectRow(row)
            else:
                t.clearSelection()
        self._show_selected()

    def _selected_run(self) -> Optional[dict]:
        return self.controller.run(self.selected_path) if self.selected_path else None

    def _show_selected(self, user: bool = False) -> None:
        run = self._selected_run()
        self._update_buttons()
        if run is None:
            self.stage_table.setRowCount(0)
            self.failure_table.setRowCount(0)
            if self.selected_path and self.controller.is_ours(self.selected_path):
                self._say(f"Starting the run in {self.selected_path}…")
            else:
                self._say("" if self._rows else
                          "No runs in this folder yet: start one with “New run…”")
            return
        if run.get("state") == "unreadable":
            self.stage_table.setRowCount(0)
            self.failure_table.setRowCount(0)
            text = f"This run folder cannot be read: {run.get('error')}"
            self._say(text)
            if user and run["path"] not in self._warned_unreadable:
                self._warned_unreadable.add(run["path"])
                dialogs.error("Unreadable run", f"{run['path']}\n\n{run.get('error')}", self)
            return
        self._show_stages(run)
        self._show_failures(run)
        self._say(self._summary(run))

    def _show_stages(self, run: dict) -> None:
        t = self.stage_table
        stages = run.get("stages") or []
        t.setRowCount(len(stages))
        alive = bool(run.get("alive"))
        for r, s in enumerate(stages):
            rate = s.get("items_per_s")
            eta = s.get("eta_s") if alive and not _stage_done(s) else None
            values = (str(s.get("name", "")), str(s.get("done", 0)), str(s.get("failed", 0)),
                      str(s.get("pending", 0)),
                      f"{rate:.2f}" if isinstance(rate, (int, float)) and rate else "—",
                      _duration(eta) if eta is not None else ("done" if _stage_done(s) else "—"))
            for c, text in enumerate(values):
                item = _item(t, r, c, text)
                if c == 3 and s.get("blocked"):
                    item.setToolTip(f"{s['blocked']} more wait on a failed upstream result")
                if c == 0:
                    item.setToolTip(f"{s.get('total', 0)} items")
        _fit_width(t)

    def _show_failures(self, run: dict) -> None:
        path = os.path.abspath(run.get("path") or "")
        rows = list(run.get("failures") or [])
        if not run.get("alive") and not self.controller.is_ours(path) and run.get("stages"):
            cached = self._shard_failures.get(path)
            if cached is not None and cached[0] == run.get("updated"):
                rows = cached[1]
            elif (path, run.get("updated")) not in self._asked_failures:
                self._asked_failures.add((path, run.get("updated")))
                self.controller.load_failures(path)
        t = self.failure_table
        t.setRowCount(len(rows))
        for r, f in enumerate(rows):
            video = str(f.get("video") or "")
            name = str(f.get("name") or os.path.basename(video) or video)
            error = " ".join(str(f.get("error") or "").split())
            for c, text in enumerate((name, str(f.get("stage", "")), error,
                                      str(f.get("attempts", "")))):
                item = _item(t, r, c, text)
                if c == 0:
                    item.setToolTip(video)
                elif c == 2:
                    item.setToolTip(error)

    def _summary(self, run: dict) -> str:
        parts = [f"Run {run.get('run_id') or '?'}: {run.get('state')}"]
        man = run.get("manifest")
        if isinstance(man, dict):
            parts.append(f"{man.get('items', 0)} videos ({man.get('kind', '')} manifest)"
                         + (f", {man['bad']} unusable entries" if man.get("bad") else "")
                         + (f", {man['duplicates']} duplicates" if man.get("duplicates") else ""))
        if run.get("error"):
            parts.append(f"error: {run['error']}")
        if run.get("state") == "interrupted":
            parts.append("its driver stopped without finishing: Resume completes it")
        parts.append(str(run.get("path")))
        return " · ".join(parts)

    def _update_buttons(self) -> None:
        run = self._selected_run()
        c = self.controller
        path = self.selected_path
        ours = bool(path and c.is_ours(path))
        alive = bool(run and (run.get("alive") or ours))
        readable = bool(run and run.get("state") != "unreadable")
        self.cancel_btn.setEnabled(alive and not (run or {}).get("cancel_requested"))
        state = (run or {}).get("state")
        can_resume = readable and not alive and (state in RESUMABLE or (
            state == "done" and failure_count(run) > 0))
        self.resume_btn.setEnabled(can_resume)
        self.resume_btn.setToolTip(
            "Run the selected run's configuration again: finished results are kept, the rest "
            "(and failures with attempts left) is done" if can_resume else
            "Select a stopped run (cancelled, interrupted, failed, or done with failures)")
        why = c.merge_blocker(path)
        self.merge_btn.setEnabled(not why)
        self.merge_btn.setToolTip(why or "Bring the selected run's results into the open project")
        merged = path in self.merge_results if path else False
        self.curation_btn.setEnabled(merged)
        self.curation_btn.setToolTip("Show the merged items in the QA curation panel" if merged
                                     else "Merge the run into the project first")


def _fit_width(table: QTableWidget) -> None:
    """At least as wide as its columns' contents (a splitter then never squeezes them)."""
    header = table.horizontalHeader()
    need = sum(max(header.sectionSizeHint(c), table.sizeHintForColumn(c))
               for c in range(table.columnCount()))
    need += 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width()
    table.setMinimumWidth(need)


def _item(table: QTableWidget, row: int, col: int, text: str) -> QTableWidgetItem:
    """The cell's item with ``text`` (reused when present: no flicker while refreshing)."""
    item = table.item(row, col)
    if item is None:
        item = QTableWidgetItem(text)
        table.setItem(row, col, item)
    elif item.text() != text:
        item.setText(text)
    return item
