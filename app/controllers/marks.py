"""Frame marks: frame A and frame B (of possibly different clips) for comparisons, and
the A-B playback loop of the player (``toggle_loop``; it follows the marks while on)."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Signal

Mark = Optional[tuple[str, int]]


class FrameMarks(QObject):
    changed = Signal()
    notice = Signal(str)   # one line for the status bar (e.g. why the loop cannot start)

    def __init__(self, player=None, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.player = player
        self.a: Mark = None
        self.b: Mark = None
        self.looping = False
        self.changed.connect(self._follow_loop)
        if player is not None and hasattr(player, "loopChanged"):
            player.loopChanged.connect(self._on_player_loop)

    def _resolve(self, path, frame) -> Mark:
        if path is None and self.player is not None:
            path = self.player.path
        if frame is None and self.player is not None:
            frame = self.player.current_frame
        if path is None or frame is None or int(frame) < 0:
            return None
        return (str(path), int(frame))

    def mark_a(self, path=None, frame=None) -> Mark:
        """Mark frame A (default: the clip and frame on display)."""
        self.a = self._resolve(path, frame)
        self.changed.emit()
        return self.a

    def mark_b(self, path=None, frame=None) -> Mark:
        self.b = self._resolve(path, frame)
        self.changed.emit()
        return self.b

    def clear(self) -> None:
        self.a = self.b = None
        self.changed.emit()

    def frames_in(self, path) -> dict[str, int]:
        """{'A': frame, 'B': frame} for the marks that belong to ``path``."""
        out = {}
        for name, m in (("A", self.a), ("B", self.b)):
            if m is not None and m[0] == str(path):
                out[name] = m[1]
        return out

    # -- A-B loop --------------------------------------------------------------------------
    def loop_frames(self) -> Optional[tuple[int, int]]:
        """(start, end) of the marks A and B in the clip on display, or None."""
        if self.player is None or self.player.path is None:
            return None
        frames = self.frames_in(self.player.path)
        if len(frames) < 2 or frames["A"] == frames["B"]:
            return None
        a, b = sorted(frames.values())
        return a, b

    def toggle_loop(self, on: Optional[bool] = None) -> bool:
        """Loop playback between frames A and B of this clip (the L key); returns the new
        state. Without both marks in the displayed clip the loop stays off, with a notice."""
        on = (not self.looping) if on is None else bool(on)
        frames = self.loop_frames() if on else None
        if on and frames is None:
            self.notice.emit("A–B loop: mark frames A and B in this clip first (keys A and B)")
        self.looping = frames is not None
        if self.player is not None:
            self.player.set_loop(*(frames or (None, None)))
            if self.looping:
                self.player.play()
        if self.looping:
            self.notice.emit(f"A–B loop on: frames {frames[0]}–{frames[1]} (L stops it)")
        elif not on:
            self.notice.emit("A–B loop off")
        return self.looping

    def _on_player_loop(self, start: int, _end: int) -> None:
        if start < 0:
            self.looping = False   # a new clip (or none) ends the loop

    def _follow_loop(self) -> None:
        if self.looping:
            frames = self.loop_frames()
            self.looping = frames is not None
            self.player.set_loop(*(frames or (None, None)))
