"""The central video panel: view toolbar (overlay, threshold, zoom, legend), the video
view with its skeleton overlay, and the transport bar. It observes the player and draws
``current_image`` with ``pose(current_frame)`` in one update, and tells the player the size
the view shows the whole frame at (playing frames need no more pixels than that).

With every person of the clip attached (Poses > Every Person) it draws everyone on the
frame, each in their colours with their number, the person followed emphasised; a click on
a person makes them the one followed (``ctx.poses.set_person``)."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QToolButton,
                               QVBoxLayout, QWidget)

from .overlay import SIDE_COLORS, person_colors
from .transport import TransportBar
from .view import VideoView


def legend_html() -> str:
    parts = [f"<span style='color:{SIDE_COLORS[s].name()}'>&#9632;</span>&nbsp;{s}"
             for s in ("left", "right", "centre")]
    return "&nbsp;&nbsp;".join(parts)


def people_legend_html(person: int = 0) -> str:
    """The legend with every person drawn: a colour per person; inside it the left side
    light, the right side deep (shown in ``person``'s colours)."""
    c = person_colors(person)
    return (f"colour = person (click one to follow) &nbsp; "
            f"<span style='color:{c['left'].name()}'>&#9632;</span>&nbsp;left (light) &nbsp;"
            f"<span style='color:{c['right'].name()}'>&#9632;</span>&nbsp;right (deep)")


class VideoPanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.player = ctx.player
        self.view = VideoView()
        self.transport = TransportBar(ctx)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self._toolbar())
        lay.addWidget(self.view, 1)
        lay.addWidget(self.transport)
        self._judged: tuple = (None, -1, None)  # (track, its frames_done, its reliability)
        self._poses: tuple = (None, None, None)  # (complete track, pixel poses, posed frames)
        self.player.frameChanged.connect(self._on_frame)
        self.view.zoomChanged.connect(self._on_zoom)
        self.player.trackChanged.connect(self._redraw_overlay)
        self.player.playingChanged.connect(lambda playing: self.view.set_smooth(not playing))
        self.player.clipChanged.connect(lambda _p: self.view.clear("loading…"))
        self.view.personClicked.connect(self._on_person_clicked)
        self.view.clear("Open a video (Ctrl+O) or a folder (Ctrl+Shift+O)")

    def _toolbar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("viewToolbar")
        lay = QHBoxLayout(bar)
        lay.setContentsMargins(8, 3, 8, 3)
        self.overlay_box = QCheckBox("Skeleton")
        self.overlay_box.setChecked(True)
        self.overlay_box.setToolTip("Show the skeleton overlay (O)")
        self.overlay_box.toggled.connect(self.view.set_overlay_visible)
        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(0.0, 1.0)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setDecimals(2)
        self.threshold_box.setValue(self.ctx.visibility_threshold)
        self.view.set_threshold(self.ctx.visibility_threshold)
        self.threshold_box.setToolTip("Hide joints whose visibility is below this value "
                                      "(also leaves their angles out of the plot)")
        self.threshold_box.valueChanged.connect(self.ctx.set_visibility_threshold)
        self.ctx.visibilityChanged.connect(self.view.set_threshold)
        self.ctx.visibilityChanged.connect(self._show_threshold)
        fit = QToolButton()
        fit.setText("Fit")
        fit.setToolTip("Fit the video to the window (F, or double-click)")
        fit.clicked.connect(self.view.fit)
        one = QToolButton()
        one.setText("1:1")
        one.setToolTip("Show at 100 % (one image pixel per screen pixel)")
        one.clicked.connect(lambda: self.view.set_zoom(1.0))
        self.zoom_label = QLabel("")
        self.view.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        for w in (self.overlay_box, QLabel("  min. visibility"), self.threshold_box, fit, one,
                  self.zoom_label):
            lay.addWidget(w)
        lay.addStretch(1)
        self.legend = QLabel(legend_html())
        lay.addWidget(self.legend)
        return bar

    def _show_threshold(self, value: float) -> None:
        """Follow a threshold set elsewhere. A value the box already shows is not written
        back: rewriting the text while the user types (0 -> 0.9 -> 0.95, each applied
        live) would reformat it under the cursor and lose the next keystrokes."""
        box = self.threshold_box
        if abs(box.value() - value) >= 0.5 * 10 ** -box.decimals():
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)

    def _on_person_clicked(self, person: int) -> None:
        if self.ctx.poses.set_person(person):
            self.ctx.message(f"Following person {person}", 3000)

    def _message(self, frame: int, pose) -> str:
        track = self.player.track
        if self.player.people and (track is None or frame < track.frames_done) and pose is None:
            return f"person {self.player.person} not seen on this frame"
        if track is None:
            return ""
        if frame >= track.frames_done:
            return "poses pending…"
        return "" if pose is not None else "no pose"

    def _unreliable(self, frame: int, pose) -> str:
        """Why the pose on ``frame`` is not reliable ("" when it is, or there is none)."""
        track = self.player.track
        if pose is None or track is None or frame >= len(track):
            return ""
        judged, done, verdict = self._judged
        if judged is not track or done != track.frames_done:
            from models.pose.reliability import judge  # noqa: PLC0415
            try:         # once per track (and per growth of a partial one), not per frame
                verdict = judge(track)
            except (ValueError, IndexError):  # a track of another skeleton: not judged
                verdict = None
            self._judged = (track, track.frames_done, verdict)
        if verdict is None:
            return ""
        try:
            return verdict.reason(frame)
        except (ValueError, IndexError):
            return ""

    def _pose(self, frame: int):
        """``player.pose(frame)``; for a complete track taken from the pixel poses of all
        its frames, worked out once per track (not one array per displayed frame)."""
        track = self.player.track
        if track is None or not track.complete:
            return self.player.pose(frame)
        if self._poses[0] is not track:
            img = track.image[:len(track)]     # in its own precision, as track.pixels
            px = np.stack([img[:, :, 0] * track.width, img[:, :, 1] * track.height,
                           img[:, :, 3]], axis=2)
            self._poses = (track, px, (~np.isnan(px[:, :, 0]).all(axis=1)).tolist())
        _track, px, posed = self._poses
        return px[frame] if 0 <= frame < len(posed) and posed[frame] else None

    def _on_frame(self, frame: int, new_image: bool = True) -> None:
        pose = self._pose(frame)  # once per frame: the overlay and the message share it
        image = self.player.current_image if new_image else None
        why = self._unreliable(frame, pose)
        message = self._message(frame, pose)
        if why:
            message = f"pose not reliable: {why}"
        source = self.player.current_size if new_image else None
        if not self.player.people:
            self.view.show_frame(image, [pose] if pose is not None else [], message, [why],
                                 source=source)
            return
        followed = self.player.person
        everyone = self.player.people_at(frame)
        # the person followed first: the reliability verdict is theirs
        order = sorted(everyone, key=lambda p: (p != followed, p))
        self.view.show_frame(image, [everyone[p] for p in order], message,
                             [why if p == followed else "" for p in order], source=source,
                             people=order, followed=followed)

    def _on_zoom(self, _zoom: float) -> None:
        self.player.set_display_size(self.view.display_size())

    def _redraw_overlay(self) -> None:
        self._judged = (None, -1, None)       # a new or changed track: judged again
        self._poses = (None, None, None)      # ... and its poses taken again
        self.legend.setText(people_legend_html(self.player.person) if self.player.people
                            else legend_html())
        if self.player.current_frame >= 0 and self.player.current_image is not None:
            self._on_frame(self.player.current_frame, new_image=False)
