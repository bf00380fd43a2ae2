"""Transport bar: play/pause, frame and 1 s steps, seek slider (frames A and B marked on
it, the A-B loop shaded), go to a typed frame or time, A-B loop, speed, frame/time label."""
from __future__ import annotations

import re
from typing import Optional

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPolygon
from PySide6.QtWidgets import (QAbstractSlider, QComboBox, QHBoxLayout, QLabel, QLineEdit,
                               QSlider, QStyle, QStyleOptionSlider, QToolButton, QVBoxLayout,
                               QWidget)

from app.controllers.player import SPEEDS

from ..rate import FrameRate
from ..steady import reserve_text, set_steady_text

MARK_COLORS = {"A": QColor(120, 230, 140), "B": QColor(240, 120, 200)}  # as on the angle plot
LOOP_COLOR = QColor(255, 210, 80, 70)


def format_time(seconds: float) -> str:
    minutes, sec = divmod(max(seconds, 0.0), 60.0)
    return f"{int(minutes):02d}:{sec:05.2f}"


def parse_position(text: str, fps: float) -> Optional[int]:
    """The frame a typed position means: ``120`` (a frame), ``4.5s`` / ``4.5 s`` / ``4.5``
    with a decimal point (seconds), ``1:02.5`` / ``01:02.50`` (minutes:seconds). None when
    the text is none of these."""
    t = text.strip().lower().replace(",", ".")
    if not t:
        return None
    m = re.fullmatch(r"(\d+):(\d{1,2}(?:\.\d*)?)", t)
    if m:
        seconds = int(m.group(1)) * 60 + float(m.group(2))
    elif re.fullmatch(r"\d+(?:\.\d*)?\s*s(?:ec)?|\d*\.\d+|\d+\.", t):
        seconds = float(t.rstrip("sec").strip())
    elif re.fullmatch(r"(?:f\s*)?\d+", t):
        return int(t.lstrip("f").strip())
    else:
        return None
    return int(seconds * fps + 1e-6) if fps > 0 else None


class MarkedSlider(QSlider):
    """The seek slider with frames A/B of this clip drawn as labelled ticks under the
    groove, and the A-B loop (when on) as a shaded span. The marks are painted by a
    transparent child that exists only while there are marks, so the slider itself keeps
    Qt's own painting (it repaints on every frame while playing)."""

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.marks: dict[str, int] = {}
        self.loop: Optional[tuple[int, int]] = None
        self.setMinimumHeight(26)
        self._overlay = _MarksOverlay(self)
        self._overlay.hide()

    def set_marks(self, marks: dict[str, int], loop: Optional[tuple[int, int]] = None) -> None:
        self.marks, self.loop = dict(marks), loop
        self._overlay.setVisible(bool(self.marks) or self.loop is not None)
        self._overlay.setGeometry(self.rect())
        self._overlay.update()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._overlay.setGeometry(self.rect())
        self._handle_shown = None

    def sliderChange(self, change) -> None:  # noqa: N802 (Qt override)
        """A new value repaints the stretch between the handle's old and new places (the
        handle and the groove's filled part change nowhere else), not the whole bar: the
        value changes ~30 times a second while playing."""
        handle = self._handle_rect()
        old, self._handle_shown = getattr(self, "_handle_shown", None), handle
        if change != QAbstractSlider.SliderChange.SliderValueChange or old is None:
            super().sliderChange(change)
            return
        span = handle.united(old)
        pad = handle.width()            # the rounded end of the filled part, and a margin
        self.update(QRect(span.left() - pad, 0, span.width() + 2 * pad, self.height()))

    def _handle_rect(self) -> QRect:
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        return self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                           QStyle.SubControl.SC_SliderHandle, self)

    def x_of(self, value: int) -> int:
        """Widget x of the centre of the handle at ``value``."""
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        style = self.style()
        handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                      QStyle.SubControl.SC_SliderHandle, self)
        groove = style.subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                      QStyle.SubControl.SC_SliderGroove, self)
        span = max(1, groove.width() - handle.width())
        pos = QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), value, span)
        return groove.x() + pos + handle.width() // 2


class _MarksOverlay(QWidget):
    """Paints the marks and the loop span over the slider; lets every mouse event through."""

    def __init__(self, slider: MarkedSlider) -> None:
        super().__init__(slider)
        self.slider = slider
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground, True)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        s = self.slider
        p = QPainter(self)
        h = self.height()
        if s.loop is not None:
            x0, x1 = s.x_of(s.loop[0]), s.x_of(s.loop[1])
            p.fillRect(QRect(x0, 0, max(1, x1 - x0), h), LOOP_COLOR)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        font = p.font()
        font.setPixelSize(9)
        font.setBold(True)
        p.setFont(font)
        for name, frame in sorted(s.marks.items()):
            x, color = s.x_of(frame), MARK_COLORS[name]
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawPolygon(QPolygon([QPoint(x, h - 9), QPoint(x - 5, h - 1), QPoint(x + 5, h - 1)]))
            p.fillRect(QRect(x - 1, 0, 2, h - 9), color)
            p.setPen(color)
            p.drawText(QRect(x + 3, 0, 12, 11), Qt.AlignmentFlag.AlignLeft, name)
        p.end()


class TransportBar(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("transport")
        # opaque (the window's own colour): the label and slider, repainted ~30 times a
        # second while playing, repaint from this bar down, not from the main window down
        self.setAutoFillBackground(True)
        self.player = ctx.player
        self.marks = ctx.marks
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(2)
        self.slider = MarkedSlider()
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setToolTip("Seek (frames A and B are marked under the bar)")
        self.slider.valueChanged.connect(self._on_slider)
        outer.addWidget(self.slider)
        lay = QHBoxLayout()
        lay.setSpacing(4)
        outer.addLayout(lay)
        self.play_button = self._button(QStyle.StandardPixmap.SP_MediaPlay, "Play / pause (Space)",
                                        self.player.toggle)
        buttons = [
            self._button(QStyle.StandardPixmap.SP_MediaSkipBackward, "First frame (Home)",
                         self.player.seek_start),
            self._button(QStyle.StandardPixmap.SP_MediaSeekBackward, "Back 1 s (Shift+Left)",
                         lambda: self.player.jump(-1.0)),
            self._button("◀|", "Previous frame (Left)", lambda: self.player.step(-1)),
            self.play_button,
            self._button("|▶", "Next frame (Right)", lambda: self.player.step(1)),
            self._button(QStyle.StandardPixmap.SP_MediaSeekForward, "Forward 1 s (Shift+Right)",
                         lambda: self.player.jump(1.0)),
            self._button(QStyle.StandardPixmap.SP_MediaSkipForward, "Last frame (End)",
                         self.player.seek_end),
        ]
        for b in buttons:
            lay.addWidget(b)
        lay.addSpacing(10)
        self.label = QLabel("no clip")
        self.label.setObjectName("frameLabel")
        lay.addWidget(self.label)
        lay.addSpacing(10)
        self.goto = QLineEdit()
        self.goto.setPlaceholderText("go to…")
        self.goto.setToolTip("Go to a frame (120) or a time (4.5 s, 0:04.5), then Enter (Ctrl+G)")
        self.goto.setMaximumWidth(self.goto.fontMetrics().horizontalAdvance("0:00.000 s") + 24)
        self.goto.returnPressed.connect(self.go_to)
        lay.addWidget(self.goto)
        self.loop_button = QToolButton()
        self.loop_button.setText("A↔B")
        self.loop_button.setCheckable(True)
        self.loop_button.setToolTip("Loop playback between frames A and B (L)")
        self.loop_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.loop_button.clicked.connect(lambda on: self.marks.toggle_loop(on))
        lay.addWidget(self.loop_button)
        lay.addStretch(1)
        lay.addWidget(QLabel("speed"))
        self.speed = self._speed_box()
        self.speed.setToolTip("Playback speed ([ slower, ] faster, = normal)")
        lay.addWidget(self.speed)
        self._updating = False
        self._clip_text: tuple = (None,)     # (video info, its timeline, frame count, length)
        self.player.clipChanged.connect(self._on_clip)
        # the frame label and the slider position: every frame when paused, ~30 Hz playing
        self.rate = FrameRate(self.player, self._on_frame, parent=self)
        self.player.playingChanged.connect(self._on_playing)
        self.player.speedChanged.connect(self._on_speed)
        self.player.loopChanged.connect(lambda *_: self._show_marks())
        self.player.openFailed.connect(lambda *_: self._on_no_clip())
        self.marks.changed.connect(self._show_marks)
        self.setEnabled(False)

    def _button(self, icon, tip: str, slot) -> QToolButton:
        """A tool button showing a standard icon, or ``icon`` as text when it is a str."""
        b = QToolButton()
        if isinstance(icon, str):
            b.setText(icon)
        else:
            b.setIcon(self.style().standardIcon(icon))
        b.setToolTip(tip)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.clicked.connect(slot)
        return b

    def _speed_box(self) -> QComboBox:
        box = QComboBox()
        box.setToolTip("Playback speed")
        box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for s in SPEEDS:
            box.addItem(f"{s:g}x", s)
        box.setCurrentIndex(SPEEDS.index(1.0))
        box.currentIndexChanged.connect(lambda i: self.player.set_speed(box.itemData(i)))
        return box

    # -- observers ------------------------------------------------------------------------------
    def _on_clip(self, _path: str) -> None:
        self._updating = True
        self.slider.setRange(0, max(0, self.player.frame_count - 1))
        self.slider.setValue(0)
        self._updating = False
        self.setEnabled(True)
        # room for every frame's text of this clip now: a wider number while playing would
        # otherwise re-lay out the window (and resize the video) in the middle of playback
        reserve_text(self.label, self._frame_text(max(0, self.player.frame_count - 1)))
        self._show_marks()

    def _on_no_clip(self) -> None:
        self.setEnabled(False)
        self.label.setText("no clip")
        self._show_marks()

    def _on_speed(self, speed: float) -> None:
        i = self.speed.findData(speed)
        if i >= 0 and i != self.speed.currentIndex():
            self.speed.blockSignals(True)
            self.speed.setCurrentIndex(i)
            self.speed.blockSignals(False)

    def _show_marks(self) -> None:
        path = self.player.path
        self.slider.set_marks(self.marks.frames_in(path) if path else {}, self.player.loop)
        self.loop_button.setChecked(self.player.loop is not None)

    # -- intents --------------------------------------------------------------------------------
    def focus_goto(self) -> None:
        self.goto.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.goto.selectAll()

    def go_to(self) -> Optional[int]:
        """Seek to the typed frame or time; a text that is neither turns the field red."""
        frame = parse_position(self.goto.text(), self.player.fps)
        if frame is None or self.player.video_info is None:
            self.goto.setStyleSheet("QLineEdit { border: 1px solid #d05050; }")
            return None
        self.goto.setStyleSheet("")
        self.player.pause()
        self.player.seek(frame)
        self.goto.selectAll()
        return max(0, min(self.player.frame_count - 1, frame))

    def _on_frame(self, frame: int) -> None:
        if not self.slider.isSliderDown():
            self._updating = True
            self.slider.setValue(frame)
            self._updating = False
        set_steady_text(self.label, self._frame_text(frame))

    def _frame_text(self, frame: int) -> str:
        info = self.player.video_info
        if self._clip_text[0] is not info:   # the clip's part of the text: once per clip
            self._clip_text = (info, info.timeline, f" / {info.frame_count - 1}   ",
                               f" / {format_time(info.duration)}")
        _info, timeline, count, duration = self._clip_text
        return f"frame {frame}{count}{format_time(timeline.time_of(frame))}{duration}"

    def _on_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _on_slider(self, value: int) -> None:
        if not self._updating:
            self.player.seek(value)
