"""Job context: how a blocking core function reports progress and learns it was cancelled.

Core jobs are plain functions taking a ``JobContext``. The application layer runs them on
its own executors; the CLI runs them inline with a text progress bar.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional

from .errors import Cancelled

ProgressFn = Callable[[int, int, str], None]
PartialFn = Callable[[Any], None]


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class JobContext:
    """Passed to every long-running core function."""

    def __init__(self, on_progress: Optional[ProgressFn] = None,
                 on_partial: Optional[PartialFn] = None,
                 token: Optional[CancelToken] = None) -> None:
        self._on_progress = on_progress
        self._on_partial = on_partial
        self.token = token or CancelToken()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def check(self) -> None:
        """Raise ``Cancelled`` if the job was cancelled."""
        if self.token.cancelled:
            raise Cancelled("Cancelled by the user.")

    def progress(self, done: int, total: int, message: str = "") -> None:
        if self._on_progress is not None:
            self._on_progress(done, total, message)

    def partial(self, value: Any) -> None:
        if self._on_partial is not None:
            self._on_partial(value)


NULL_CONTEXT = JobContext()
