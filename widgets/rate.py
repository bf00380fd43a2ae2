"""Per-frame indicators (labels, seek bar, plot cursor) at a bounded rate while playing.

The picture follows every displayed frame; the text and markers around it need not: a
reader cannot follow more than a few dozen changes per second, and each one costs the GUI
thread time the video needs. ``FrameRate`` calls ``update(frame)`` for the frame on
display: at once whenever the player is not playing (paused, stepped, seeked), and while
playing at most once per ``interval_ms``, an update that falls due in between being run
by a timer, for the newest frame at that moment. Pausing brings it up to date at once.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

from PySide6.QtCore import QObject, QTimer

PLAYING_INTERVAL_MS = 33   # while playing: about 30 updates per second at most


class FrameRate(QObject):
    def __init__(self, player, update: Callable[[int], None],
                 interval_ms: int = PLAYING_INTERVAL_MS,
                 parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.player = player
        self.update = update
        self.interval_ms = interval_ms
        self.calls = 0                     # updates made (for tests and benchmarks)
        self._last = float("-inf")         # monotonic time of the last update while playing
        self._pending = QTimer(self)       # the one update owed while playing
        self._pending.setSingleShot(True)
        self._pending.timeout.connect(self._now)
        player.frameChanged.connect(self._on_frame)
        player.playingChanged.connect(self._on_playing)

    def _now(self) -> None:
        self._pending.stop()
        frame = self.player.current_frame
        if frame >= 0:
            self.calls += 1
            self.update(frame)

    def _on_frame(self, frame: int) -> None:
        if not self.player.playing:
            self._pending.stop()
            self.calls += 1
            self.update(frame)                 # this very frame
            return
        if self._pending.isActive():
            return                             # the owed update will show the newest frame
        now = time.monotonic()
        wait = self._last + self.interval_ms / 1000 - now
        if wait <= 0:
            self._last = now
            self.calls += 1
            self.update(frame)
        else:
            self._last = now + wait
            self._pending.start(max(1, int(wait * 1000 + 0.5)))

    def _on_playing(self, playing: bool) -> None:
        if not playing:
            self._now()                        # the frame playback stopped on, exactly
