"""Runners: where the tasks of one stage run.

A runner maps a stage over tasks and yields one ``Outcome`` per task as each finishes (in
no particular order). A task whose function raises gets ``retries`` more attempts and then
becomes a failed outcome with a one-line error: one bad item never ends the run. A
``Cancelled`` raised because the context was cancelled stops the map (it propagates).

``LocalRunner(workers=1)`` runs every task inline on the calling thread (no start-up cost,
almost no overhead per task). With more workers, "cpu" stages run in spawned worker
processes (each started with a cleaned ``sys.path``, its stderr in a log file of the run,
and dying with this process), other stages ("endpoint", "gpu", batched ones) on threads
of this process. A worker process that dies is reported with the tail of its log and its
task is tried again on a fresh worker (it counts as an attempt).
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import importlib
import os
import socket
import tempfile
import time
from multiprocessing.connection import wait as mp_wait
from typing import Iterable, Iterator, Optional, Protocol, Sequence

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
    """Tasks on this machine: inline (workers=1), threads or spawned processes."""

    def __init__(self, workers: int = 1, poll_s: float = 0.2) -> None:
        self.workers = max(1, int(workers))
        self.poll_s = poll_s
        self._pool: Optional[_ProcessPool] = None

    def map(self, stage: Stage, tasks: Iterable[Task], ctx: JobContext,
            retries: int = 0) -> Iterator[Outcome]:
        retries = max(0, int(retries))
        if self.workers == 1:
            if stage.fn_many is not None:
                return self._inline_batches(stage, tasks, ctx, retries)
            return self._inline(stage, tasks, ctx, retries)
        if stage.resource == "cpu" and stage.fn is not None:
            if self._pool is None:
                self._pool = _ProcessPool(self.workers)
            return self._pool.map(stage, tasks, ctx, retries, self.poll_s)
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
    def _inline(stage: Stage, tasks: Iterable[Task], ctx: JobContext,
                retries: int) -> Iterator[Outcome]:
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
            try:
                result = fn(task, ctx)
            except Exception:  # noqa: BLE001 (retried and recorded by run_task)
                yield run_task(stage, task, ctx, retries, worker)  # the first try counts too
                continue
            if type(result) is not dict:
                yield run_task(stage, task, ctx, retries, worker)
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


# -- worker processes ----------------------------------------------------------------------
def _proc_main(conn, parent_pid: int) -> None:
    """A worker process: receive (modules, stage, tasks, retries), send the outcomes."""
    from ..pose.batch import _die_with_parent  # noqa: PLC0415

    _die_with_parent(parent_pid)
    token_ctx = JobContext()
    stages: dict = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        modules, name, tasks, retries = msg
        try:
            if name not in stages:
                stages[name] = resolve_stage(name, modules)
            stage = stages[name]
            out = [run_task(stage, t, token_ctx, r) for t, r in zip(tasks, retries)]
        except Exception as exc:  # noqa: BLE001 (the stage cannot even be found)
            out = [Outcome(t, "failed", None, one_line(exc), 1, 0.0, worker_id()) for t in tasks]
        conn.send(out)


class _Worker:
    def __init__(self, spawn, parent_pid: int) -> None:
        self.conn, child = spawn.Pipe()
        self.proc = spawn.Process(target=_proc_main, args=(child, parent_pid), daemon=True)
        self.proc.start()
        child.close()
        self.task: Optional[Task] = None

    def stop(self, kill: bool = False) -> None:
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


class _ProcessPool:
    """``size`` spawned workers fed one task at a time; a dead worker is replaced and its
    task tried again (that counts as an attempt)."""

    def __init__(self, size: int) -> None:
        from ..pose.batch import _install_path_cleaning, _WorkerContext  # noqa: PLC0415

        self.size = size
        self.log = tempfile.TemporaryFile(prefix="aastudio-engine-workers-")
        debug = bool(os.environ.get("ACTIONART_DEBUG"))
        _install_path_cleaning()
        self.spawn = _WorkerContext(-1 if debug else self.log.fileno())
        self.workers: list[_Worker] = []

    def _start(self) -> _Worker:
        w = _Worker(self.spawn, os.getpid())
        self.workers.append(w)
        return w

    def _failure(self, w: _Worker) -> str:
        from ..pose.batch import _log_tail, worker_failure  # noqa: PLC0415

        w.proc.join(timeout=5.0)
        return worker_failure(_log_tail(self.log.fileno()), [w.proc.exitcode])

    def map(self, stage: Stage, tasks: Iterable[Task], ctx: JobContext, retries: int,
            poll_s: float) -> Iterator[Outcome]:
        modules = stage_modules(stage)
        source = iter(tasks)
        again: collections.deque = collections.deque()
        deaths: dict[str, int] = {}
        while len(self.workers) < self.size:
            self._start()
        idle = [w for w in self.workers if w.task is None]
        busy: dict = {}

        def feed(w: _Worker) -> bool:
            task = again.popleft() if again else next(source, None)
            if task is None:
                return False
            used = deaths.get(task.key, 0)
            try:
                w.conn.send((modules, stage.name, [task], [retries - used]))
            except (OSError, ValueError):
                again.appendleft(task)
                return False
            w.task = task
            busy[w.conn] = w
            return True

        try:
            while True:
                if ctx.cancelled:
                    raise Cancelled("Cancelled by the user.")
                while idle and feed(idle[-1]):
                    idle.pop()
                if not busy:
                    return
                ready = mp_wait(list(busy) + [w.proc.sentinel for w in busy.values()],
                                timeout=poll_s)
                for w in list(busy.values()):
                    if w.conn not in ready and w.proc.sentinel not in ready:
                        continue
                    got = None
                    try:
                        if w.conn.poll():
                            got = w.conn.recv()
                    except (EOFError, OSError):
                        got = None
                    del busy[w.conn]
                    task, w.task = w.task, None
                    if got is not None:
                        idle.append(w)
                        for o in got:
                            o.attempts += deaths.pop(o.task.key, 0)
                            yield o
                        continue
                    # the worker died while running the task
                    error = self._failure(w)
                    self.workers.remove(w)
                    w.stop(kill=True)
                    n = deaths.get(task.key, 0) + 1
                    deaths[task.key] = n
                    if n > retries:
                        deaths.pop(task.key, None)
                        yield Outcome(task, "failed", None, error, n, 0.0, "")
                    else:
                        again.append(task)
                    idle.append(self._start())
        finally:
            if busy:  # cancelled or abandoned: the running tasks' results are not wanted
                for w in list(busy.values()):
                    self.workers.remove(w)
                    w.stop(kill=True)
                    w.task = None

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers = []
        self.log.close()

