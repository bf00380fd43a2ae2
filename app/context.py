"""AppContext: the one object every panel receives (project, jobs, player, marks ...).

Panels are constructed as ``Factory(ctx, parent)`` and reach everything through it:
``ctx.repo`` (the open project), ``ctx.jobs`` (all threads), ``ctx.player`` (clip, frame,
track, playback), ``ctx.marks`` (frame A/B), ``ctx.poses`` (cache/extraction),
``ctx.dataset`` (clip list), ``ctx.settings`` (user settings). ``ctx.message(text)`` puts a
line in the status bar; ``ctx.warn(text)`` also raises a dialog (see widgets/dialogs.py).
"""
from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import QObject, Signal

from models.errors import StoreError
from models.store import Repository

from .controllers.dataset import DatasetController
from .controllers.marks import FrameMarks
from .controllers.player import PlayerController
from .controllers.poses import PoseController
from .jobs import JobService
from .settings import UserSettings

log = logging.getLogger(__name__)
DEFAULT_VISIBILITY = 0.5


def open_project(path=None) -> tuple[Repository, Optional[str]]:
    """Open the project file; on failure fall back to an in-memory project.

    Returns (repository, warning): warning is None when the file opened normally, else a
    one-line explanation that nothing will be saved this session.
    """
    try:
        return Repository(path), None
    except StoreError as exc:
        log.warning("project fallback to memory: %s", exc)
        return Repository(":memory:"), (f"{exc}. Working in a temporary in-memory project: "
                                        "nothing will be saved this session.")


class AppContext(QObject):
    statusMessage = Signal(str, int)   # text, timeout ms (0 = until replaced)
    visibilityChanged = Signal(float)  # the joint-visibility threshold of overlay and plots
    warning = Signal(str, str)         # title, text: the window shows a dialog

    def __init__(self, repo: Repository, jobs: Optional[JobService] = None,
                 settings: Optional[UserSettings] = None,
                 parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.jobs = jobs or JobService(parent=self)
        self.settings = settings or UserSettings()
        self.player = PlayerController(self.jobs, parent=self)
        self.marks = FrameMarks(self.player, parent=self)
        self.poses = PoseController(self, parent=self)
        self.dataset = DatasetController(self, parent=self)
        self.project_warning: Optional[str] = None
        self.visibility_threshold = DEFAULT_VISIBILITY

    def set_visibility_threshold(self, value: float) -> None:
        """Joints below ``value`` are hidden in the overlay and their angles left out."""
        value = float(min(max(value, 0.0), 1.0))
        if value != self.visibility_threshold:
            self.visibility_threshold = value
            self.visibilityChanged.emit(value)

    @property
    def in_memory(self) -> bool:
        return self.repo.path == ":memory:"

    def message(self, text: str, timeout_ms: int = 6000) -> None:
        self.statusMessage.emit(text, timeout_ms)

    def warn(self, title: str, text: str) -> None:
        self.warning.emit(title, text)

    def shutdown(self) -> None:
        """Stop playback and every job; close the project (called once at exit)."""
        self.player.close()
        self.jobs.shutdown(wait=True)
        try:
            self.repo.close()
        except StoreError:
            pass
