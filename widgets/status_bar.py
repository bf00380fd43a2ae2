"""Status bar content: pose extraction progress + cancel button, frames A/B (and the A-B
loop) as a permanent label, and the project name (with a permanent note when working in
an in-memory project)."""
from __future__ import annotations

import os

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QProgressBar, QToolButton


class StatusBarPanel(QObject):
    def __init__(self, ctx, bar, parent=None) -> None:
        super().__init__(parent)
        self.ctx, self.bar = ctx, bar
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("poses %v/%m")
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Cancel pose extraction (it resumes next time)")
        self.cancel_button.clicked.connect(lambda: ctx.poses.cancel())
        self.project_label = QLabel()
        self.marks_label = QLabel()
        self.marks_label.setObjectName("marksLabel")
        self.marks_label.setToolTip("Frames A and B (keys A and B; L loops between them)")
        for w in (self.progress, self.cancel_button):
            bar.addPermanentWidget(w)
            w.hide()
        bar.addPermanentWidget(self.marks_label)
        bar.addPermanentWidget(self.project_label)
        self._show_project()
        self._wire(ctx.poses)
        self._wire_marks(ctx.marks, ctx.player)

    def _wire(self, poses) -> None:
        poses.started.connect(self._on_started)
        poses.progress.connect(self._on_progress)
        poses.busyChanged.connect(self._on_busy)
        poses.finished.connect(self._on_done)
        poses.cancelled.connect(self._on_cancelled)
        person_changed = getattr(poses, "person_changed", None)
        if person_changed is not None:
            person_changed.connect(self._on_person)
        poses.batchFinished.connect(lambda ok, bad: self.bar.showMessage(
            f"Poses extracted for {ok} clip(s)" + (f", {bad} failed" if bad else ""), 0))

    def _wire_marks(self, marks, player) -> None:
        self._marks_before = (marks.a, marks.b)
        marks.changed.connect(self._on_marks)
        marks.notice.connect(lambda text: self.bar.showMessage(text, 5000))
        player.loopChanged.connect(lambda *_: self._show_marks())
        player.clipChanged.connect(lambda _p: self._show_marks())
        self._show_marks()

    def _mark_text(self, mark) -> str:
        if mark is None:
            return "–"
        path, frame = mark
        player = self.ctx.player
        where = "" if path == player.path else f" ({os.path.basename(path)})"
        time = f" · {player.time_of(frame):.2f} s" if path == player.path else ""
        return f"frame {frame}{time}{where}"

    def _show_marks(self) -> None:
        m = self.ctx.marks
        if m.a is None and m.b is None:
            self.marks_label.setText("")
            return
        loop = self.ctx.player.loop
        text = f"A: {self._mark_text(m.a)}   B: {self._mark_text(m.b)}"
        self.marks_label.setText(text + (f"   ⟲ loop {loop[0]}–{loop[1]}" if loop else ""))

    def _on_marks(self) -> None:
        m = self.ctx.marks
        for name, before, now in (("A", self._marks_before[0], m.a),
                                  ("B", self._marks_before[1], m.b)):
            if now != before and now is not None:
                self.bar.showMessage(f"Frame {name} marked: {self._mark_text(now)}", 4000)
        if m.a is None and m.b is None and any(self._marks_before):
            self.bar.showMessage("Marks cleared", 3000)
        self._marks_before = (m.a, m.b)
        self._show_marks()

    def _show_project(self) -> None:
        path = self.ctx.repo.path
        memory = path == ":memory:"
        self.project_label.setText("in-memory project (not saved)" if memory
                                   else os.path.basename(path))
        self.project_label.setToolTip(path)
        if memory:
            self.project_label.setStyleSheet("color: #f0b050;")

    def _on_started(self, path: str) -> None:
        name = "all clips" if path.startswith("<") else os.path.basename(path)
        self.bar.showMessage(f"Extracting poses of {name}…", 0)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # indeterminate until the first progress report

    def _on_done(self, path: str) -> None:
        self.bar.showMessage(self.found_text(path), 8000)  # the clip list follows by itself

    def found_text(self, path: str) -> str:
        """On how many frames the person followed has a pose: the only track, or with
        every person of the clip attached, the person chosen (the others are counted in
        the People panel)."""
        player = self.ctx.player
        track = player.track
        found = int(track.has_pose.sum()) if track is not None else 0
        total = len(track) if track is not None else 0
        who = ""
        if len(player.people) > 1:
            who = f"{len(player.people)} people; person {player.person} "
        return f"Poses of {os.path.basename(path)}: {who}found on {found} of {total} frames"

    def _on_person(self, _person: int) -> None:
        path = self.ctx.player.path
        if path and len(self.ctx.player.people) > 1:
            self.bar.showMessage(self.found_text(path), 8000)

    def _on_cancelled(self, path: str, message: str) -> None:
        self.bar.showMessage(message, 0)
