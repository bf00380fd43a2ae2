"""Batch pose extraction over many clips with runner threads and worker processes.

The BlazePose graph runs on about one core, and mediapipe releases the GIL while it
infers, so with N runners a folder is extracted by ``LOCAL_RUNNERS`` threads of this
process (library already loaded, no start-up cost: each thread has its own pose graph
and its own ``Repository`` connection) plus ``spawn`` worker processes for the remaining
runners, each with its own ``Repository`` on the same WAL project file (SQLite serialises
their short write transactions). Clips go longest first to whichever runner is free.
Clips already cached are skipped before any work starts, so a rerun over the same folder
resumes. Worker processes report frame progress through a queue and watch a shared
cancel event; threads share the caller's cancel token.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing as mp
import os
import queue as queue_mod
import threading
import time
from typing import Optional

from ..errors import Cancelled, StudioError
from ..jobs import NULL_CONTEXT, CancelToken, JobContext
from ..video import probe
from .registry import DEFAULT_BACKEND

# Runner threads in the caller's process; the other runners are worker processes. Two
# threads were not clearly faster than thread + process on the loaded 2-core machine (see
# docs/adr/0001, decision 8) and keep the GUI's event loop freer, so the default stays 1.
LOCAL_RUNNERS = 1
_WORKER: dict = {}  # per worker process: cancel event, progress queue, open repositories


class _EventToken(CancelToken):
    """A cancel token backed by a multiprocessing event shared with the parent."""

    def __init__(self, event) -> None:
        super().__init__()
        self._mp_event = event

    @property
    def cancelled(self) -> bool:
        return self._mp_event.is_set()


def usable_cores() -> int:
    """CPU cores this process may run on (affinity / container limits), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _init_worker(cancel_event, progress_queue) -> None:
    _WORKER.update(cancel=cancel_event, progress=progress_queue, repos={})


def _worker_context(path: str) -> JobContext:
    q = _WORKER["progress"]
    last = [0.0]

    def report(done: int, total: int, _msg: str) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] > 0.2:
            last[0] = now
            q.put((path, done, total))

    return JobContext(on_progress=report, token=_EventToken(_WORKER["cancel"]))


def _extract_one(path: str, project_path: str, backend_id: str, settings: Optional[dict],
                 ctx: JobContext, repos: dict) -> str:
    """Extract one clip; the status string it ends with (never raises StudioError)."""
    from ..store import Repository  # noqa: PLC0415
    from .extract import extract_video  # noqa: PLC0415

    try:
        if project_path not in repos:
            repos[project_path] = Repository(project_path)
        extract_video(path, repos[project_path], backend_id, settings, ctx)
        return "extracted"
    except Cancelled:
        return "cancelled"
    except StudioError as exc:
        return f"error: {exc}"


def _work(path: str, project_path: str, backend_id: str, settings: Optional[dict]) -> str:
    if _WORKER["cancel"].is_set():
        return "cancelled"
    try:
        return _extract_one(path, project_path, backend_id, settings,
                            _worker_context(path), _WORKER["repos"])
    except Exception as exc:  # noqa: BLE001 (one bad clip must not end the batch)
        return f"error: unexpected {type(exc).__name__}: {exc}"


def _plan(paths, repo, backend_id: str, settings) -> tuple[dict, list[tuple[int, str]]]:
    """Statuses of clips needing no work, and (frames, path) of the rest, longest first."""
    from .extract import cached_track  # noqa: PLC0415

    done, todo = {}, []
    for path in paths:
        try:
            if cached_track(repo, path, backend_id, settings) is not None:
                done[path] = "cached"
            else:  # cached_track's clip_hash has just recorded the clip's properties
                row = repo.clip_by_path(path)
                todo.append((row["frames"] if row else probe(path).frame_count, path))
        except StudioError as exc:
            done[path] = f"error: {exc}"
    todo.sort(key=lambda t: -t[0])  # longest first: balances the workers
    return done, todo


def extract_many(paths, project_path, backend_id: str = DEFAULT_BACKEND,
                 settings: Optional[dict] = None, workers: Optional[int] = None,
                 ctx: JobContext = NULL_CONTEXT,
                 threads: Optional[int] = None) -> list[tuple[str, str]]:
    """Extract every clip of ``paths`` into the project; [(path, status)] in input order.

    Status is "cached", "extracted", "cancelled" or "error: <message>". ``workers``
    runners (default: one per usable core), of which ``threads`` (default
    ``LOCAL_RUNNERS``) are threads of this process and the rest worker processes.
    """
    from ..store import Repository  # noqa: PLC0415

    ctx = ctx or NULL_CONTEXT
    paths = [str(p) for p in paths]
    project_path = str(project_path)
    repo = Repository(project_path)
    try:
        statuses, todo = _plan(paths, repo, backend_id, settings)
    finally:
        repo.close()
    workers = max(1, min(int(workers or usable_cores()), len(todo) or 1))
    if todo and workers == 1:
        statuses.update(_run_inline(todo, project_path, backend_id, settings, ctx))
    elif todo:
        statuses.update(_run_pool(todo, project_path, backend_id, settings, workers, ctx,
                                  threads))
    return [(p, statuses[p]) for p in paths]


def _run_inline(todo, project_path, backend_id, settings, ctx: JobContext) -> dict:
    total = sum(n for n, _ in todo) or 1
    base, repos, out = [0], {}, {}

    def report(done: int, _total: int, msg: str) -> None:
        ctx.progress(min(total, base[0] + done), total, msg)

    sub = JobContext(on_progress=report, token=ctx.token)
    try:
        for frames, path in todo:
            out[path] = ("cancelled" if ctx.cancelled else
                         _extract_one(path, project_path, backend_id, settings, sub, repos))
            base[0] += frames
    finally:
        for r in repos.values():
            r.close()
    return out


class _Scheduler:
    """Hands clips (longest first) to whichever runner is free: a thread of this process
    (already running, no start-up cost) and ``workers - 1`` spawned worker processes."""

    def __init__(self, todo, job: tuple, ctx: JobContext) -> None:
        self.todo = collections.deque(path for _, path in todo)
        self.frames = {path: n for n, path in todo}
        self.total = sum(self.frames.values()) or 1
        self.seen = dict.fromkeys(self.frames, 0)
        self.results: dict = {}
        self.job, self.ctx = job, ctx
        self.lock = threading.Lock()

    def take(self) -> Optional[str]:
        with self.lock:
            if self.ctx.cancelled or not self.todo:
                return None
            return self.todo.popleft()

    def finish(self, path: str, status: str) -> None:
        self.results[path] = status
        self.seen[path] = self.frames[path]

    def run_local(self) -> None:
        repos: dict = {}
        try:
            while (path := self.take()) is not None:
                report = (lambda done, _t, _m, p=path: self.seen.__setitem__(p, done))
                sub = JobContext(on_progress=report, token=self.ctx.token)
                try:
                    status = _extract_one(path, *self.job, sub, repos)
                except Exception as exc:  # noqa: BLE001 (one bad clip must not end the batch)
                    status = f"error: unexpected {type(exc).__name__}: {exc}"
                self.finish(path, status)
        finally:
            for r in repos.values():
                r.close()

    def report(self) -> None:
        done = sum(1 for p in self.frames if p in self.results)
        self.ctx.progress(min(self.total, sum(self.seen.values())), self.total,
                          f"{done}/{len(self.frames)} clips")

    def run(self, threads: int, processes: int) -> dict:
        locals_ = [threading.Thread(target=self.run_local, name=f"batch-local-{i}", daemon=True)
                   for i in range(max(1, threads))]
        for t in locals_:
            t.start()
        if processes <= 0:
            return self._wait_local(locals_)
        local = _Threads(locals_)
        spawn = mp.get_context("spawn")
        cancel, progress = spawn.Event(), spawn.Queue()
        with cf.ProcessPoolExecutor(processes, mp_context=spawn, initializer=_init_worker,
                                    initargs=(cancel, progress)) as pool:
            inflight: dict = {}
            while True:
                while len(inflight) < processes and (path := self.take()) is not None:
                    inflight[pool.submit(_work, path, *self.job)] = path
                if not inflight and not local.is_alive():
                    break
                self._collect(inflight, local)
                _drain(progress, self.seen)
                self.report()
                if self.ctx.cancelled:
                    cancel.set()
        local.join()
        for path in self.frames:
            self.results.setdefault(path, "cancelled")
        return self.results

    def _wait_local(self, threads: list) -> dict:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=0.2)
                self.report()
        for path in self.frames:
            self.results.setdefault(path, "cancelled")
        return self.results

    def _collect(self, inflight: dict, local: threading.Thread) -> None:
        if not inflight:
            local.join(timeout=0.2)
            return
        finished, _ = cf.wait(list(inflight), timeout=0.2)
        for fut in finished:
            path = inflight.pop(fut)
            try:
                self.finish(path, fut.result())
            except Exception as exc:  # noqa: BLE001 (a worker process died)
                self.finish(path, f"error: worker failed ({type(exc).__name__}: {exc})")


class _Threads:
    """Several runner threads seen as one (``is_alive`` / ``join`` of them all)."""

    def __init__(self, threads: list) -> None:
        self.threads = threads

    def is_alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def join(self, timeout: Optional[float] = None) -> None:
        for t in self.threads:
            t.join(timeout)


def _run_pool(todo, project_path, backend_id, settings, workers: int,
              ctx: JobContext, threads: Optional[int] = None) -> dict:
    """``workers`` runners: ``threads`` threads of this process (each with its own pose
    graph; mediapipe releases the GIL while it infers, and threads start with the library
    already loaded) plus worker processes for the rest."""
    threads = min(workers, LOCAL_RUNNERS if threads is None else max(1, int(threads)))
    return _Scheduler(todo, (project_path, backend_id, settings), ctx).run(threads,
                                                                          workers - threads)


def _drain(progress, seen: dict) -> None:
    while True:
        try:
            path, done, _total = progress.get_nowait()
        except (queue_mod.Empty, OSError, ValueError):
            return
        seen[path] = max(seen.get(path, 0), done)
