"""Player controller: the open clip, the displayed frame, playback and the pose track.

Views observe ``clipChanged`` / ``frameChanged`` / ``trackChanged`` / ``playingChanged``
and call intents (``seek``, ``step``, ``play`` ...). ``frameChanged(i)`` is emitted only
once the decoded image of frame ``i`` is in ``current_image``, so a view that draws
``current_image`` together with ``pose(i)`` in its slot can never show a pose of another
frame. Playback is clock driven: each tick asks for the frame that *should* be showing
now (clip fps x speed); when decoding lags, the pump skips to the newest request.
With a loop set (``set_loop(start, end)``, e.g. frames A-B), playback wraps from ``end``
back to ``start``; ``faster``/``slower``/``normal_speed`` step through ``SPEEDS``.
While playing, frames are asked for at ``display_size`` (the size the view shows the whole
frame at, set by the view; None: full resolution), so ``current_image`` may then be a
scaled-down copy of the frame, (h, w, 4) in B, G, R, X byte order (``current_size`` is the
full frame's (w, h)); otherwise it is the full RGB frame, and a paused player always ends
up showing that.

Every person of a clip (``set_people``: {person number: PoseTrack}, 0 = the main person)
may be attached instead of one track: ``track`` is then the track of the person followed
(``person``), so everything that reads ``track`` (angle plot, descriptions, motion) follows
that person, and ``people_at(frame)`` gives every person's pose for the overlay. A single
track (``set_track``) is person 0 alone.
"""
from __future__ import annotations

import os
import time
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from models.pose.track import PoseTrack
from models.video import VideoInfo

from ..frame_pump import FramePump

SPEEDS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def _pose_of(t: Optional[PoseTrack], frame: int) -> Optional[np.ndarray]:
    """(joints, 3) pixel x, y, visibility of ``frame`` of track ``t``, None when not posed."""
    if t is None or frame < 0 or frame >= min(len(t), max(t.frames_done, 0)):
        return None
    px = t.pixels(frame)
    return None if np.isnan(px[:, 0]).all() else px


class PlayerController(QObject):
    clipChanged = Signal(str)
    frameChanged = Signal(int)
    trackChanged = Signal()
    playingChanged = Signal(bool)
    speedChanged = Signal(float)
    loopChanged = Signal(int, int)    # start, end frame of the playback loop (-1, -1 = off)
    openFailed = Signal(str, str)     # path, one-line message
    error = Signal(str)               # decode problems while playing/seeking

    def __init__(self, jobs, parent: Optional[QObject] = None, clip_info=None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.pump = FramePump(jobs, parent=self, clip_info=clip_info)
        self.pump.opened.connect(self._on_opened)
        self.pump.openFailed.connect(self._on_open_failed)
        self.pump.frameReady.connect(self._on_frame)
        self.pump.frameFailed.connect(self._on_frame_failed)
        self.path: Optional[str] = None
        self.video_info: Optional[VideoInfo] = None
        self.current_frame = -1
        self.current_image: Optional[np.ndarray] = None
        self.current_size: Optional[tuple[int, int]] = None  # full-resolution (w, h)
        self.display_size: Optional[tuple[int, int]] = None  # playing frames fit in this
        self._reduced = False  # a scaled-down frame was asked for since the last full one
        self.track: Optional[PoseTrack] = None
        self.people: dict[int, PoseTrack] = {}   # every person ({}: one track, person 0)
        self.person = 0                           # the person ``track`` belongs to
        self.speed = 1.0
        self._requested = -1   # newest frame index asked for
        self._shown_req = 0    # request id of the frame on display
        self._clock = (0.0, 0)  # (monotonic time, frame) playback anchor
        self.loop: Optional[tuple[int, int]] = None   # (start, end) frames while looping
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)

    # -- clip -------------------------------------------------------------------------------
    def open(self, path) -> None:
        """Open a video asynchronously: ``clipChanged`` or ``openFailed`` follows."""
        self.pause()
        self.pump.open(os.path.abspath(str(path)))

    @Slot(int, object)
    def _on_opened(self, gen: int, info: VideoInfo) -> None:
        if gen != self.pump.generation:
            return
        self.path, self.video_info = info.path, info
        self.current_frame, self.current_image, self._requested = -1, None, -1
        self.current_size, self._reduced = None, False
        self.track, self.people, self.person = None, {}, 0
        self.set_loop(None)
        self.seek(0)  # before clipChanged, so a listener's own seek wins (latest request)
        self.clipChanged.emit(info.path)
        self.trackChanged.emit()

    @Slot(int, str, str)
    def _on_open_failed(self, gen: int, path: str, message: str) -> None:
        if gen != self.pump.generation:
            return
        had_clip = self.video_info is not None
        self.set_loop(None)
        self.path = self.video_info = self.current_image = self.track = None
        self.people, self.person = {}, 0
        self.current_size, self._reduced = None, False
        self.current_frame = self._requested = -1  # the old clip's reader is closed
        self.openFailed.emit(path, message)
        if had_clip:
            self.trackChanged.emit()

    def set_track(self, track: Optional[PoseTrack]) -> None:
        """Attach the pose track of the current clip (None to clear): one person, 0."""
        self.track, self.people, self.person = track, {}, 0
        self.trackChanged.emit()

    def set_people(self, people: dict, person: int = 0) -> None:
        """Attach every person of the current clip ({person: PoseTrack}) and follow
        ``person`` (the main person, 0, when there is no such person): ``track`` becomes
        that person's track. An empty dict clears the poses."""
        self.people = {int(p): t for p, t in sorted((people or {}).items())}
        if person not in self.people:
            person = 0 if 0 in self.people or not self.people else next(iter(self.people))
        self.person = int(person)
        self.track = self.people.get(self.person)
        self.trackChanged.emit()

    def people_at(self, frame: Optional[int] = None) -> dict[int, np.ndarray]:
        """{person: (joints, 3) pixel x, y, visibility} of everyone posed on ``frame``
        (default: the displayed one); with one track, person 0 (or the followed one)."""
        frame = self.current_frame if frame is None else frame
        if not self.people:
            pose = self.pose(frame)
            return {} if pose is None else {self.person: pose}
        out = {}
        for p, t in self.people.items():
            pose = _pose_of(t, frame)
            if pose is not None:
                out[p] = pose
        return out

    # -- frames -------------------------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        return self.video_info.frame_count if self.video_info else 0

    @property
    def fps(self) -> float:
        return self.video_info.fps if self.video_info else 0.0

    @property
    def requested_frame(self) -> int:
        return self._requested

    def seek(self, index: int) -> None:
        if self.video_info is None:
            return
        index = max(0, min(self.frame_count - 1, int(index)))
        self._requested = index
        if self._timer.isActive():
            self._clock = (time.monotonic(), index)
        self._request(index)

    def set_display_size(self, size: Optional[tuple[int, int]]) -> None:
        """(w, h) in device pixels that a playing frame needs at most (the view's size of
        the whole frame on screen); None: always full resolution (e.g. zoomed in)."""
        self.display_size = None if size is None else (max(1, int(size[0])), max(1, int(size[1])))

    def _request(self, index: int) -> None:
        size = self.display_size if self._timer.isActive() else None
        self._reduced = self._reduced or size is not None
        self.pump.request(index, size)

    def step(self, n: int = 1) -> None:
        self.pause()
        base = self._requested if self._requested >= 0 else self.current_frame
        self.seek(base + int(n))

    def jump(self, seconds: float) -> None:
        """Move by ``seconds`` of video time (the +-1 s keys)."""
        base = self._requested if self._requested >= 0 else self.current_frame
        if self.video_info is not None:
            self.seek(self.video_info.frame_at(self.time_of(base) + seconds))

    def seek_time(self, seconds: float) -> None:
        """Show the frame displayed at ``seconds`` of video time."""
        if self.video_info is not None:
            self.seek(int(float(seconds) * self.fps + 1e-6))

    def seek_start(self) -> None:
        self.seek(0)

    def seek_end(self) -> None:
        self.seek(self.frame_count - 1)

    @Slot(int, int, int, object, object)
    def _on_frame(self, gen: int, rid: int, index: int, image, full=None) -> None:
        if gen != self.pump.generation or rid <= self._shown_req:
            return  # an older clip, or older than what is on screen: stale
        self._shown_req = rid
        self.current_frame, self.current_image = index, image
        self.current_size = tuple(full) if full is not None else (image.shape[1], image.shape[0])
        self.frameChanged.emit(index)

    @Slot(int, int, int, str)
    def _on_frame_failed(self, gen: int, rid: int, index: int, message: str) -> None:
        if gen == self.pump.generation:
            self.pause()
            self.error.emit(message)

    def pose(self, frame: Optional[int] = None) -> Optional[np.ndarray]:
        """(33, 3) pixel x, y, visibility of ``frame`` (default: the displayed one), or None
        when there is no track, the frame is not extracted yet, or no pose was found."""
        frame = self.current_frame if frame is None else frame
        return _pose_of(self.track, frame)

    def time_of(self, frame: Optional[int] = None) -> float:
        frame = self.current_frame if frame is None else frame
        return self.video_info.time_of(max(frame, 0)) if self.video_info else 0.0

    # -- playback ------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self) -> None:
        if self.video_info is None or self.playing:
            return
        start = self.current_frame
        if self.loop is not None and not self.loop[0] <= start < self.loop[1]:
            start = self.loop[0]
            self.seek(start)
        elif start >= self.frame_count - 1:
            start = 0
            self.seek(0)
        self._clock = (time.monotonic(), max(start, 0))
        self._timer.start(self._interval_ms())
        self.playingChanged.emit(True)

    def pause(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            if self._reduced and self._requested >= 0:
                self._reduced = False    # the still frame again, at full resolution
                self.pump.request(self._requested)
            self.playingChanged.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def set_loop(self, start: Optional[int], end: Optional[int] = None) -> None:
        """Loop playback over frames ``start``..``end`` (None: no loop)."""
        loop = None
        if start is not None and end is not None and self.video_info is not None:
            lo, hi = sorted((int(start), int(end)))
            lo, hi = max(0, lo), min(self.frame_count - 1, hi)
            loop = (lo, hi) if hi > lo else None
        if loop != self.loop:
            self.loop = loop
            self.loopChanged.emit(*(loop or (-1, -1)))

    def faster(self) -> None:
        self.set_speed(next((s for s in SPEEDS if s > self.speed), SPEEDS[-1]))

    def slower(self) -> None:
        self.set_speed(next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0]))

    def normal_speed(self) -> None:
        self.set_speed(1.0)

    def set_speed(self, speed: float) -> None:
        speed = float(min(max(speed, SPEEDS[0]), SPEEDS[-1]))
        if self.playing:
            self._clock = (time.monotonic(), max(self.current_frame, 0))
            self._timer.setInterval(self._interval_ms(speed))
        self.speed = speed
        self.speedChanged.emit(speed)

    def _interval_ms(self, speed: Optional[float] = None) -> int:
        rate = max(self.fps * (speed or self.speed), 1e-3)
        return max(1, int(1000.0 / rate))

    @Slot()
    def _tick(self) -> None:
        t0, f0 = self._clock
        info = self.video_info
        if info is None:
            return
        # the frame whose presentation time has come (frame rates may vary in a clip)
        due = info.time_of(f0) + (time.monotonic() - t0) * self.speed
        target = max(f0, info.timeline.shown_at(due, self.frame_count))
        last = self.frame_count - 1
        if self.loop is not None and target > self.loop[1]:
            start, end = self.loop     # wrap: the clock restarts at the loop's first frame
            target = start + (target - end - 1) % (end - start + 1)
            self._clock = (time.monotonic() - (target - start) / (self.fps * self.speed), start)
        elif target >= last:
            if self._requested != last:
                self._requested, self._reduced = last, True   # pause() asks for it, full size
            self.pause()
            return
        if target != self._requested:
            self._requested = target
            self._request(target)

    def close(self) -> None:
        self.pause()
        self.pump.close()
