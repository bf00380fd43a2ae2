"""Per-frame indicators (labels, seek bar, plot cursor) at a bounded rate while playing.

The picture follows every displayed frame; the text and markers around it need not: a
reader cannot follow more than a few dozen changes per second, and each one costs the GUI
thread time the video needs. ``FrameRate`` calls ``update(frame)`` for the frame on
display: at once whenever the player is not playing (paused, stepped, seeked); while
playing, from a timer every ``interval_ms``, for the newest frame at that moment (and only
when it is another frame than the one last shown). Pausing brings it up to date at once.

While playing it does not listen to ``frameChanged`` at all: a playing clip emits it for
every frame (hundreds a second when decoding is fast), and each Python slot call costs
the GUI thread time even when it only decides to wait. The timers of all ``FrameRate``s
of one player with the same interval are started together, so their updates land in the
same pass of the event loop and the window repaints them together.
"""
from __future__ import annotations

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
        self._shown = -1                   # frame of the last update while playing
        self._listening = False            # connected to frameChanged (not playing)
        self._tick = QTimer(self)          # while playing: the newest frame, every interval
        self._tick.timeout.connect(self._on_tick)
        player.playingChanged.connect(self._on_playing)
        self._on_playing(bool(player.playing), initial=True)

    def _listen(self, on: bool) -> None:
        if on != self._listening:
            if on:
                self.player.frameChanged.connect(self._on_frame)
            else:
                self.player.frameChanged.disconnect(self._on_frame)
            self._listening = on

    def _now(self) -> None:
        frame = self.player.current_frame
        if frame >= 0:
            self._shown = frame
            self.calls += 1
            self.update(frame)

    def _on_frame(self, frame: int) -> None:
        if self.player.playing:          # a frame emitted before playingChanged reached us
            return
        self._shown = frame
        self.calls += 1
        self.update(frame)                 # this very frame

    def _on_tick(self) -> None:
        if not self.player.playing:
            self._on_playing(False)
            return
        if self._tick.interval() != self.interval_ms:
            self._tick.setInterval(max(0, int(self.interval_ms)))
        if self.player.current_frame != self._shown:
            self._now()

    def _on_playing(self, playing: bool, initial: bool = False) -> None:
        if playing:
            self._listen(False)
            self._tick.start(max(0, int(self.interval_ms)))
            return
        self._tick.stop()
        self._listen(True)
        if not initial:
            self._now()                        # the frame playback stopped on, exactly
