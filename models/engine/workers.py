"""Worker processes of the local runner: started clean, dying with their parent, and
reported by the last error they printed.

Worker processes are started so that they cannot inherit a passing state of this process:
OpenCV's loader puts its own package folder on ``sys.path`` while it loads, and a child
spawned in that moment would import ``cv2/typing`` as ``typing`` and die. So the
``sys.path`` handed to a worker leaves out package folders that sit inside another entry of
it (and callers import OpenCV before they start runners: ``settle_imports``). A worker's
file descriptor 2 is a log file of the pool (never the muted or shared terminal stream), so
a worker that dies is reported with the last error it printed. Workers die with this
process (Linux parent-death signal, plus a parent check each time they ask whether they
were cancelled).
"""
from __future__ import annotations

import ctypes
import multiprocessing.context as mp_context
import os
import re
import signal
import sys
import threading
from typing import Optional

from ..jobs import CancelToken

__all__ = ["EventToken", "WorkerContext", "clean_child_path", "die_with_parent",
           "install_path_cleaning", "log_tail", "settle_imports", "usable_cores",
           "worker_failure"]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LOG_TAIL = 16384      # bytes of the worker log read to name a worker's failure


class EventToken(CancelToken):
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


def install_path_cleaning() -> None:
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


class WorkerContext(mp_context.SpawnContext):
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


def settle_imports() -> None:
    """Import OpenCV here, in the calling thread, before runner threads or worker
    processes start: its loader changes ``sys.path`` while it runs (see module doc)."""
    import cv2  # noqa: F401,PLC0415


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this worker when its parent dies; exit if it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the per-frame parent check still ends an orphaned worker
    if os.getppid() != parent_pid:
        os._exit(1)


def log_tail(fd: int) -> str:
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
