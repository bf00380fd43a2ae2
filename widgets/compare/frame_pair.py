"""Compare frames view: frame A and frame B (same or different clips) side by side with
their skeletons, both skeletons aligned at the hips with per-joint displacement arrows,
and the difference text and facts.

Marks come from ``ctx.marks`` (the A/B keys, the buttons here, or the angle plot's menu);
when both are set the describe controller loads the pair on a worker thread and this view
renders ``pairReady``. Clicking a fact rings its joints in the aligned view.
"""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from app.controllers.describe import describe_controller

from ..video.view import VideoView
from .aligned import AlignedSkeletonView


def crop_to_person(image, pixels, margin: float = 0.3, min_vis: float = 0.5):
    """(image, pixels) cut to the visible skeleton's box plus ``margin`` of its size on each
    side (pixels shifted to match); unchanged when no joint is visible."""
    if image is None or pixels is None:
        return image, pixels
    p = np.asarray(pixels, dtype=np.float64)
    ok = np.isfinite(p[:, :2]).all(axis=1) & (np.nan_to_num(p[:, 2], nan=1.0) >= min_vis)
    if ok.sum() < 2:
        return image, pixels
    h, w = image.shape[:2]
    lo, hi = p[ok, :2].min(axis=0), p[ok, :2].max(axis=0)
    pad = margin * max(float((hi - lo).max()), 20.0)
    x0, y0 = (max(0, int(v - pad)) for v in lo)
    x1, y1 = min(w, int(hi[0] + pad) + 1), min(h, int(hi[1] + pad) + 1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return image, pixels
    shifted = p.copy()
    shifted[:, 0] -= x0
    shifted[:, 1] -= y0
    return np.ascontiguousarray(image[y0:y1, x0:x1]), shifted


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
        self.text.setMinimumHeight(60)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["change", "value", "bin", "vis."])
        self.tree.setRootIsDecorated(False)
        self.tree.setColumnWidth(0, 200)
        self.tree.itemSelectionChanged.connect(self._on_select)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(self._toolbar())
        views = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.view_a, self.view_b, self.aligned):
            views.addWidget(w)
        lay.addWidget(views, 3)
        below = QSplitter(Qt.Orientation.Horizontal)      # text | facts, side by side
        below.addWidget(self.text)
        below.addWidget(self.tree)
        below.setStretchFactor(0, 1)
        below.setStretchFactor(1, 1)
        lay.addWidget(below, 2)
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
        self.zoom = QCheckBox("Zoom to person")
        self.zoom.setChecked(True)
        self.zoom.toggled.connect(lambda _on: self.pair is not None and self.show_pair(self.pair))
        copy = QPushButton("Copy")
        copy.setToolTip("Copy the difference text")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        for w in (mark_a, mark_b, self.marks_label):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.zoom)
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
        for view, image, pixels, name, frame in (
                (self.view_a, pair.image_a, pair.pixels_a, "A", pair.frame_a),
                (self.view_b, pair.image_b, pair.pixels_b, "B", pair.frame_b)):
            if self.zoom.isChecked():
                image, pixels = crop_to_person(image, pixels)
            view.show_frame(image, [pixels] if pixels is not None else [], f"{name} #{frame}")
            view.fit()
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
        self.aligned.set_worlds(None, None, "No comparison: see the message below")
        for view, name in ((self.view_a, "A"), (self.view_b, "B")):
            view.clear(name)
        self.tree.clear()
        self.text.setPlainText(message)

    def _on_select(self) -> None:
        if self.pair is None:
            return
        rows = [self.tree.indexOfTopLevelItem(i) for i in self.tree.selectedItems()]
        self.aligned.set_highlight([j for r in rows for j in self.pair.facts[r].joints])
