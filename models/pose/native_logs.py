"""Mute native (C++) library chatter on file descriptor 2 (mediapipe/absl/TFLite print
INFO/WARNING lines there). Python's ``sys.stderr`` is re-pointed at a copy of the real
stream, so our own one-line errors, logging and tracebacks still reach the terminal.

Used by the CLI around extraction and by the GUI for its whole session. Nothing happens
when ``ACTIONART_DEBUG`` is set or when stderr is already captured (pytest, a pipe set up
by the caller replacing ``sys.stderr``).
"""
from __future__ import annotations

import os
import sys
from typing import Optional


class NativeLogsMuted:
    """Context manager; ``enter()`` may also be called alone for a process-long mute."""

    def __init__(self) -> None:
        self.saved: Optional[int] = None

    def enter(self) -> "NativeLogsMuted":
        if sys.__stderr__ is None or sys.stderr is not sys.__stderr__ or os.environ.get("ACTIONART_DEBUG"):
            return self
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
            sys.stderr = os.fdopen(os.dup(self.saved), "w", buffering=1,
                                   encoding=sys.__stderr__.encoding, errors="replace")
        except (OSError, ValueError, AttributeError):
            self.saved = None
        return self

    def exit(self) -> None:
        if self.saved is None:
            return
        sys.stderr.flush()
        sys.stderr.close()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.saved = None
        sys.stderr = sys.__stderr__

    def __enter__(self) -> "NativeLogsMuted":
        return self.enter()

    def __exit__(self, *exc) -> None:
        self.exit()
