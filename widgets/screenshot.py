"""``--screenshot``: wait until the window shows what was asked, save a PNG, exit.

Steps, each driven by a signal (never by sleeping): clip opened -> (poses ready) -> seek to
the requested frame -> clip list filled -> grab the window. Any dialog the app would show
becomes one line on stderr; an error before the picture is taken exits non-zero.
"""
from __future__ import annotations

import sys
from typing import Optional

from PySide6.QtCore import QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication

from . import dialogs

EXIT_OK, EXIT_ERROR, EXIT_TIMEOUT = 0, 2, 3


class Screenshotter(QObject):
    def __init__(self, window, out: str, frame: Optional[int], wait_poses: bool,
                 timeout_s: float = 600.0) -> None:
        super().__init__(window)
        self.window, self.ctx = window, window.ctx
        self.out, self.frame, self.wait_poses = out, frame, wait_poses
        self.rc: Optional[int] = None
        self._loop = QEventLoop()
        self._poses_ready = not wait_poses
        self._clip_ready = False
        self._target: Optional[int] = None
        dialogs.set_handler(self._on_dialog)
        p = self.ctx.player
        p.clipChanged.connect(self._on_clip)
        p.frameChanged.connect(self._on_frame)
        self.ctx.poses.finished.connect(self._on_poses)
        self.ctx.poses.failed.connect(lambda _p, msg: self._fail(msg))
        self.ctx.poses.cancelled.connect(lambda _p, msg: self._fail(msg))
        self.ctx.dataset.clipInfo.connect(lambda *_: self._maybe_shoot())
        QTimer.singleShot(int(timeout_s * 1000), self._timeout)

    def _on_dialog(self, kind, title, text, parent):
        if kind in ("open_file", "open_folder"):
            return ""
        if kind == "error":
            self._fail(text)
        else:
            print(f"{kind}: {text}", file=sys.stderr)
        return None

    def _fail(self, message: str) -> None:
        if self.rc is None:
            print(f"error: {message}", file=sys.stderr)
            self._finish(EXIT_ERROR)

    def _timeout(self) -> None:
        if self.rc is None:
            print("error: timed out before the window was ready for the screenshot",
                  file=sys.stderr)
            self._finish(EXIT_TIMEOUT)

    def _on_clip(self, _path: str) -> None:
        self._clip_ready = True
        self._seek_when_ready()

    def _on_poses(self, _path: str) -> None:
        self._poses_ready = True
        self._seek_when_ready()

    def _seek_when_ready(self) -> None:
        if not (self._clip_ready and self._poses_ready) or self._target is not None:
            return
        p = self.ctx.player
        self._target = max(0, min(p.frame_count - 1, self.frame if self.frame is not None
                                  else p.frame_count // 3))
        p.seek(self._target)
        if p.current_frame == self._target:
            self._maybe_shoot()

    def _on_frame(self, frame: int) -> None:
        if frame == self._target:
            self._maybe_shoot()

    def _maybe_shoot(self) -> None:
        p = self.ctx.player
        if self.rc is not None or self._target is None or p.current_frame != self._target:
            return
        if not self.ctx.dataset.loaded:
            return  # thumbnails still coming; clipInfo calls back
        QTimer.singleShot(50, self._shoot)

    def _shoot(self) -> None:
        if self.rc is not None:
            return
        QApplication.processEvents()
        pixmap = self.window.grab()
        if pixmap.isNull() or not pixmap.save(self.out, "PNG"):
            self._fail(f"Cannot write screenshot {self.out}")
            return
        self._finish(EXIT_OK)

    def _finish(self, rc: int) -> None:
        self.rc = rc
        self._loop.quit()

    def run(self) -> int:
        if self.rc is None:
            self._loop.exec()
        dialogs.set_handler(None)
        return int(self.rc if self.rc is not None else EXIT_ERROR)
