"""Compare frames view: frame A and frame B (same or different clips) side by side with
their skeletons, both skeletons aligned at the hips with per-joint displacement arrows,
and the difference text and facts.

Marks come from ``ctx.marks`` (the A/B keys, the buttons here, or the angle plot's menu);
when both are set the describe controller loads the pair on a worker thread and this view
renders ``pairReady``. Clicking a fact rings its joints in the aligned view.
"""
from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from app.controllers.describe import describe_controller

from ..video.view import VideoView
from .aligned import AlignedSkeletonView


def _mark_text(name: str, mark) -> str:
    return f"{name}: —" if mark is None else f"{name}: {os.path.basename(mark[0])} #{mark[1]}"


class FramePairPanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.ctrl = describe_controller(ctx)
        self.pair = None
        self.view_a, self.view_b = VideoView(), VideoView()
        self.aligned = AlignedSkeletonView()
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumHeight(90)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["change", "value", "bin", "vis."])
        self.tree.setRootIsDecorated(False)
        self.tree.setColumnWidth(0, 260)
        self.tree.itemSelectionChanged.connect(self._on_select)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(self._toolbar())
        views = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.view_a, self.view_b, self.aligned):
            views.addWidget(w)
        lay.addWidget(views, 3)
        lay.addWidget(self.text)
        lay.addWidget(self.tree, 2)
        ctx.marks.changed.connect(self._on_marks)
        self.ctrl.pairReady.connect(self.show_pair)
        self.ctrl.pairFailed.connect(self.show_error)
        self._on_marks()

    def _toolbar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        mark_a, mark_b = QPushButton("Mark A"), QPushButton("Mark B")
        mark_a.setToolTip("Mark the displayed frame as A (key A)")
        mark_b.setToolTip("Mark the displayed frame as B (key B)")
        mark_a.clicked.connect(lambda: self.ctx.marks.mark_a())
        mark_b.clicked.connect(lambda: self.ctx.marks.mark_b())
        self.marks_label = QLabel()
        side = QCheckBox("Side view")
        side.toggled.connect(self.aligned.set_side_view)
        copy = QPushButton("Copy")
        copy.setToolTip("Copy the difference text")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        for w in (mark_a, mark_b, self.marks_label):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(side)
        row.addWidget(copy)
        return row

    def _on_marks(self) -> None:
        m = self.ctx.marks
        self.marks_label.setText(f"{_mark_text('A', m.a)}   {_mark_text('B', m.b)}")
        if m.a is not None and m.b is not None:
            self.text.setPlainText("Comparing…")
            self.ctrl.compare()
        else:
            self.text.setPlainText("Mark frame A and frame B (keys A and B, or the buttons).")

    def show_pair(self, pair) -> None:
        self.pair = pair
        self.view_a.show_frame(pair.image_a, [pair.pixels_a] if pair.pixels_a is not None else [],
                               f"A  #{pair.frame_a}")
        self.view_b.show_frame(pair.image_b, [pair.pixels_b] if pair.pixels_b is not None else [],
                               f"B  #{pair.frame_b}")
        self.aligned.set_worlds(pair.world_a, pair.world_b)
        self.text.setPlainText(pair.text)
        self.tree.clear()
        for f in pair.facts:
            self.tree.addTopLevelItem(QTreeWidgetItem(self._row(f)))

    @staticmethod
    def _row(f) -> list[str]:
        what = f.quantity.replace("_", " ")
        extra = ", ".join(f.extra.get("directions") or []) if f.kind == "displacement" else ""
        unit = f"{f.value:+.2f} {f.unit}".strip() if f.kind != "posture_change" else ""
        return [f"{what} {extra}".strip(), unit, f.bin, f"{f.visibility:.2f}"]

    def show_error(self, message: str) -> None:
        self.pair = None
        self.aligned.set_worlds(None, None)
        self.tree.clear()
        self.text.setPlainText(message)

    def _on_select(self) -> None:
        if self.pair is None:
            return
        rows = [self.tree.indexOfTopLevelItem(i) for i in self.tree.selectedItems()]
        self.aligned.set_highlight([j for r in rows for j in self.pair.facts[r].joints])
