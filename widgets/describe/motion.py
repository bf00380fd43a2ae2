"""Motion summary panel: temporal facts over an interval of the current clip.

The interval starts as the whole clip (or the marked frames A-B of this clip). Choosing
another: type start/end (seconds), drag the shaded region on the plot (or
its edges), press "A–B" for the marked frames of this clip (marking A and B in this clip
also fills it in), or "±2 s" for the window around the displayed frame. The signal box
picks the signal repetitions are counted on ("auto" = the most periodic one).
Analyse (or releasing the dragged region) renders the facts: the text gives directions,
the repetition count with its signal and the onset order; the plot shows that smoothed
signal over the whole clip (faint) and the interval (bold) with every counted cycle's
peak marked and numbered. A playhead follows the displayed frame; clicking the plot (or
dragging the playhead) seeks the video. Bad intervals show their one-line reason.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPlainTextEdit,
                               QPushButton, QVBoxLayout, QWidget)

from app.controllers.describe import describe_controller
from models.errors import StudioError
from models.motion import describe_motion, signal_names

from ..rate import FrameRate

AUTO = "auto"


class MotionPanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.ctrl = describe_controller(ctx)
        self.facts: list = []
        self.start, self.end = self._spin(), self._spin()
        self.signal = QComboBox()
        self.signal.addItems([AUTO] + signal_names())
        self.signal.setToolTip("Signal the repetitions are counted on")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumHeight(110)
        self._build_plot()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(self._controls())
        lay.addWidget(self.text)
        lay.addWidget(self.plot, 1)
        ctx.player.clipChanged.connect(lambda _p: self._on_clip())
        ctx.player.openFailed.connect(lambda *_: self._on_clip())
        ctx.player.trackChanged.connect(self._on_track)
        self.rate = FrameRate(ctx.player, self._on_frame, parent=self)  # playhead, ~30 Hz playing
        ctx.marks.changed.connect(self._on_marks)
        self._analysed_track = None

    def _build_plot(self) -> None:
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.context = self.plot.plot([], [], pen=pg.mkPen((90, 180, 255, 80), width=1))
        self.curve = self.plot.plot([], [], pen=pg.mkPen((90, 180, 255), width=2.5))
        self.peaks = pg.ScatterPlotItem(size=13, brush=pg.mkBrush(255, 90, 60), pen=None, symbol="t1")
        self.plot.addItem(self.peaks)
        self.labels: list = []
        self.region = pg.LinearRegionItem(values=(0.0, 1.0), brush=pg.mkBrush(255, 255, 255, 22))
        self.region.setZValue(-10)
        self.region.setToolTip("Drag the interval (or its edges) to analyse another stretch")
        self.region.sigRegionChangeFinished.connect(self._on_region)
        self.plot.addItem(self.region)
        self.playhead = pg.InfiniteLine(0, angle=90, movable=True,
                                        pen=pg.mkPen((240, 240, 240), width=1.5),
                                        hoverPen=pg.mkPen((255, 255, 255), width=3))
        self.playhead.setToolTip("The displayed frame: drag it, or click the plot, to seek")
        self.playhead.setVisible(False)
        self.playhead.sigDragged.connect(lambda line: self.seek_time(line.value()))
        self.plot.addItem(self.playhead, ignoreBounds=True)
        self.plot.scene().sigMouseClicked.connect(self._on_click)

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
        ab.clicked.connect(lambda: self.use_marks() and self.analyse())
        around.clicked.connect(lambda: (self.use_around(), self.analyse()))
        go.clicked.connect(self.analyse)
        for w in (QLabel("from"), self.start, QLabel("to"), self.end, ab, around,
                  QLabel("signal"), self.signal, go):
            row.addWidget(w)
        row.addStretch(1)
        return row

    # -- choosing the interval ------------------------------------------------------------------
    def set_interval(self, start: float, end: float) -> None:
        self.start.setValue(start)
        self.end.setValue(end)
        self._show_region(start, end)

    def _show_region(self, start: float, end: float) -> None:
        self.region.blockSignals(True)
        self.region.setRegion((start, end))
        self.region.blockSignals(False)

    def _on_region(self) -> None:
        lo, hi = self.region.getRegion()
        self.start.setValue(max(0.0, lo))
        self.end.setValue(max(0.0, hi))
        self.analyse()

    def use_marks(self) -> bool:
        p = self.ctx.player
        frames = self.ctx.marks.frames_in(p.path) if p.path else {}
        if len(frames) < 2 or not p.fps:
            self.text.setPlainText("Mark frames A and B in this clip first.")
            return False
        a, b = sorted((frames["A"], frames["B"]))
        self.set_interval(p.time_of(a), p.time_of(b))
        return True

    def _on_marks(self) -> None:
        p = self.ctx.player
        if p.path and len(self.ctx.marks.frames_in(p.path)) == 2 and self.isVisible():
            self.use_marks()
            self.analyse()

    def default_interval(self) -> tuple[float, float]:
        """The marked frames A-B of this clip, else the whole clip (seconds)."""
        p = self.ctx.player
        frames = self.ctx.marks.frames_in(p.path) if p.path else {}
        if len(frames) == 2 and p.fps and frames["A"] != frames["B"]:
            a, b = sorted(frames.values())
            return a / p.fps, b / p.fps
        info = p.video_info
        return (0.0, max(0.0, (info.frame_count - 1) / info.fps)) if info and info.fps else (0.0, 0.0)

    def _on_clip(self) -> None:
        self.clear()
        self.set_interval(*self.default_interval())
        self._on_frame(self.ctx.player.current_frame)

    def _on_track(self) -> None:
        """A complete track of this clip: analyse the interval at once when visible."""
        track = self.ctx.player.track
        if track is None:
            self._analysed_track = None
            self.clear()
        elif track.complete and track is not self._analysed_track and self.isVisible():
            self.analyse()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self._on_frame(self.ctx.player.current_frame)
        track = self.ctx.player.track
        if track is not None and track.complete and track is not self._analysed_track:
            self.analyse()

    # -- playhead and seeking -------------------------------------------------------------------
    def _on_frame(self, frame: int) -> None:
        if not self.isVisible():
            return               # a hidden tab costs nothing; showEvent places the playhead
        fps = self.ctx.player.fps
        self.playhead.setVisible(frame >= 0 and bool(fps))
        if frame >= 0 and fps and not self.playhead.moving:
            self.playhead.setValue(frame / fps)

    def seek_time(self, seconds: float) -> None:
        p = self.ctx.player
        if p.video_info is not None:
            p.pause()
            p.seek_time(max(0.0, seconds))

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        vb = self.plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return          # on an axis or the title: not a time
        self.seek_time(vb.mapSceneToView(event.scenePos()).x())

    def use_around(self) -> None:
        p = self.ctx.player
        t = p.time_of()
        dur = p.video_info.duration if p.video_info else 0.0
        self.set_interval(max(0.0, t - 2.0), min(dur, t + 2.0))

    # -- analysis -------------------------------------------------------------------------------
    def analyse(self) -> None:
        start, end = self.start.value(), self.end.value()
        self._show_region(start, end)
        chosen = self.signal.currentText()
        self._analysed_track = self.ctx.player.track
        try:
            self.facts = self.ctrl.motion(start, end, None if chosen == AUTO else chosen)
        except StudioError as exc:
            self._clear_plot()
            self.facts = []
            self.text.setPlainText(str(exc))
            return
        self.text.setPlainText(describe_motion(self.facts, self.ctrl.motion_subject(start, end)))
        self._plot()

    def _plot(self) -> None:
        self._clear_plot()
        rep = next((f for f in self.facts if f.kind == "repetition"), None)
        fps = self.ctx.player.track.fps if self.ctx.player.track is not None else 0.0
        if rep is None or not fps or not rep.extra.get("series"):
            return
        whole = self.ctrl.signal_series(rep.extra["signal"])
        if whole is not None:
            self.context.setData(*whole, connect="finite")
        s = np.asarray(rep.extra["series"], dtype=float)
        t = self.ctx.player.track.timeline.times(rep.extra["start_frame"] + np.arange(len(s)))
        self.curve.setData(t, s, connect="finite")
        idx = np.asarray(rep.extra["peaks"], dtype=int) - rep.extra["start_frame"]
        self.peaks.setData(t[idx], s[idx])
        for k, i in enumerate(idx, start=1):
            label = pg.TextItem(str(k), color=(255, 150, 120), anchor=(0.5, 1.3))
            label.setPos(t[i], s[i])
            self.plot.addItem(label)
            self.labels.append(label)
        unit = "°" if rep.extra.get("signal_kind") == "angle" else "m"
        n, peaks = int(rep.value), [str(p) for p in rep.extra["peaks"]]
        listed = ", ".join(peaks[:12]) + (", …" if len(peaks) > 12 else "")
        self.plot.setTitle(f"{rep.extra['signal']}: {n} cycle{'s' if n != 1 else ''} counted "
                           f"(peaks at frames {listed})" if n else
                           f"{rep.extra['signal']}: no repeated cycle")
        self.plot.setLabel("left", rep.extra["signal"], units=unit)

    def _clear_plot(self) -> None:
        for item in self.labels:
            self.plot.removeItem(item)
        self.labels = []
        self.context.setData([], [])
        self.curve.setData([], [])
        self.peaks.setData([], [])
        self.plot.setTitle("")
        self.plot.setLabel("left", "signal")

    def clear(self) -> None:
        self.facts = []
        self.text.setPlainText("")
        self._clear_plot()
