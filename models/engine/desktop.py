"""The desktop's batch pose extraction: the ``poses`` stage mapped over clips by the local
runner, each finished track kept in the project by a ``ProjectSink``.

``extract_many`` plans first: clips whose complete track is cached are skipped ("cached")
and clips that cannot be opened fail at once, so a rerun over the same folder resumes.
The rest go longest first to ``LocalRunner(workers)``: with one worker inline on the
calling thread; with more, ``threads`` runner threads of this process (the pose library
releases the GIL while it infers, and threads start with it already loaded) plus worker
processes for the others. Progress (frames of all clips, and the clip posing now) and
partial tracks reach the calling thread; the sink writes every partial track (every
``CHECKPOINT_FRAMES`` frames and when a clip is cancelled or fails) and every finished
track in its own transaction, all from the calling thread on one connection. A clip whose
worker process dies fails with the error that worker printed last; the others go on.

``extract_people`` runs the ``people`` stage on one clip inline on the calling thread (the
clip is decoded once, every frame goes through the multi-person landmarker, the detections
are tracked) and keeps every person in the project: person 0 is the main person, 1..N the
others (``stages.people.person_tracks``), stored under backend ``mediapipe-multi`` and
``people_settings(max_persons, tracker defaults)``. A second call reads them back.
"""
from __future__ import annotations

import os
from typing import Optional

from ..errors import Cancelled, StudioError
from ..jobs import NULL_CONTEXT, JobContext
from ..pose.registry import DEFAULT_BACKEND
from ..pose.storage import PoseStoreOpener
from .project_sink import ProjectSink
from .runner import LocalRunner
from .stage import Item, Task, get_stage, result_key
from .workers import settle_imports, usable_cores

__all__ = ["LOCAL_RUNNERS", "PEOPLE_BACKEND", "extract_many", "extract_people",
           "people_key"]

# Runner threads in the caller's process; the other runners are worker processes. Two
# threads were not clearly faster than thread + process on the loaded 2-core machine (see
# docs/adr/0001, decision 8) and keep the GUI's event loop freer, so the default stays 1.
LOCAL_RUNNERS = 1
CANCEL_GRACE_S = 30.0   # a worker told to stop gets this long to checkpoint its clip


def _plan(paths, repo, backend_id: str, settings) -> tuple[dict, list]:
    """Statuses of clips needing no work, and (frames, path, content hash) of the rest,
    longest first."""
    from ..pose.extract import cached_track  # noqa: PLC0415
    from ..video import probe  # noqa: PLC0415

    done, todo = {}, []
    for path in paths:
        try:
            if cached_track(repo, path, backend_id, settings) is not None:
                done[path] = "cached"
            else:  # cached_track's clip_hash has just recorded the clip's properties
                row = repo.clip_by_path(path)
                frames = row["frames"] if row else probe(path).frame_count
                todo.append((frames, path, repo.clip_hash(path)))
        except StudioError as exc:
            done[path] = f"error: {exc}"
    todo.sort(key=lambda t: -t[0])  # longest first: balances the workers
    return done, todo


def _tasks(todo, backend_id: str, settings, sink: ProjectSink) -> list[Task]:
    stage = get_stage("poses")
    params = stage.params({"backend": backend_id, "settings": dict(settings or {}),
                           "allow_truncated": True})   # the desktop keeps what decodes
    out = []
    for _frames, path, digest in todo:
        item = Item(id=digest, video=os.path.abspath(path), name=os.path.basename(path))
        task = Task(key=result_key(digest, stage, params), stage="poses", item=item,
                    params=params)
        earlier = sink.resume(task)
        if earlier is not None:
            task = Task(key=task.key, stage="poses", item=item, params=params,
                        upstream={"resume": earlier})
        out.append(task)
    return out


class _Progress:
    """Frames posed over all clips, reported to the job's context."""

    def __init__(self, todo, ctx: JobContext) -> None:
        self.ctx = ctx
        self.frames = {path: n for n, path, _ in todo}
        self.total = sum(self.frames.values()) or 1
        self.seen = dict.fromkeys(self.frames, 0)
        self.finished: set = set()
        self.current = ""

    def clip(self, path: str, done: int, name: str) -> None:
        self.seen[path] = max(self.seen[path], min(done, self.frames[path] or done))
        self.current = name
        self.report()

    def finish(self, path: str) -> None:
        self.finished.add(path)
        self.seen[path] = self.frames[path]
        self.report()

    def report(self) -> None:
        n = len(self.frames)
        text = f"{len(self.finished)}/{n} clips" + (f", {self.current}" if self.current else "")
        self.ctx.progress(min(self.total, sum(self.seen.values())), self.total, text)


def extract_many(paths, project_path, backend_id: str = DEFAULT_BACKEND,
                 settings: Optional[dict] = None, workers: Optional[int] = None,
                 ctx: JobContext = NULL_CONTEXT,
                 threads: Optional[int] = None, *,
                 open_repo: PoseStoreOpener) -> list[tuple[str, str]]:
    """Extract every clip of ``paths`` into the project; [(path, status)] in input order.

    Status is "cached", "extracted", "cancelled" or "error: <message>". ``workers``
    runners (default: one per usable core), of which ``threads`` (default
    ``LOCAL_RUNNERS``) are threads of this process and the rest worker processes.
    ``open_repo(project_path)`` opens the project (``Repository``); only this thread
    writes to it.
    """
    ctx = ctx or NULL_CONTEXT
    paths = [str(p) for p in paths]
    first: dict = {}     # one spelling per file ("a.mp4" and "./a.mp4" are one clip)
    for p in paths:
        first.setdefault(os.path.abspath(p), p)
    repo = open_repo(str(project_path))
    try:
        statuses, todo = _plan(list(first.values()), repo, backend_id, settings)
        if todo:
            statuses.update(_extract(todo, repo, backend_id, settings, workers, threads, ctx))
    finally:
        repo.close()
    return [(p, statuses[first[os.path.abspath(p)]]) for p in paths]


def _extract(todo, repo, backend_id: str, settings, workers, threads, ctx: JobContext) -> dict:
    workers = max(1, min(int(workers or usable_cores()), len(todo)))
    local = min(workers, LOCAL_RUNNERS if threads is None else max(1, int(threads)))
    sink = ProjectSink(repo)
    tasks = _tasks(todo, backend_id, settings, sink)   # one per path (copies share a key)
    sink.expect(tasks)
    path_of = {t.item.video: path for t, (_n, path, _d) in zip(tasks, todo)}
    progress = _Progress(todo, ctx)
    contexts: dict[str, JobContext] = {}
    out: dict = {}
    stored: set = set()     # keys whose track was written (a copy of a clip needs no work)

    def task_ctx(task: Task) -> JobContext:
        video = task.item.video
        if video not in contexts:
            path = path_of[video]

            def report(done: int, _total: int, name: str) -> None:
                progress.clip(path, done, name)

            def keep(track) -> None:
                sink.checkpoint(task, track)

            contexts[video] = JobContext(on_progress=report, on_partial=keep, token=ctx.token)
        return contexts[video]

    def source():
        for t in tasks:
            if t.key in stored:     # the same content as a clip done already
                path = path_of[t.item.video]
                out[path] = "extracted"
                progress.finish(path)
                continue
            yield t

    if ctx.cancelled:
        return {path: "cancelled" for path in path_of.values()}
    settle_imports()   # OpenCV's loader changes sys.path: never while runners start
    runner = LocalRunner(workers, threads=local if workers > 1 else 0, grace_s=CANCEL_GRACE_S)
    try:
        for o in runner.map(get_stage("poses"), source(), ctx, retries=0, task_ctx=task_ctx):
            path = path_of[o.task.item.video]
            contexts.pop(o.task.item.video, None)
            if o.status == "ok":
                try:
                    sink.write(o)      # one transaction per track
                    stored.add(o.key)
                    out[path] = "extracted"
                except StudioError as exc:   # e.g. the project is locked or full
                    out[path] = f"error: {exc}"
            else:
                out[path] = f"error: {o.error}"
            progress.finish(path)
    except Cancelled:
        pass
    finally:
        runner.close()
    for path in path_of.values():
        out.setdefault(path, "cancelled")
    return out


PEOPLE_BACKEND = "mediapipe-multi"


def people_key(max_persons: int = 4) -> tuple[str, dict]:
    """(backend, settings) under which a project keeps the people of a clip extracted with
    ``max_persons`` and the tracker's default parameters."""
    from ..pose.tracking import TrackerParams  # noqa: PLC0415
    from .stages.people import BACKEND, people_settings  # noqa: PLC0415

    return BACKEND, people_settings(int(max_persons), TrackerParams())


def cached_people(repo, path, max_persons: Optional[int] = None) -> dict:
    """{person: PoseTrack} of the clip's stored people (empty when not extracted yet): with
    ``max_persons``, those extracted with it; without, the newest set stored whatever its
    ``max_persons``. Never decodes beyond hashing the file once."""
    from ..video import _check_path  # noqa: PLC0415
    from .stored_people import stored_people  # noqa: PLC0415

    return stored_people(repo, _check_path(path), max_persons)


def extract_people(path, repo, ctx: JobContext = NULL_CONTEXT,
                   max_persons: int = 4) -> dict:
    """Every person of one clip, {person: PoseTrack} (0 = the main person; empty when nobody
    is seen), kept in ``repo``; cached tracks are returned without decoding.

    Progress (frames posed, total, clip name) and cancel (``Cancelled``) go through ``ctx``;
    frames after a decoding failure are dropped (the frames before are kept). Nothing is
    written until the whole clip is tracked: a cancelled run stores nothing.
    """
    from ..video import _check_path  # noqa: PLC0415
    from .stages.people import people_from_result, person_tracks  # noqa: PLC0415

    ctx = ctx or NULL_CONTEXT
    cached = cached_people(repo, path, max_persons)
    if cached:
        return cached
    p = _check_path(path)
    digest = repo.clip_hash(p)
    stage = get_stage("people")
    params = stage.params({"max_persons": int(max_persons), "allow_truncated": True})
    item = Item(id=digest, video=os.path.abspath(str(p)), name=os.path.basename(str(p)))
    task = Task(key=result_key(digest, stage, params), stage="people", item=item, params=params)
    ctx.check()
    assert stage.fn is not None
    result = stage.fn(task, ctx)
    tracks = person_tracks(people_from_result(result))
    ctx.check()          # cancelled at the very end: nothing stored either
    if tracks:
        repo.save_person_tracks(digest, tracks)
    return tracks
