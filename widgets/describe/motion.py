"""Motion summary panel: temporal facts over an interval of the current clip.

Pick start/end (seconds; "A–B" takes the marked frames of this clip, "±2 s" the window
around the displayed frame), press Analyse: the text gives directions, the repetition
count and the onset order; the plot shows the smoothed signal the repetitions were
counted on, with the counted peaks marked. Bad intervals show their one-line reason.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from app.controllers.describe import describe_controller
from models.errors import StudioError
from models.motion import describe_motion


class MotionPanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.ctrl = describe_controller(ctx)
        self.facts: list = []
        self.start, self.end = self._spin(), self._spin()
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumHeight(110)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "time", units="s")
        self.curve = self.plot.plot([], [], pen=pg.mkPen((90, 180, 255), width=2))
        self.peaks = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(255, 90, 60), pen=None, symbol="t")
        self.plot.addItem(self.peaks)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(self._controls())
        lay.addWidget(self.text)
        lay.addWidget(self.plot, 1)
        ctx.player.clipChanged.connect(lambda _p: self.clear())

    @staticmethod
    def _spin() -> QDoubleSpinBox:
        s = QDoubleSpinBox()
        s.setRange(0.0, 1e6)
        s.setDecimals(2)
        s.setSingleStep(0.5)
        s.setSuffix(" s")
        return s

    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        ab, around, go = QPushButton("A–B"), QPushButton("±2 s"), QPushButton("Analyse")
        ab.setToolTip("Use the marked frames A and B of this clip")
        around.setToolTip("Two seconds either side of the displayed frame")
        ab.clicked.connect(self.use_marks)
        around.clicked.connect(self.use_around)
        go.clicked.connect(self.analyse)
        for w in (QLabel("from"), self.start, QLabel("to"), self.end, ab, around, go):
            row.addWidget(w)
        row.addStretch(1)
        return row

    def set_interval(self, start: float, end: float) -> None:
        self.start.setValue(start)
        self.end.setValue(end)

    def use_marks(self) -> None:
        p = self.ctx.player
        frames = self.ctx.marks.frames_in(p.path) if p.path else {}
        if len(frames) < 2 or not p.fps:
            self.text.setPlainText("Mark frames A and B in this clip first.")
            return
        a, b = sorted((frames["A"], frames["B"]))
        self.set_interval(a / p.fps, b / p.fps)

    def use_around(self) -> None:
        p = self.ctx.player
        t = p.time_of()
        dur = p.video_info.duration if p.video_info else 0.0
        self.set_interval(max(0.0, t - 2.0), min(dur, t + 2.0))

    def analyse(self) -> None:
        try:
            self.facts = self.ctrl.motion(self.start.value(), self.end.value())
        except StudioError as exc:
            self.clear()
            self.text.setPlainText(str(exc))
            return
        self.text.setPlainText(describe_motion(self.facts))
        self._plot()

    def _plot(self) -> None:
        rep = next((f for f in self.facts if f.kind == "repetition"), None)
        fps = self.ctx.player.track.fps if self.ctx.player.track is not None else 0.0
        if rep is None or not fps or not rep.extra.get("series"):
            self.curve.setData([], [])
            self.peaks.setData([], [])
            return
        s = np.asarray(rep.extra["series"], dtype=float)
        t = (rep.extra["start_frame"] + np.arange(len(s))) / fps
        self.curve.setData(t, s)
        idx = np.asarray(rep.extra["peaks"], dtype=int) - rep.extra["start_frame"]
        self.peaks.setData(t[idx], s[idx])
        unit = "°" if rep.extra.get("signal_kind") == "angle" else "m"
        self.plot.setTitle(f"{rep.extra['signal']} — {int(rep.value)} cycles")
        self.plot.setLabel("left", rep.extra["signal"], units=unit)

    def clear(self) -> None:
        self.facts = []
        self.text.setPlainText("")
        self.curve.setData([], [])
        self.peaks.setData([], [])
