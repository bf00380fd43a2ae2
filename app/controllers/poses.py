"""Pose controller: finds the cached pose track of the open clip or extracts it.

On every ``clipChanged`` it cancels the previous clip's job, looks the clip up in the
cache on the CPU pool (no mediapipe import), and when nothing is cached and automatic
extraction is on, runs ``models.pose.extract.extract_video`` on the single *model*
executor with progress, partial tracks (the overlay fills in while it runs) and cancel.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QObject, Signal

from models.errors import Cancelled, StudioError
from models.pose.registry import DEFAULT_BACKEND

from ..jobs import one_line

if TYPE_CHECKING:
    from models.pose.storage import PoseStore

CHECKPOINT_FRAMES = 16


def _lookup(repo: PoseStore, path, backend_id, ctx=None):
    from models.pose.extract import cached_track  # noqa: PLC0415

    return cached_track(repo, path, backend_id=backend_id)


def _extract(repo: PoseStore, path, backend_id, ctx=None):
    from models.pose.extract import extract_video  # noqa: PLC0415 (mediapipe stays lazy)

    return extract_video(path, repo=repo, backend_id=backend_id, ctx=ctx,
                         checkpoint_every=CHECKPOINT_FRAMES)


def _extract_all(repo: PoseStore, paths, backend_id, ctx=None):
    """Every clip of ``paths`` into the project (cached clips are skipped): worker processes
    on a project file, one clip after another for an in-memory project."""
    if repo.path != ":memory:":
        from models.engine.desktop import extract_many  # noqa: PLC0415

        return extract_many(paths, repo.path, backend_id=backend_id, ctx=ctx, open_repo=type(repo))
    from models.jobs import JobContext  # noqa: PLC0415

    out = []
    for i, path in enumerate(paths):
        sub = JobContext(lambda d, t, m, i=i: ctx.progress(i * 1000 + d * 1000 // max(t, 1),
                                                         len(paths) * 1000, m), token=ctx.token)
        try:
            _extract(repo, path, backend_id, ctx=sub)
            out.append((path, "extracted"))
        except Cancelled:
            out.append((path, "cancelled"))
            break
        except StudioError as exc:
            out.append((path, f"error: {exc}"))
    return out


class PoseController(QObject):
    started = Signal(str)              # path: extraction started
    progress = Signal(int, int)        # frames done, total
    finished = Signal(str)             # path: a complete track is attached
    cancelled = Signal(str, str)       # path, message
    failed = Signal(str, str)          # path, message
    busyChanged = Signal(bool)
    batchFinished = Signal(int, int)   # clips extracted or cached, clips failed

    def __init__(self, ctx, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.backend_id = DEFAULT_BACKEND
        self.auto_extract = True
        self._job = None
        self._gen = 0   # generation of the current job: callbacks of older jobs are ignored
        self._path: Optional[str] = None
        ctx.player.clipChanged.connect(self._on_clip)

    @property
    def busy(self) -> bool:
        return self._job is not None and not self._job.done

    def _on_clip(self, path: str) -> None:
        self.cancel(quiet=True)
        self._path, g = path, self._next_gen()
        self._job = self.ctx.jobs.submit(
            _lookup, self.ctx.repo, path, self.backend_id, kind="cpu",
            on_result=lambda t: self._on_lookup(g, path, t),
            on_error=lambda e: self._on_failed(g, path, e))

    def _next_gen(self) -> int:
        self._gen += 1
        return self._gen

    def _on_lookup(self, g: int, path: str, track) -> None:
        if g != self._gen:
            return
        if track is not None:
            self._attach(g, path, track)
        elif self.auto_extract:
            self.extract(path)

    def extract(self, path: Optional[str] = None) -> None:
        """Extract (or resume) poses of ``path`` (default: the open clip)."""
        path = path or self.ctx.player.path
        if path is None:
            return
        self.cancel(quiet=True)
        self._path, g = path, self._next_gen()
        self._job = self.ctx.jobs.submit(
            _extract, self.ctx.repo, path, self.backend_id, kind="model",
            on_result=lambda t: self._attach(g, path, t),
            on_error=lambda e: self._on_failed(g, path, e),
            on_progress=lambda d, n, _m: self._on_progress(g, d, n),
            on_partial=lambda t: self._on_partial(g, path, t))
        self.started.emit(path)
        self.busyChanged.emit(True)

    def extract_all(self, paths=None) -> None:
        """Extract poses of every clip of the open folder (resumable; cached clips skip)."""
        paths = list(paths or self.ctx.dataset.paths)
        if not paths:
            return
        self.cancel(quiet=True)
        self._path, g = "<all clips>", self._next_gen()
        self._job = self.ctx.jobs.submit(
            _extract_all, self.ctx.repo, paths, self.backend_id, kind="model",
            on_result=lambda res: self._on_all_done(g, res),
            on_error=lambda e: self._on_failed(g, self._path, e),
            on_progress=lambda d, n, _m: self._on_progress(g, d, n))
        self.started.emit(self._path)
        self.busyChanged.emit(True)

    def _on_all_done(self, g: int, results) -> None:
        if g != self._gen:
            return
        self._job = None
        self.busyChanged.emit(False)
        failed = [f"{p}: {s[7:]}" for p, s in results if s.startswith("error")]
        for path, _status in results:
            self.ctx.dataset.refresh(path)
        if failed:
            self.failed.emit(self._path, f"{len(failed)} clip(s) failed; first: {failed[0]}")
        self.batchFinished.emit(len(results) - len(failed), len(failed))
        if self.ctx.player.path:
            self._on_clip(self.ctx.player.path)  # attach the open clip's fresh track

    def cancel(self, quiet: bool = False) -> None:
        job, self._job = self._job, None
        self._next_gen()
        if job is not None and not job.done:
            job.cancel()
            if not quiet and self._path:
                self.cancelled.emit(self._path, "Pose extraction cancelled; it resumes "
                                                "where it stopped next time.")
            self.busyChanged.emit(False)

    def _on_progress(self, g: int, done: int, total: int) -> None:
        if g == self._gen:
            self.progress.emit(done, total)

    def _on_partial(self, g: int, path: str, track) -> None:
        if g == self._gen and path == self.ctx.player.path:
            self.ctx.player.set_track(track)

    def _attach(self, g: int, path: str, track) -> None:
        if g != self._gen:
            return
        self._job = None
        if path == self.ctx.player.path:
            self.ctx.player.set_track(track)
        self.busyChanged.emit(False)
        self.finished.emit(path)

    def _on_failed(self, g: int, path: str, exc: BaseException) -> None:
        if g != self._gen:
            return
        self._job = None
        self.busyChanged.emit(False)
        if isinstance(exc, Cancelled):
            self.cancelled.emit(path, str(exc))
        else:
            self.failed.emit(path, one_line(exc))
