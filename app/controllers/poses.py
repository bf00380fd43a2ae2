"""Pose controller: finds the cached pose track of the open clip or extracts it.

On every ``clipChanged`` it cancels the previous clip's job, looks the clip up in the
cache on the CPU pool (no mediapipe import), and when nothing is cached and automatic
extraction is on, runs ``models.pose.extract.extract_video`` on the single *model*
executor with progress, partial tracks (the overlay fills in while it runs) and cancel.

Two ways to pose a clip (Poses menu, remembered in the user settings under ``MODE_KEY``):
"Single person" (the tracked single-person landmarker, ``backend_id``) and "Every person"
(``models.engine.desktop.extract_people``: the multi-person landmarker and tracker; every
person is kept in the project, 0 = the main person). With every person attached the
player shows them all and follows one of them, ``person`` (``set_person``; 0 at each new
clip): the angle plot, descriptions and motion then read that person's track.
``subject_phrase`` is the one place that names the followed person in text;
``subject_name`` is what the GUI's texts use: that phrase, or "person N" (the number on
the person's badge on the video) where the phrase would be ambiguous.
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
MODE_KEY = "poses_every_person"   # user setting: True = extract every person of a clip


def _lookup_people(repo: PoseStore, path, ctx=None):
    from models.engine.desktop import cached_people  # noqa: PLC0415

    return cached_people(repo, path)


def _extract_people(repo: PoseStore, path, ctx=None):
    from models.engine.desktop import extract_people  # noqa: PLC0415 (mediapipe stays lazy)

    return extract_people(path, repo, ctx=ctx)


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
    return _one_after_another(paths, ctx, lambda path, sub: _extract(repo, path, backend_id, ctx=sub))


def _extract_all_people(repo: PoseStore, paths, ctx=None):
    """Every person of every clip of ``paths``, one clip after another (cached clips are
    read back); [(path, status)] as ``_extract_all``."""
    return _one_after_another(paths, ctx, lambda path, sub: _extract_people(repo, path, ctx=sub))


def _one_after_another(paths, ctx, extract_one):
    """``extract_one(path, clip context)`` for each clip in turn, progress spread over all
    of them; [(path, "extracted" | "cancelled" | "error: ...")], stopping at a cancel."""
    from models.jobs import JobContext  # noqa: PLC0415

    out = []
    for i, path in enumerate(paths):
        sub = JobContext(lambda d, t, m, i=i: ctx.progress(i * 1000 + d * 1000 // max(t, 1),
                                                         len(paths) * 1000, m), token=ctx.token)
        try:
            extract_one(path, sub)
            out.append((path, "extracted"))
        except Cancelled:
            out.append((path, "cancelled"))
            break
        except StudioError as exc:
            out.append((path, f"error: {exc}"))
    return out


def badge_name(person: int) -> str:
    """How the GUI names ``person`` by the number on their badge (``PersonLabel``)."""
    return f"person {int(person)}"


class PoseController(QObject):
    started = Signal(str)              # path: extraction started
    progress = Signal(int, int)        # frames done, total
    finished = Signal(str)             # path: a complete track is attached
    cancelled = Signal(str, str)       # path, message
    failed = Signal(str, str)          # path, message
    busyChanged = Signal(bool)
    batchFinished = Signal(int, int)   # clips extracted or cached, clips failed
    modeChanged = Signal(bool)         # True: every person of a clip; False: single person
    person_changed = Signal(int)       # the person followed (0 = the main person)

    def __init__(self, ctx, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.backend_id = DEFAULT_BACKEND
        self.auto_extract = True
        self._job = None
        self._gen = 0   # generation of the current job: callbacks of older jobs are ignored
        self._path: Optional[str] = None
        self._announced = 0   # the person last announced by ``person_changed``
        settings = getattr(ctx, "settings", None)
        self.every_person = bool(settings.get(MODE_KEY, False)) if settings is not None else False
        ctx.player.clipChanged.connect(self._on_clip)

    # -- single person / every person -------------------------------------------------------------
    def set_every_person(self, on: bool) -> None:
        """Poses > Single person (False) / Every person (True): remembered in the user
        settings; the open clip is looked up (and extracted) again the chosen way."""
        on = bool(on)
        if on == self.every_person:
            return
        self.every_person = on
        settings = getattr(self.ctx, "settings", None)
        if settings is not None:
            settings.set(MODE_KEY, on)
        self.modeChanged.emit(on)
        if self.ctx.player.path:
            self.ctx.player.set_track(None)   # the other way's poses, once found or extracted
            self._on_clip(self.ctx.player.path)

    @property
    def person(self) -> int:
        """The person followed: 0 = the main person (the only one in single-person mode)."""
        return self.ctx.player.person

    def persons(self) -> list[int]:
        """The person numbers of the open clip (``[0]`` with one track, [] without poses)."""
        player = self.ctx.player
        if player.people:
            return sorted(player.people)
        return [0] if player.track is not None else []

    def set_person(self, person: int) -> bool:
        """Follow ``person`` (its track becomes the player's track); False when the open
        clip has no such person."""
        player = self.ctx.player
        person = int(person)
        if person not in player.people:
            return False
        if person != player.person:
            player.set_people(player.people, person)
        self._announce_person()
        return True

    def subject_phrase(self, start: Optional[int] = None,
                       end: Optional[int] = None) -> Optional[str]:
        """How text names the followed person over frames [start, end) (default: the
        displayed frame): "the person" when one person is there, else their place in the
        picture ("the person on the left" ...), None when a viewer could not tell who
        is meant. The one place the describe texts' ``subject=`` is to come from."""
        from models.describe.referents import SINGLE, referents  # noqa: PLC0415

        player = self.ctx.player
        if not player.people:
            return SINGLE if player.track is not None else None
        frame = max(player.current_frame, 0)
        start = frame if start is None else int(start)
        end = start + 1 if end is None else int(end)
        return referents(player.people, start, end).get(player.person)

    def subject_name(self, start: Optional[int] = None, end: Optional[int] = None) -> str:
        """The name the GUI's texts give the followed person over [start, end) (default:
        the displayed frame): ``subject_phrase`` where a viewer can tell who is meant, else
        "person N", the number on their badge on the video (the viewer sees it, so the
        GUI never has to leave a text out the way generated QA does). "the person" with
        one track. With several people stored, "the person" is never used: where only the
        followed person is found the others were lost by the landmarker, not necessarily
        gone from the picture, so the badge names them."""
        from models.describe.referents import SINGLE  # noqa: PLC0415

        people = self.ctx.player.people
        if not people:
            return SINGLE
        phrase = self.subject_phrase(start, end)
        if phrase is None or (phrase == SINGLE and len(people) > 1):
            return badge_name(self.person)
        return phrase

    @property
    def busy(self) -> bool:
        return self._job is not None and not self._job.done

    def _on_clip(self, path: str) -> None:
        self.cancel(quiet=True)
        self._path, g = path, self._next_gen()
        self._announce_person()       # a new clip (or mode) starts at the main person
        lookup = _lookup_people if self.every_person else _lookup
        args = (path,) if self.every_person else (path, self.backend_id)
        self._job = self.ctx.jobs.submit(
            lookup, self.ctx.repo, *args, kind="cpu",
            on_result=lambda t: self._on_lookup(g, path, t),
            on_error=lambda e: self._on_failed(g, path, e))

    def _announce_person(self) -> None:
        """``person_changed`` when the followed person is not the one last announced."""
        if self.person != self._announced:
            self._announced = self.person
            self.person_changed.emit(self._announced)

    def _next_gen(self) -> int:
        self._gen += 1
        return self._gen

    def _on_lookup(self, g: int, path: str, track) -> None:
        if g != self._gen:
            return
        found = bool(track) if isinstance(track, dict) else track is not None
        if found:                 # a track, or every person ({person: track})
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
        if self.every_person:     # every person: tracked at the end, so no partial tracks
            self._job = self.ctx.jobs.submit(
                _extract_people, self.ctx.repo, path, kind="model",
                on_result=lambda people: self._attach(g, path, people),
                on_error=lambda e: self._on_failed(g, path, e),
                on_progress=lambda d, n, _m: self._on_progress(g, d, n))
            self.started.emit(path)
            self.busyChanged.emit(True)
            return
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
        job, args = ((_extract_all_people, (paths,)) if self.every_person
                     else (_extract_all, (paths, self.backend_id)))
        self._job = self.ctx.jobs.submit(
            job, self.ctx.repo, *args, kind="model",
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
        """Attach a track, or every person ({person: PoseTrack}, following person 0)."""
        if g != self._gen:
            return
        self._job = None
        if path == self.ctx.player.path:
            if isinstance(track, dict):
                self.ctx.player.set_people(track, 0)
            else:
                self.ctx.player.set_track(track)
            self._announce_person()
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
