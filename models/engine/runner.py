"""Runners: where the tasks of one stage run.

A runner maps a stage over tasks and yields one ``Outcome`` per task as each finishes (in
no particular order). A task whose function raises gets ``retries`` more attempts and then
becomes a failed outcome with a one-line error: one bad item never ends the run. A
``Cancelled`` raised because the context was cancelled stops the map (it propagates).

``LocalRunner(workers=1)`` runs every task inline on the calling thread (no start-up cost,
almost no overhead per task). With more workers, "cpu" stages run in spawned worker
processes (each started with a cleaned ``sys.path``, its stderr in a log file of the run,
and dying with this process), other stages ("endpoint", "gpu", batched ones) on threads
of this process; ``threads`` of the runners of a "cpu" stage can be threads of this process
too. A worker process that dies is reported with the tail of its log and its task is tried
again on a fresh worker (it counts as an attempt); a worker that dies before it even
started (a broken interpreter) is not replaced. With a ``task_ctx``, tasks report their
progress and partial results (e.g. a checkpoint) from workers to the calling thread, and
a cancelled map gives running tasks ``grace_s`` to stop by themselves.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import importlib
import os
import socket
import tempfile
import threading
import time
from multiprocessing.connection import wait as mp_wait
from typing import Callable, Iterable, Iterator, Optional, Protocol, Sequence

from ..errors import Cancelled, StudioError
from ..jobs import JobContext
from .stage import Outcome, Stage, Task, get_stage

__all__ = ["LocalRunner", "Runner", "one_line", "run_batch", "run_task", "stage_modules",
           "worker_id"]

MAX_ERROR = 300
CANCEL_CHECK_S = 0.005     # the inline runner asks for cancellation at most this often


class Runner(Protocol):
    def map(self, stage: Stage, tasks: Iterable[Task], ctx: JobContext,
            retries: int = 0) -> Iterator[Outcome]:
        """One outcome per task, as they finish; raises ``Cancelled`` when ctx is."""

    def close(self) -> None:
        """Release workers (processes, threads, a Ray connection)."""


_WORKER_ID: list = []


def worker_id() -> str:
    """host:pid of this process (computed once per process)."""
    if not _WORKER_ID or _WORKER_ID[0][0] != os.getpid():
        _WORKER_ID[:] = [(os.getpid(), f"{socket.gethostname()}:{os.getpid()}")]
    return _WORKER_ID[0][1]


def one_line(exc: BaseException) -> str:
    """A one-line description of an exception for the failure record."""
    text = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split()) or type(exc).__name__
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 3] + "..."


def _stop_if_cancelled(exc: BaseException, ctx: JobContext) -> None:
    if isinstance(exc, Cancelled) and ctx.cancelled:
        raise exc


def _checked(stage: Stage, result) -> dict:
    if not isinstance(result, dict):
        raise TypeError(f"stage {stage.name} returned {type(result).__name__}, not a dict")
    return result


def run_task(stage: Stage, task: Task, ctx: JobContext, retries: int = 0,
             worker: str = "") -> Outcome:
    """Run one task with up to ``retries`` extra attempts; never raises for a stage error."""
    worker = worker or worker_id()
    attempts, t0 = 0, time.perf_counter()
    while True:
        attempts += 1
        try:
            assert stage.fn is not None
            result = _checked(stage, stage.fn(task, ctx))
        except Exception as exc:  # noqa: BLE001 (a stage error is a result of the task)
            _stop_if_cancelled(exc, ctx)
            if attempts > retries:
                return Outcome(task, "failed", None, one_line(exc), attempts,
                               time.perf_counter() - t0, worker)
            continue
        return Outcome(task, "ok", result, "", attempts, time.perf_counter() - t0, worker)


def run_batch(stage: Stage, tasks: Sequence[Task], ctx: JobContext, retries: int = 0,
              worker: str = "") -> list[Outcome]:
    """Run a batch through ``stage.fn_many`` (one result or exception per task); the tasks
    that failed are tried again together, up to ``retries`` more times."""
    if stage.fn_many is None:
        return [run_task(stage, t, ctx, retries, worker) for t in tasks]
    worker = worker or worker_id()
    t0 = time.perf_counter()
    out: dict[int, Outcome] = {}
    pending = list(range(len(tasks)))
    attempts = 0
    while pending:
        attempts += 1
        batch = [tasks[i] for i in pending]
        try:
            results = list(stage.fn_many(batch, ctx))
            if len(results) != len(batch):
                raise RuntimeError(f"stage {stage.name} returned {len(results)} results "
                                   f"for {len(batch)} tasks")
        except Exception as exc:  # noqa: BLE001 (the whole batch failed this attempt)
            _stop_if_cancelled(exc, ctx)
            results = [exc] * len(batch)
        again = []
        for i, res in zip(pending, results):
            if not isinstance(res, BaseException):
                try:
                    res = _checked(stage, res)
                except TypeError as exc:
                    res = exc
            if isinstance(res, BaseException):
                _stop_if_cancelled(res, ctx)
                if attempts > retries:
                    out[i] = Outcome(tasks[i], "failed", None, one_line(res), attempts,
                                     time.perf_counter() - t0, worker)
                else:
                    again.append(i)
            else:
                out[i] = Outcome(tasks[i], "ok", res, "", attempts, time.perf_counter() - t0,
                                 worker)
        pending = again
    return [out[i] for i in range(len(tasks))]


def stage_modules(stage: Stage) -> tuple[str, ...]:
    """Modules a worker imports so that ``get_stage(stage.name)`` finds the stage there."""
    fn = stage.fn or stage.fn_many
    mod = getattr(fn, "__module__", "") or ""
    return (mod,) if mod and mod != "__main__" else ()


def resolve_stage(name: str, modules: Sequence[str]) -> Stage:
    """The stage in a worker process: its modules imported (they register it)."""
    for mod in modules:
        importlib.import_module(mod)
    return get_stage(name)


def _batches(tasks: Iterable[Task], size: int) -> Iterator[list[Task]]:
    batch: list[Task] = []
    for t in tasks:
        batch.append(t)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class LocalRunner:
    """Tasks on this machine: inline (workers=1), threads or spawned processes.

    ``threads``: of the ``workers`` runners of a "cpu" stage, how many are threads of this
    process (no start-up cost; worth it for work that releases the GIL) rather than
    worker processes. ``grace_s``: when the map is cancelled, how long running tasks
    (told through their context) get to stop by themselves, e.g. to report a checkpoint,
    before their workers are killed (0: at once)."""

    def __init__(self, workers: int = 1, poll_s: float = 0.2, threads: int = 0,
                 grace_s: float = 0.0) -> None:
        self.workers = max(1, int(workers))
        self.poll_s = poll_s
        self.threads = min(self.workers, max(0, int(threads)))
        self.grace_s = max(0.0, float(grace_s))
        self._pool: Optional[_ProcessPool] = None

    def map(self, stage: Stage, tasks: Iterable[Task], ctx: JobContext,
            retries: int = 0, *,
            task_ctx: Optional[Callable[[Task], JobContext]] = None) -> Iterator[Outcome]:
        """``task_ctx(task)``: the context a task reports its progress and partial results
        to (in the calling thread, also for tasks run by workers; its token should be
        ``ctx``'s); None: the tasks report nothing (inline ones report to ``ctx``)."""
        retries = max(0, int(retries))
        if self.workers == 1:
            if stage.fn_many is not None:
                return self._inline_batches(stage, tasks, ctx, retries)
            return self._inline(stage, tasks, ctx, retries, task_ctx)
        if stage.resource == "cpu" and stage.fn is not None:
            if self._pool is None:
                self._pool = _ProcessPool(self.workers - self.threads, self.threads)
            return self._pool.map(stage, tasks, ctx, retries, self.poll_s, task_ctx,
                                  self.grace_s)
        return self._threads(stage, tasks, ctx, retries)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> "LocalRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- inline: the cheapest path, for trivial stages and one worker ----------------------
    @staticmethod
    def _inline(stage: Stage, tasks: Iterable[Task], ctx: JobContext, retries: int,
                task_ctx: Optional[Callable[[Task], JobContext]] = None) -> Iterator[Outcome]:
        fn, token, worker = stage.fn, ctx.token, worker_id()
        assert fn is not None
        clock = time.perf_counter
        checked = -1.0
        for task in tasks:
            t0 = clock()
            if t0 - checked >= CANCEL_CHECK_S:   # every task, unless tasks take microseconds
                checked = t0
                if token.cancelled:
                    raise Cancelled("Cancelled by the user.")
            own = ctx if task_ctx is None else task_ctx(task)
            try:
                result = fn(task, own)
            except Exception as exc:  # noqa: BLE001 (retried and recorded by run_task)
                _stop_if_cancelled(exc, own)   # not run again: a cancelled task stops here
                yield run_task(stage, task, own, retries, worker)  # the first try counts too
                continue
            if type(result) is not dict:
                yield run_task(stage, task, own, retries, worker)
                continue
            yield Outcome(task, "ok", result, "", 1, clock() - t0, worker)

    @staticmethod
    def _inline_batches(stage: Stage, tasks: Iterable[Task], ctx: JobContext,
                        retries: int) -> Iterator[Outcome]:
        for batch in _batches(tasks, stage.batch):
            ctx.check()
            yield from run_batch(stage, batch, ctx, retries)

    # -- threads: endpoint / gpu / batched stages ------------------------------------------
    def _threads(self, stage: Stage, tasks: Iterable[Task], ctx: JobContext,
                 retries: int) -> Iterator[Outcome]:
        size = stage.batch if stage.fn_many is not None else 1
        work = _batches(tasks, size)
        limit = self.workers * 2
        with cf.ThreadPoolExecutor(self.workers, thread_name_prefix=f"stage-{stage.name}") as pool:
            inflight: set = set()
            exhausted = False
            try:
                while True:
                    while not exhausted and len(inflight) < limit and not ctx.cancelled:
                        batch = next(work, None)
                        if batch is None:
                            exhausted = True
                            break
                        inflight.add(pool.submit(run_batch, stage, batch, ctx, retries))
                    if not inflight:
                        break
                    finished, inflight = cf.wait(inflight, timeout=self.poll_s,
                                                 return_when=cf.FIRST_COMPLETED)
                    for fut in finished:
                        yield from fut.result()   # a Cancelled re-raises here
                    if ctx.cancelled:
                        raise Cancelled("Cancelled by the user.")
            finally:
                for fut in inflight:
                    fut.cancel()


# -- worker processes and threads ---------------------------------------------------------
# parent -> worker: (modules, stage name, [task], [retries], relay) or None (stop)
# worker -> parent: ("ready",) once started, then per task any number of ("progress", done,
# total, message) / ("partial", value) when relay is on, and ("done", [outcomes]) or
# ("cancelled",) at its end
RELAY_EVERY_S = 0.2        # progress of a task is sent to the parent at most this often


def _relay_ctx(conn, token, relay: bool) -> JobContext:
    """The context a task gets in a worker: cancelled through ``token``; with ``relay`` its
    progress (throttled) and partial results go to the parent."""
    if not relay:
        return JobContext(token=token)
    last = [0.0]

    def progress(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= RELAY_EVERY_S:
            last[0] = now
            conn.send(("progress", done, total, message))

    return JobContext(on_progress=progress, on_partial=lambda v: conn.send(("partial", v)),
                      token=token)


def _serve(conn, token) -> None:
    """Run the tasks sent over ``conn`` until told to stop (a process or a thread)."""
    stages: dict = {}
    try:
        conn.send(("ready",))
        while True:
            msg = conn.recv()
            if msg is None:
                return
            modules, name, tasks, retries, relay = msg
            ctx = _relay_ctx(conn, token, relay)
            try:
                if name not in stages:
                    stages[name] = resolve_stage(name, modules)
                stage = stages[name]
                out = [run_task(stage, t, ctx, r) for t, r in zip(tasks, retries)]
            except Cancelled:
                conn.send(("cancelled",))
                continue
            except Exception as exc:  # noqa: BLE001 (the stage cannot even be found)
                out = [Outcome(t, "failed", None, one_line(exc), 1, 0.0, worker_id())
                       for t in tasks]
            conn.send(("done", out))
    except (EOFError, OSError):
        return      # the parent closed its end: nobody waits for more


def _proc_main(conn, parent_pid: int, cancel_event) -> None:
    """A worker process: dies with its parent, cancelled through ``cancel_event``."""
    from .workers import EventToken, die_with_parent  # noqa: PLC0415

    die_with_parent(parent_pid)
    _serve(conn, EventToken(cancel_event, parent_pid))


class _Worker:
    """A spawned worker process (``spawn`` given) or a thread of this process."""

    def __init__(self, spawn, parent_pid: int, cancel_event, name: str = "") -> None:
        from .workers import EventToken  # noqa: PLC0415

        self.task: Optional[Task] = None
        self.started = False       # it said it is ready (a death before: it cannot start)
        if spawn is None:
            self.conn, child = _thread_pipe()
            self.proc = None
            self.thread = threading.Thread(target=_serve, args=(child, EventToken(cancel_event)),
                                           name=name, daemon=True)
            self.thread.start()
            return
        self.conn, child = spawn.Pipe()
        self.proc = spawn.Process(target=_proc_main, args=(child, parent_pid, cancel_event),
                                  daemon=True)
        self.proc.start()
        child.close()

    @property
    def sentinel(self):
        return None if self.proc is None else self.proc.sentinel

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:   # a thread: it ends after its current task
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
            self.thread.join(timeout=0.0 if kill else 2.0)
            self.conn.close()
            return
        try:
            if kill:
                self.proc.kill()
            else:
                self.conn.send(None)
        except (OSError, ValueError, BrokenPipeError):
            pass
        self.proc.join(timeout=2.0)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=2.0)
        self.conn.close()


def _thread_pipe():
    from multiprocessing import Pipe  # noqa: PLC0415

    return Pipe()


class _ProcessPool:
    """``size`` spawned workers plus ``threads`` runner threads of this process, fed one
    task at a time (threads first). A worker that dies while running a task is replaced
    and the task tried again (that counts as an attempt); one that dies before it started
    (a broken interpreter) is not replaced: the others do the rest, and when none is
    left the remaining tasks fail with its error."""

    def __init__(self, size: int, threads: int = 0) -> None:
        from .workers import WorkerContext, install_path_cleaning  # noqa: PLC0415

        self.size, self.threads = max(0, size), max(0, threads)
        self.log = tempfile.TemporaryFile(prefix="aastudio-engine-workers-")
        debug = bool(os.environ.get("ACTIONART_DEBUG"))
        install_path_cleaning()
        self.spawn = WorkerContext(-1 if debug else self.log.fileno())
        self.cancel = self.spawn.Event()
        self.workers: list[_Worker] = []
        self.broken = ""           # why a worker process could not start (then none is)

    def _start(self, thread: bool = False) -> _Worker:
        w = _Worker(None if thread else self.spawn, os.getpid(), self.cancel,
                    f"stage-runner-{len(self.workers)}")
        self.workers.append(w)
        return w

    def _failure(self, w: _Worker) -> str:
        from .workers import log_tail, worker_failure  # noqa: PLC0415

        assert w.proc is not None
        w.proc.join(timeout=5.0)
        return worker_failure(log_tail(self.log.fileno()), [w.proc.exitcode])

    def _fill(self) -> None:
        while sum(1 for w in self.workers if w.proc is None) < self.threads:
            self._start(thread=True)
        while not self.broken and sum(1 for w in self.workers if w.proc is not None) < self.size:
            self._start()

    def map(self, stage: Stage, tasks: Iterable[Task], ctx: JobContext, retries: int,
            poll_s: float, task_ctx: Optional[Callable[[Task], JobContext]] = None,
            grace_s: float = 0.0) -> Iterator[Outcome]:
        modules = stage_modules(stage)
        source = iter(tasks)
        again: collections.deque = collections.deque()
        deaths: dict[str, int] = {}
        relay = task_ctx is not None
        self.cancel.clear()
        self._fill()
        idle = [w for w in reversed(self.workers) if w.task is None]   # threads fed first
        busy: dict = {}

        def feed(w: _Worker) -> bool:
            task = again.popleft() if again else next(source, None)
            if task is None:
                return False
            used = deaths.get(task.key, 0)
            try:
                w.conn.send((modules, stage.name, [task], [retries - used], relay))
            except (OSError, ValueError):
                again.appendleft(task)
                return False
            w.task = task
            busy[w.conn] = w
            return True

        def handle(w: _Worker, msg) -> Optional[list]:
            """Outcomes when the task ended (a cancelled one: []), else None."""
            kind = msg[0]
            if kind == "ready":
                w.started = True
            elif kind == "progress" and task_ctx is not None and w.task is not None:
                task_ctx(w.task).progress(*msg[1:])
            elif kind == "partial" and task_ctx is not None and w.task is not None:
                task_ctx(w.task).partial(msg[1])
            elif kind == "done":
                return list(msg[1])
            elif kind == "cancelled":
                return []
            return None

        deadline = None
        try:
            while True:
                if ctx.cancelled and deadline is None:
                    self.cancel.set()             # running tasks stop (and checkpoint)
                    deadline = time.monotonic() + grace_s
                if deadline is not None and (not busy or time.monotonic() >= deadline):
                    raise Cancelled("Cancelled by the user.")
                while deadline is None and idle:
                    w = idle.pop()
                    if not feed(w):
                        if w.task is None and not again and w in self.workers and \
                                not self._lost(w):
                            idle.append(w)    # nothing left to feed
                            break
                        yield from self._replace(w, None, retries, deaths, again, idle)
                if not busy:
                    if deadline is None and not self.workers:   # none could start
                        yield from self._unrunnable(again, source, deaths)
                    return
                waits = list(busy) + [w.sentinel for w in busy.values() if w.sentinel is not None]
                mp_wait(waits, timeout=poll_s)
                for w in list(busy.values()):
                    ended, dead = None, False
                    try:
                        while ended is None and w.conn.poll():
                            ended = handle(w, w.conn.recv())
                    except (EOFError, OSError):
                        dead = True
                    if ended is None and not dead:
                        dead = self._lost(w)
                        if dead:    # a last message may have come just before it ended
                            try:
                                while ended is None and w.conn.poll():
                                    ended = handle(w, w.conn.recv())
                            except (EOFError, OSError):
                                pass
                    if ended is None and not dead:
                        continue      # still running (maybe it reported progress)
                    del busy[w.conn]
                    task, w.task = w.task, None
                    if ended is not None:
                        idle.append(w)
                        for o in ended:
                            o.attempts += deaths.pop(o.task.key, 0)
                            yield o
                        continue
                    yield from self._replace(w, task, retries, deaths, again, idle)
        finally:
            if busy:  # cancelled or abandoned: the running tasks' results are not wanted
                for w in list(busy.values()):
                    self.workers.remove(w)
                    w.stop(kill=True)
                    w.task = None

    @staticmethod
    def _lost(w: _Worker) -> bool:
        """The worker's process or thread has ended."""
        return not (w.thread.is_alive() if w.proc is None else w.proc.is_alive())

    def _replace(self, w: _Worker, task: Optional[Task], retries: int, deaths: dict,
                 again, idle: list):
        """A worker ended (while running ``task``, or when it was to get one): fail or
        requeue the task, and replace the worker unless it never started."""
        if w.proc is None:
            error = "runner thread ended unexpectedly"
        else:
            error = self._failure(w)
        if w in self.workers:
            self.workers.remove(w)
        w.stop(kill=True)
        if not w.started and w.proc is not None:
            self.broken = self.broken or error
        if task is not None:
            n = deaths.get(task.key, 0) + 1
            deaths[task.key] = n
            if n > retries:
                deaths.pop(task.key, None)
                yield Outcome(task, "failed", None, error, n, 0.0, "")
            else:
                again.append(task)
        if w.proc is None or not self.broken:
            idle.append(self._start(thread=w.proc is None))

    def _unrunnable(self, again, source, deaths: dict):
        """No worker is left (none could start): every remaining task fails with why."""
        error = self.broken or "no worker could be started"
        for task in list(again) + list(source):
            yield Outcome(task, "failed", None, error, deaths.pop(task.key, 0) + 1, 0.0, "")
        again.clear()

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers = []
        self.log.close()
