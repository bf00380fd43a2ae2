"""Joint angle plot dock: elbows, shoulders, hips and knees (both sides) over time.

Angles come from WORLD landmarks (``models.geometry.joint_angles``); frames without a pose,
or where one of the angle's three joints is below the visibility threshold, are NaN and
drawn as gaps (``connect='finite'``). A vertical cursor follows the displayed
frame: a thin widget over the plot rather than an item of its scene, so moving it repaints
two narrow strips of the plot in the window's own repaint, never the whole plot in a
repaint of its own; clicking or dragging on the plot seeks the video; the context menu (or the A/B
keys of the window) marks frame A/B, shown as labelled lines. With every person of the clip
attached, the curves are those of the person followed (the player's track; the legend
names them) and change when another person is chosen.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QPainter, QPixmap, QPixmapCache, QRegion
from PySide6.QtWidgets import (QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QMenu,
                               QVBoxLayout, QWidget)

from models.geometry import ANGLE_ORDER, joint_angles

from ..rate import FrameRate
from ..steady import set_steady_text

SIDE_RGB = {"left": ((255, 145, 30), (255, 200, 90)), "right": ((45, 150, 255), (120, 210, 255))}
JOINT_STYLE = {"elbow": (Qt.PenStyle.SolidLine, 0), "shoulder": (Qt.PenStyle.DashLine, 1),
               "hip": (Qt.PenStyle.DotLine, 0), "knee": (Qt.PenStyle.DashDotLine, 1)}
GLYPH = {"elbow": "━", "shoulder": "╍", "hip": "┈", "knee": "┅"}
LEGEND_INTERVAL_MS = 100    # while playing: the legend's values at most 10 times a second
CURVE_CACHE_KB = 96 * 1024   # Qt's pixmap cache: 8 curves of a full-screen plot, 3840 x 700 px


def angle_pen(name: str):
    side, joint = name.split("_", 1)
    style, shade = JOINT_STYLE[joint]
    return pg.mkPen(SIDE_RGB[side][shade], width=2, style=style)


class SeekViewBox(pg.ViewBox):
    """Left click/drag seeks instead of panning; right click opens the marks menu."""

    seekRequested = Signal(float)
    menuRequested = Signal(float, object)  # frame x, screen position

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=True, y=False)

    def _x(self, ev) -> float:
        return float(self.mapSceneToView(ev.scenePos()).x())

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.seekRequested.emit(self._x(ev))
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            self.menuRequested.emit(self._x(ev), ev.screenPos())
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.seekRequested.emit(self._x(ev))
        else:
            super().mouseDragEvent(ev, axis)


class PlotView(pg.PlotWidget):
    """A plot that keeps a picture of its whole drawn scene (child widgets, the cursor,
    left out) while the scene does not change: a repaint that only uncovers what the
    moving cursor covered (~30 times a second while playing) copies those strips from it
    instead of going through every item of the plot again. A change of the scene or of the
    viewport's size drops the picture: the plot is drawn as usual, and a new picture is
    taken, the way a repaint draws it, once the event loop is idle again."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.keep_picture = True
        self._picture: Optional[QPixmap] = None
        self._taking = False            # painting into a new picture (the usual way)
        self._pending = False           # a new picture is to be taken
        self.scene().changed.connect(self.forget_picture)
        self.scene().sceneRectChanged.connect(self.forget_picture)

    def forget_picture(self, *_args) -> None:
        self._picture = None

    def setBackground(self, *args) -> None:  # noqa: N802 (pyqtgraph's name)
        self._picture = None
        super().setBackground(*args)

    def resizeEvent(self, event) -> None:
        self._picture = None
        super().resizeEvent(event)

    def _take_picture(self) -> None:
        self._pending = False
        viewport = self.viewport()
        if self._picture is not None or not viewport.isVisible() or viewport.width() < 1:
            return
        picture = QPixmap(viewport.size())
        self._taking = True
        try:
            viewport.render(picture, QPoint(), QRegion(), QWidget.RenderFlag.DrawWindowBackground)
        finally:
            self._taking = False
        self._picture = picture

    def paintEvent(self, event) -> None:
        viewport = self.viewport()
        picture = self._picture
        if (self._taking or not self.keep_picture or viewport.devicePixelRatioF() != 1.0
                or picture is None or picture.size() != viewport.size()):
            super().paintEvent(event)
            if self.keep_picture and not self._taking and not self._pending:
                self._pending = True
                QTimer.singleShot(0, self._take_picture)
            return
        self.scene().prepareForPaint()
        painter = QPainter(viewport)
        for rect in event.region():
            painter.drawPixmap(rect, picture, rect)
        painter.end()


class FrameCursor(QWidget):
    """The frame cursor: an opaque 2-pixel line over the plot's viewport at frame ``value``.
    Dragging it seeks (``dragged`` with the frame x under the mouse)."""

    dragged = Signal(float)
    WIDTH = 2

    def __init__(self, plot: pg.PlotWidget, viewbox: pg.ViewBox) -> None:
        super().__init__(plot.viewport())
        self.plot, self.viewbox = plot, viewbox
        self._value = 0.0
        self.moving = False
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setCursor(Qt.CursorShape.SizeHorCursor)
        viewbox.sigTransformChanged.connect(self._place)
        viewbox.sigResized.connect(self._place)
        self.show()

    def value(self) -> float:
        return self._value

    def setValue(self, value: float) -> None:  # noqa: N802  (as pyqtgraph's lines name it)
        self._value = float(value)
        self._place()

    def _place(self, *_args) -> None:
        box = self.plot.mapFromScene(self.viewbox.sceneBoundingRect()).boundingRect()
        x = self.plot.mapFromScene(self.viewbox.mapViewToScene(QPointF(self._value, 0))).x()
        inside = box.left() <= x <= box.right() and box.height() > 0
        self.setGeometry(x - self.WIDTH // 2, box.top(), self.WIDTH, max(box.height(), 1))
        self.setVisible(inside)

    def paintEvent(self, _event) -> None:
        QPainter(self).fillRect(self.rect(), QColor(240, 240, 240))

    def _x(self, event) -> float:
        pos = self.mapTo(self.plot.viewport(), event.position().toPoint())
        return float(self.viewbox.mapSceneToView(self.plot.mapToScene(pos)).x())

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.moving = True
            self.dragged.emit(self._x(event))

    def mouseMoveEvent(self, event) -> None:
        if self.moving:
            self.dragged.emit(self._x(event))

    def mouseReleaseEvent(self, event) -> None:
        if self.moving and event.button() == Qt.MouseButton.LeftButton:
            self.moving = False
            self.dragged.emit(self._x(event))


class AnglePlotPanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.player = ctx.player
        self.viewbox = SeekViewBox()
        self.plot = PlotView(viewBox=self.viewbox, background=(30, 31, 34))
        self.plot_item = self.plot.getPlotItem()
        self._setup_axes()
        self.curves = {name: self.plot_item.plot([], [], pen=angle_pen(name), connect="finite")
                       for name in ANGLE_ORDER}
        self._cache_curves()
        self.cursor = FrameCursor(self.plot, self.viewbox)
        self.cursor.dragged.connect(self.seek_x)
        self.mark_lines = {k: self._mark_line(k) for k in ("A", "B")}
        self.angles: dict[str, np.ndarray] = {}
        self.min_visibility = ctx.visibility_threshold  # an angle's 3 joints must reach it
        ctx.visibilityChanged.connect(self._on_visibility)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self._legend())
        lay.addWidget(self.plot, 1)
        self.viewbox.seekRequested.connect(self.seek_x)
        self.viewbox.menuRequested.connect(self._menu)
        self.player.trackChanged.connect(self.refresh)  # also follows every clipChanged
        # every frame when paused; while playing the cursor ~30 times a second, the legend's
        # values (8 texts, laid out and drawn again at each change) at a reading pace
        self.rate = FrameRate(self.player, self._on_frame, parent=self)
        self.legend_rate = FrameRate(self.player, self._show_values, LEGEND_INTERVAL_MS,
                                     parent=self)
        ctx.marks.changed.connect(self._show_marks)
        self.setMinimumHeight(180)

    def _cache_curves(self) -> None:
        """Each curve keeps its picture at screen resolution (redrawn when its data or the
        plot's scale changes): the strips the moving cursor uncovers, ~30 times a second
        while playing, are copied from it instead of running every curve's drawing again.
        The same pixels (the curves carry no text). Qt keeps these pictures in its pixmap
        cache: room for them all, so they are not thrown out and redrawn at each move."""
        for item in self.cached_items():
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), CURVE_CACHE_KB))

    def cached_items(self) -> list:
        """The items kept as pictures: every curve, and the two axes (whose grid lines
        cross the whole plot, so each strip the cursor uncovers would otherwise replay all
        their ticks, labels and grid lines)."""
        return ([c.curve for c in self.curves.values()]
                + [self.plot_item.getAxis(side) for side in ("left", "bottom")])

    def _setup_axes(self) -> None:
        p = self.plot_item
        p.showGrid(x=True, y=True, alpha=0.15)
        p.setLabel("left", "angle (°)")
        p.setLabel("bottom", "frame")
        p.setYRange(0, 185, padding=0)

    def _legend(self) -> QWidget:
        """One checkable, coloured entry per curve (the legend doubles as a filter)."""
        bar = QWidget()
        lay = QHBoxLayout(bar)
        lay.setContentsMargins(8, 2, 8, 0)
        self.title = QLabel("world-landmark angles:")
        lay.addWidget(self.title)
        self.toggles = {}
        for name in ANGLE_ORDER:
            side, joint = name.split("_", 1)
            box = QCheckBox(self._label(name))
            box.setChecked(True)
            box.setStyleSheet("QCheckBox { color: rgb%s; }" % (SIDE_RGB[side][JOINT_STYLE[joint][1]],))
            box.toggled.connect(self.curves[name].setVisible)
            box.setMinimumWidth(box.fontMetrics().horizontalAdvance(self._label(name) + " 180°") + 28)
            lay.addWidget(box)
            self.toggles[name] = box
        lay.addStretch(1)
        return bar

    def _mark_line(self, name: str) -> pg.InfiniteLine:
        color = (120, 230, 140) if name == "A" else (240, 120, 200)
        line = pg.InfiniteLine(0, angle=90, movable=False, pen=pg.mkPen(color, width=1.5,
                                                                        style=Qt.PenStyle.DashLine),
                               label=name, labelOpts={"position": 0.93, "color": color})
        line.setVisible(False)
        self.plot_item.addItem(line, ignoreBounds=True)
        return line

    # -- data -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the curves from the player's track (partial tracks included)."""
        track = self.player.track
        n = self.player.frame_count
        self.title.setText(f"world-landmark angles of person {self.player.person}:"
                           if self.player.people else "world-landmark angles:")
        self.angles = ({} if track is None else
                       joint_angles(track.world, min_visibility=self.min_visibility))
        x = np.arange(len(track)) if track is not None else np.arange(0)
        for name, curve in self.curves.items():
            y = self.angles.get(name)
            if y is None:
                curve.setData([], [])
            else:
                done = max(track.frames_done, 0)
                curve.setData(x[:done], y[:done], connect="finite")
        self.plot_item.setXRange(0, max(n - 1, 1), padding=0.01)
        self._show_marks()
        if self.player.current_frame >= 0:
            self._on_frame(self.player.current_frame)
            self._show_values(self.player.current_frame)

    def _on_visibility(self, value: float) -> None:
        self.min_visibility = value
        self.refresh()

    def _on_frame(self, frame: int) -> None:
        if not self.cursor.moving:
            self.cursor.setValue(frame)

    def _show_values(self, frame: int) -> None:
        """The legend's angle values at ``frame``."""
        for name, box in self.toggles.items():
            set_steady_text(box, self._label(name, frame))

    def _label(self, name: str, frame: int = -1) -> str:
        """Legend text: glyph, side, joint and the angle at ``frame`` when known."""
        side, joint = name.split("_", 1)
        text = f"{GLYPH[joint]} {side[0].upper()} {joint}"
        values = self.angles.get(name)
        if values is not None and 0 <= frame < len(values) and np.isfinite(values[frame]):
            text += f" {values[frame]:.0f}°"
        return text

    def _show_marks(self) -> None:
        frames = self.ctx.marks.frames_in(self.player.path) if self.player.path else {}
        for name, line in self.mark_lines.items():
            line.setVisible(name in frames)
            if name in frames:
                line.setValue(frames[name])

    # -- intents --------------------------------------------------------------------------------
    def frame_at(self, x: float) -> Optional[int]:
        n = self.player.frame_count
        if n <= 0:
            return None
        return int(min(max(round(x), 0), n - 1))

    def seek_x(self, x: float) -> None:
        frame = self.frame_at(x)
        if frame is not None:
            self.player.pause()
            self.player.seek(frame)

    def _menu(self, x: float, screen_pos) -> None:
        frame = self.frame_at(x)
        if frame is None:
            return
        menu = QMenu(self)
        path = self.player.path
        for text, fn in ((f"Mark frame A here ({frame})", self.ctx.marks.mark_a),
                         (f"Mark frame B here ({frame})", self.ctx.marks.mark_b)):
            act = QAction(text, menu)
            act.triggered.connect(lambda _c=False, f=fn: f(path, frame))
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction("Clear marks", self.ctx.marks.clear)
        menu.addAction("Show all frames", self.refresh)
        menu.popup(screen_pos.toPoint())
        self._last_menu = menu
