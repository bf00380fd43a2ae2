"""AppContext: the one object every panel receives (project, jobs, player, marks ...).

Panels are constructed as ``Factory(ctx, parent)`` and reach everything through it:
``ctx.repo`` (the open project), ``ctx.jobs`` (all threads), ``ctx.player`` (clip, frame,
track, playback), ``ctx.marks`` (frame A/B), ``ctx.poses`` (cache/extraction),
``ctx.dataset`` (clip list), ``ctx.settings`` (user settings). ``ctx.message(text)`` puts a
line in the status bar; ``ctx.warn(text)`` also raises a dialog (see widgets/dialogs.py).
"""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QObject, Signal

from models.errors import StoreError
from models.store import Repository
from models.store.repository import default_project_path

from .controllers.dataset import DatasetController
from .controllers.marks import FrameMarks
from .controllers.player import PlayerController
from .controllers.poses import PoseController
from .jobs import JobService
from .settings import UserSettings

if TYPE_CHECKING:
    from .controllers.describe import DescribeController
    from .controllers.vlm import VLMController

log = logging.getLogger(__name__)
DEFAULT_VISIBILITY = 0.5
LOCK_PROBE_S = 0.75


def open_project(path=None) -> tuple[Repository, Optional[str]]:
    """Open the project file; on failure fall back to an in-memory project.

    Returns (repository, warning): warning is None when the file opened normally, else a
    one-line explanation that nothing will be saved this session.
    """
    try:
        _probe_lock(path)
        return Repository(path), None
    except StoreError as exc:
        log.warning("project fallback to memory: %s", exc)
        return Repository(":memory:"), (f"{exc}. Working in a temporary in-memory project: "
                                        "nothing will be saved this session.")


def _probe_lock(path, timeout_s: float = LOCK_PROBE_S) -> None:
    """Fail fast (StoreError) when another program holds the project file's write lock.

    The store waits up to 10 s for a lock, which is right for a busy writer but would
    freeze the window at start-up; a writer's transactions last milliseconds, so a lock
    still held after ``timeout_s`` belongs to another program."""
    target = Path(path) if path else Path(default_project_path())
    if not target.is_file() or target.stat().st_size == 0:
        return
    try:
        conn = sqlite3.connect(f"{target.absolute().as_uri()}?mode=rw", uri=True,
                               timeout=timeout_s, isolation_level=None)
    except sqlite3.DatabaseError:
        return  # not openable for writing: Repository reports why
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(f"Project file {target} is locked by another program") from None
    except sqlite3.DatabaseError:
        pass  # not SQLite, read-only ...: Repository gives the precise message
    finally:
        conn.close()


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
        # the player reads frame times from the project (decoded once per clip content)
        self.player = PlayerController(self.jobs, parent=self,
                                       clip_info=lambda path, _info: self.repo.clip_info(path))
        self.marks = FrameMarks(self.player, parent=self)
        self.poses = PoseController(self, parent=self)
        self.dataset = DatasetController(self, parent=self)
        self.project_warning: Optional[str] = None
        self.visibility_threshold = DEFAULT_VISIBILITY
        self._vlm: Optional[VLMController] = None
        self._describe: Optional[DescribeController] = None

    @property
    def vlm(self) -> VLMController:
        """The controller asking models, shared by the Ask and Compare panels (made on first
        use: most sessions never ask a model)."""
        if self._vlm is None:
            from .controllers.vlm import VLMController  # noqa: PLC0415 (first use only)

            self._vlm = VLMController(self, parent=self)
        return self._vlm

    @property
    def describe(self) -> DescribeController:
        """The controller of pose descriptions and frame pairs (made on first use)."""
        if self._describe is None:
            from .controllers.describe import DescribeController  # noqa: PLC0415 (first use only)

            self._describe = DescribeController(self, parent=self)
        return self._describe

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
