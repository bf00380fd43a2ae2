"""Frame marks: frame A and frame B (of possibly different clips) for comparisons."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Signal

Mark = Optional[tuple[str, int]]


class FrameMarks(QObject):
    changed = Signal()

    def __init__(self, player=None, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.player = player
        self.a: Mark = None
        self.b: Mark = None

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
