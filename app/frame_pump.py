"""Frame pump: decodes frames of one video on its own decode thread, latest request only.

Every ``open``/``request`` gets a new, increasing request id. Requests waiting while the
decoder is busy are coalesced: only the newest frame request is decoded, older ones are
dropped without decoding (``dropped`` counts them). Results carry their request id and the
clip generation so the receiver can ignore anything older than what it already shows.
A request may carry a size (w, h): the frame then comes scaled down to fit in it (made on
the decode thread, so drawing a playing 1080p clip at its on-screen size costs the GUI
thread a small blit) in B, G, R, X byte order, (h, w, 4), which paints fastest;
``frameReady`` also says the full frame's (w, h). Frames asked for without a size are RGB
at full resolution.
The ``VideoReader`` is created and used only on the pump's lane thread.
"""
from __future__ import annotations

import itertools
import threading
from typing import Optional

from PySide6.QtCore import QObject, Signal

from models.errors import StudioError
from models.video import VideoReader, frame_times, with_times


class FramePump(QObject):
    opened = Signal(int, object)          # generation, VideoInfo
    openFailed = Signal(int, str, str)    # generation, path, one-line message
    frameReady = Signal(int, int, int, object, object)  # generation, request id, frame
    #                                      index, RGB, (w, h) of the full-resolution frame
    frameFailed = Signal(int, int, int, str)    # generation, request id, frame index, message

    def __init__(self, jobs, lane: str = "frame-pump", parent: Optional[QObject] = None,
                 clip_info=None) -> None:
        super().__init__(parent)
        # path -> VideoInfo with the frame timestamp table (e.g. the project's, stored
        # once); default: this process's own scan of the file
        self._clip_info = clip_info or (lambda path, info: with_times(info, frame_times(path, info)))
        self._jobs = jobs
        self._lane = lane
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._open_req: Optional[tuple[int, str]] = None   # (generation, path)
        self._frame_req: Optional[tuple] = None  # (request id, index, size or None)
        self._generation = 0
        self._draining = False
        self._reader: Optional[VideoReader] = None  # lane thread only
        self.dropped = 0   # frame requests superseded before being decoded
        self.decoded = 0   # frames actually decoded

    @property
    def generation(self) -> int:
        return self._generation

    def open(self, path) -> int:
        """Open ``path`` (replacing the current clip); returns the new generation."""
        with self._lock:
            self._generation += 1
            self._open_req = (self._generation, str(path))
            if self._frame_req is not None:
                self.dropped += 1
            self._frame_req = None
            gen = self._generation
        self._kick()
        return gen

    def request(self, index: int, size: Optional[tuple[int, int]] = None) -> int:
        """Ask for frame ``index`` of the current clip, scaled down to fit in ``size``
        = (w, h) when given (None: full resolution); returns the request id."""
        rid = next(self._ids)
        size = None if size is None else (int(size[0]), int(size[1]))
        with self._lock:
            if self._frame_req is not None:
                self.dropped += 1
            self._frame_req = (rid, int(index), size)
        self._kick()
        return rid

    def close(self) -> None:
        with self._lock:
            self._generation += 1
            self._open_req = None
            self._frame_req = None
        try:
            self._jobs.lane(self._lane).submit(self._close_reader).result(timeout=5)
        except Exception:  # noqa: BLE001 (closing at exit: nothing useful to report)
            pass

    # -- lane thread ----------------------------------------------------------------------
    def _kick(self) -> None:
        with self._lock:
            if self._draining:
                return
            self._draining = True
        self._jobs.lane(self._lane).submit(self._drain)

    def _take(self):
        with self._lock:
            if self._open_req is not None:
                req, self._open_req = self._open_req, None
                return "open", req, self._generation
            if self._frame_req is not None:
                req, self._frame_req = self._frame_req, None
                return "frame", req, self._generation
            self._draining = False
            return None, None, self._generation

    def _drain(self) -> None:
        while True:
            what, req, gen = self._take()
            if what is None:
                return
            if what == "open":
                self._do_open(*req)
            else:
                self._do_frame(gen, *req)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _do_open(self, gen: int, path: str) -> None:
        self._close_reader()
        try:
            self._reader = VideoReader(path)
        except StudioError as exc:
            self.openFailed.emit(gen, path, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 (OpenCV oddities become a message)
            self.openFailed.emit(gen, path, f"Cannot open {path}: {exc}")
            return
        info = self._reader.info
        try:   # every frame's presentation time, for the time display and playback
            info = self._clip_info(path, info)
            self._reader.set_times(info.times)   # exact seeks in variable-rate clips
        except StudioError:
            pass   # times fall back to frame / fps
        self.opened.emit(gen, info)

    def _do_frame(self, gen: int, rid: int, index: int, size=None) -> None:
        if self._reader is None:
            return
        try:
            image = self._reader.read(index, size, bgrx=size is not None)
            full = self._reader.full_size
        except StudioError as exc:
            self.frameFailed.emit(gen, rid, index, str(exc))
            return
        self.decoded += 1
        self.frameReady.emit(gen, rid, index, image, full)
