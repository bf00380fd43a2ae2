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

Worker processes are started so that they cannot inherit a passing state of this
process: OpenCV's loader puts its own package folder on ``sys.path`` while it loads, and
a child spawned in that moment would import ``cv2/typing`` as ``typing`` and die. So
OpenCV is imported in the calling thread before any runner starts, and the ``sys.path``
handed to a worker leaves out package folders that sit inside another entry of it. A
worker's file descriptor 2 is a log file of the batch (never the muted or shared
terminal stream), so a worker that dies is reported with the last error it printed.
Workers die with this process (Linux parent-death signal, plus a parent check per frame).
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import ctypes
import multiprocessing.context as mp_context
import os
import queue as queue_mod
import re
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Optional

from ..errors import Cancelled, StudioError
from ..jobs import NULL_CONTEXT, CancelToken, JobContext
from ..video import probe
from .registry import DEFAULT_BACKEND
from .storage import PoseStore, PoseStoreOpener

# Runner threads in the caller's process; the other runners are worker processes. Two
# threads were not clearly faster than thread + process on the loaded 2-core machine (see
# docs/adr/0001, decision 8) and keep the GUI's event loop freer, so the default stays 1.
LOCAL_RUNNERS = 1
# what each runner needs to extract a clip: (open_repo, project_path, backend_id, settings)
_Job = tuple[PoseStoreOpener, str, str, Optional[dict]]
_WORKER: dict = {}  # per worker process: cancel event, progress queue, open repositories
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LOG_TAIL = 16384      # bytes of the worker log read to name a worker's failure


class _EventToken(CancelToken):
    """A cancel token backed by a multiprocessing event shared with the parent. Asked once
    per frame, it also ends this worker process at once when the parent is gone."""

    def __init__(self, event, parent_pid: Optional[int] = None) -> None:
        super().__init__()
        self._mp_event = event
        self._parent_pid = parent_pid

    @property
    def cancelled(self) -> bool:
        if self._parent_pid is not None and os.getppid() != self._parent_pid:
            os._exit(1)  # orphaned: nobody waits for this work, write nothing more
        return self._mp_event.is_set()


# -- starting worker processes ---------------------------------------------------------
_SPAWNING = threading.local()  # .clean: this thread is starting one of our workers
_SPAWN_LOCK = threading.Lock()


def _nested_package(entry: str, entries: set) -> bool:
    """``entry`` is a package folder (has ``__init__.py``) inside another path entry,
    like the folder OpenCV's loader adds for a moment: it would shadow top-level modules."""
    if not entry or not os.path.isfile(os.path.join(entry, "__init__.py")):
        return False
    return os.path.dirname(os.path.abspath(entry)) in entries


def clean_child_path(path: list) -> list:
    """``path`` without the package folders that must not reach a child's ``sys.path``."""
    entries = {os.path.abspath(p) for p in path if p}
    return [p for p in path if not _nested_package(p, entries)]


def _install_path_cleaning() -> None:
    """Wrap spawn's preparation data once: for our workers (flag of the starting thread)
    the child's ``sys.path`` is cleaned; other spawns are left as they are."""
    from multiprocessing import spawn  # noqa: PLC0415

    with _SPAWN_LOCK:
        original = spawn.get_preparation_data
        if getattr(original, "cleans_child_path", False):
            return

        def get_preparation_data(name):
            data = original(name)
            if getattr(_SPAWNING, "clean", False) and "sys_path" in data:
                data["sys_path"] = clean_child_path(data["sys_path"])
            return data

        setattr(get_preparation_data, "cleans_child_path", True)
        spawn.get_preparation_data = get_preparation_data


class _WorkerProcess(mp_context.SpawnProcess):
    """A spawned worker whose stderr (fd 2) is the batch's log and whose ``sys.path`` is
    cleaned (see ``clean_child_path``)."""

    log_fd = -1

    def start(self) -> None:
        with _SPAWN_LOCK:
            saved = os.dup(2) if self.log_fd >= 0 else -1
            _SPAWNING.clean = True
            try:
                if saved >= 0:
                    os.dup2(self.log_fd, 2)  # inherited by the child only: restored below
                super().start()
            finally:
                _SPAWNING.clean = False
                if saved >= 0:
                    os.dup2(saved, 2)
                    os.close(saved)


class _WorkerContext(mp_context.SpawnContext):
    """The spawn context with ``_WorkerProcess``; remembers the processes it made."""

    def __init__(self, log_fd: int) -> None:
        super().__init__()
        self.log_fd = log_fd
        self.processes: list[_WorkerProcess] = []

    def Process(self, *args, **kwargs):  # noqa: N802 (the multiprocessing context API)
        proc = _WorkerProcess(*args, **kwargs)
        proc.log_fd = self.log_fd
        self.processes.append(proc)
        return proc


def _settle_imports() -> None:
    """Import OpenCV here, in the calling thread, before runner threads or worker
    processes start: its loader changes ``sys.path`` while it runs (see module doc)."""
    import cv2  # noqa: F401,PLC0415


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this worker when its parent dies; exit if it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the per-frame parent check still ends an orphaned worker
    if os.getppid() != parent_pid:
        os._exit(1)


def _log_tail(fd: int) -> str:
    try:
        size = os.fstat(fd).st_size
        return os.pread(fd, _LOG_TAIL, max(0, size - _LOG_TAIL)).decode("utf-8", "replace")
    except OSError:
        return ""


_PY_ERROR = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b(:|$)")
_ABSL_FATAL = re.compile(r"^F\d{4} .*?\] ")


def worker_failure(log_text: str, exit_codes: list) -> str:
    """One line naming why a worker process died: its exit status and the last Python
    exception (or fatal native log line) it printed."""
    how = "ended unexpectedly"
    bad = [c for c in exit_codes if c not in (None, 0)]
    first = [c for c in bad if c != -signal.SIGTERM]  # the pool stops the others by SIGTERM
    if bad:
        code = (first or bad)[0]
        if code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
    at = next((i for i in range(len(lines) - 1, -1, -1) if _PY_ERROR.match(lines[i])), None)
    cause = None if at is None else " ".join(lines[at:at + 2] if lines[at].endswith(":")
                                             else lines[at:at + 1])
    if cause is None:
        cause = next((_ABSL_FATAL.sub("", ln) for ln in reversed(lines)
                      if _ABSL_FATAL.match(ln)), None)
    text = f"worker process {how}" + (f": {cause}" if cause else "")
    return text if len(text) <= 300 else text[:297] + "..."


def usable_cores() -> int:
    """CPU cores this process may run on (affinity / container limits), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _init_worker(cancel_event, progress_queue, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    _WORKER.update(cancel=cancel_event, progress=progress_queue, repos={}, parent=parent_pid)


def _worker_context(path: str) -> JobContext:
    q = _WORKER["progress"]
    last = [0.0]

    def report(done: int, total: int, _msg: str) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] > 0.2:
            last[0] = now
            q.put((path, done, total))

    return JobContext(on_progress=report,
                      token=_EventToken(_WORKER["cancel"], _WORKER.get("parent")))


def _extract_one(path: str, open_repo: PoseStoreOpener, project_path: str, backend_id: str,
                 settings: Optional[dict], ctx: JobContext, repos: dict) -> str:
    """Extract one clip; the status string it ends with (never raises StudioError)."""
    from .extract import extract_video  # noqa: PLC0415

    try:
        if project_path not in repos:
            repos[project_path] = open_repo(project_path)
        extract_video(path, repos[project_path], backend_id, settings, ctx)
        return "extracted"
    except Cancelled:
        return "cancelled"
    except StudioError as exc:
        return f"error: {exc}"


def _work(path: str, open_repo: PoseStoreOpener, project_path: str, backend_id: str,
          settings: Optional[dict]) -> str:
    if _WORKER["cancel"].is_set():
        return "cancelled"
    try:
        return _extract_one(path, open_repo, project_path, backend_id, settings,
                            _worker_context(path), _WORKER["repos"])
    except Exception as exc:  # noqa: BLE001 (one bad clip must not end the batch)
        return f"error: unexpected {type(exc).__name__}: {exc}"


def _plan(paths, repo: PoseStore, backend_id: str, settings) -> tuple[dict, list[tuple[int, str]]]:
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
                 threads: Optional[int] = None, *,
                 open_repo: PoseStoreOpener) -> list[tuple[str, str]]:
    """Extract every clip of ``paths`` into the project; [(path, status)] in input order.

    Status is "cached", "extracted", "cancelled" or "error: <message>". ``workers``
    runners (default: one per usable core), of which ``threads`` (default
    ``LOCAL_RUNNERS``) are threads of this process and the rest worker processes.
    ``open_repo(project_path)`` opens the project in each runner (``Repository``).
    """
    ctx = ctx or NULL_CONTEXT
    paths = [str(p) for p in paths]
    project_path = str(project_path)
    job: _Job = (open_repo, project_path, backend_id, settings)
    repo = open_repo(project_path)
    try:
        statuses, todo = _plan(paths, repo, backend_id, settings)
    finally:
        repo.close()
    workers = max(1, min(int(workers or usable_cores()), len(todo) or 1))
    if todo and workers == 1:
        statuses.update(_run_inline(todo, job, ctx))
    elif todo:
        statuses.update(_run_pool(todo, job, workers, ctx, threads))
    return [(p, statuses[p]) for p in paths]


def _run_inline(todo, job: _Job, ctx: JobContext) -> dict:
    total = sum(n for n, _ in todo) or 1
    base, out = [0], {}
    repos: dict = {}

    def report(done: int, _total: int, msg: str) -> None:
        ctx.progress(min(total, base[0] + done), total, msg)

    sub = JobContext(on_progress=report, token=ctx.token)
    try:
        for frames, path in todo:
            out[path] = ("cancelled" if ctx.cancelled else
                         _extract_one(path, *job, sub, repos))
            base[0] += frames
    finally:
        for r in repos.values():
            r.close()
    return out


class _Scheduler:
    """Hands clips (longest first) to whichever runner is free: a thread of this process
    (already running, no start-up cost) and ``workers - 1`` spawned worker processes."""

    def __init__(self, todo, job: _Job, ctx: JobContext) -> None:
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
                report = (lambda done, _t, _m, p=path: self.seen.__setitem__(p, done))  # noqa: E731
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

    def put_back(self, path: str) -> None:
        with self.lock:
            self.todo.appendleft(path)

    def run(self, threads: int, processes: int) -> dict:
        _settle_imports()
        locals_ = [threading.Thread(target=self.run_local, name=f"batch-local-{i}", daemon=True)
                   for i in range(max(1, threads))]
        for t in locals_:
            t.start()
        if processes <= 0:
            return self._wait_local(locals_)
        local = _Threads(locals_)
        with tempfile.TemporaryFile(prefix="aastudio-workers-") as log:
            debug = bool(os.environ.get("ACTIONART_DEBUG"))  # then workers print to stderr
            self._run_pool(processes, local, -1 if debug else log.fileno())
        local.join()
        if self.todo and not self.ctx.cancelled:  # the pool broke after the threads ended
            self.run_local()
        for path in self.frames:
            self.results.setdefault(path, "cancelled")
        return self.results

    def _run_pool(self, processes: int, local: _Threads, log_fd: int) -> None:
        """Feed worker processes until the clips are done; when the pool breaks (a worker
        died) its clips fail with the worker's error and the threads do the rest."""
        _install_path_cleaning()
        spawn = _WorkerContext(log_fd)
        cancel, progress = spawn.Event(), spawn.Queue()
        failure = _PoolFailure(spawn, log_fd)
        with cf.ProcessPoolExecutor(processes, mp_context=spawn, initializer=_init_worker,
                                    initargs=(cancel, progress, os.getpid())) as pool:
            inflight: dict = {}
            while True:
                while failure.text is None and len(inflight) < processes and \
                        (path := self.take()) is not None:
                    try:
                        inflight[pool.submit(_work, path, *self.job)] = path
                    except BrokenProcessPool:
                        self.put_back(path)
                        failure.describe()
                if not inflight and not local.is_alive():
                    break
                self._collect(inflight, local, failure)
                _drain(progress, self.seen)
                self.report()
                if self.ctx.cancelled:
                    cancel.set()

    def _wait_local(self, threads: list) -> dict:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=0.2)
                self.report()
        for path in self.frames:
            self.results.setdefault(path, "cancelled")
        return self.results

    def _collect(self, inflight: dict, local: _Threads, failure: _PoolFailure) -> None:
        if not inflight:
            local.join(timeout=0.2)
            return
        finished, _ = cf.wait(list(inflight), timeout=0.2)
        for fut in finished:
            path = inflight.pop(fut)
            try:
                self.finish(path, fut.result())
            except BrokenProcessPool:
                self.finish(path, f"error: {failure.describe()}")
            except Exception as exc:  # noqa: BLE001 (one bad clip must not end the batch)
                self.finish(path, f"error: worker failed ({type(exc).__name__}: {exc})")


class _PoolFailure:
    """Why the worker pool broke, worked out once (from the workers' exit statuses and
    the tail of their log)."""

    def __init__(self, spawn: _WorkerContext, log_fd: int) -> None:
        self.spawn, self.log_fd = spawn, log_fd
        self.text: Optional[str] = None

    def describe(self) -> str:
        if self.text is None:
            procs = self.spawn.processes
            for proc in procs:  # the pool saw a worker die and stops the others
                proc.join(timeout=5.0)   # its exit status, unless the box is very busy
            log = _log_tail(self.log_fd) if self.log_fd >= 0 else ""
            self.text = worker_failure(log, [proc.exitcode for proc in procs])
        return self.text


class _Threads:
    """Several runner threads seen as one (``is_alive`` / ``join`` of them all)."""

    def __init__(self, threads: list) -> None:
        self.threads = threads

    def is_alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def join(self, timeout: Optional[float] = None) -> None:
        for t in self.threads:
            t.join(timeout)


def _run_pool(todo, job: _Job, workers: int, ctx: JobContext,
              threads: Optional[int] = None) -> dict:
    """``workers`` runners: ``threads`` threads of this process (each with its own pose
    graph; mediapipe releases the GIL while it infers, and threads start with the library
    already loaded) plus worker processes for the rest."""
    threads = min(workers, LOCAL_RUNNERS if threads is None else max(1, int(threads)))
    return _Scheduler(todo, job, ctx).run(threads, workers - threads)


def _drain(progress, seen: dict) -> None:
    while True:
        try:
            path, done, _total = progress.get_nowait()
        except (queue_mod.Empty, OSError, ValueError):
            return
        seen[path] = max(seen.get(path, 0), done)
