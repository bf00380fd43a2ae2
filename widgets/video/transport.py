"""Transport bar: play/pause, frame and 1 s steps, seek slider, speed, frame/time label."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton,
                               QVBoxLayout, QWidget)

from app.controllers.player import SPEEDS


def format_time(seconds: float) -> str:
    minutes, sec = divmod(max(seconds, 0.0), 60.0)
    return f"{int(minutes):02d}:{sec:05.2f}"


class TransportBar(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("transport")
        self.player = ctx.player
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(2)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setToolTip("Seek")
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
        lay.addStretch(1)
        lay.addWidget(QLabel("speed"))
        self.speed = self._speed_box()
        lay.addWidget(self.speed)
        self._updating = False
        self.player.clipChanged.connect(self._on_clip)
        self.player.frameChanged.connect(self._on_frame)
        self.player.playingChanged.connect(self._on_playing)
        self.player.openFailed.connect(lambda *_: self._on_no_clip())
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

    def _on_no_clip(self) -> None:
        self.setEnabled(False)
        self.label.setText("no clip")

    def _on_frame(self, frame: int) -> None:
        if not self.slider.isSliderDown():
            self._updating = True
            self.slider.setValue(frame)
            self._updating = False
        info = self.player.video_info
        self.label.setText(f"frame {frame} / {info.frame_count - 1}   "
                           f"{format_time(info.time_of(frame))} / {format_time(info.duration)}")

    def _on_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _on_slider(self, value: int) -> None:
        if not self._updating:
            self.player.seek(value)
