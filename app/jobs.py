"""The job service: every background thread of the GUI lives here.

``submit(fn, *args, kind=...)`` runs ``fn(*args, ctx=JobContext, **kwargs)`` on a worker
thread and delivers ``on_result`` / ``on_error`` / ``on_progress`` / ``on_partial`` on the
GUI thread through one queued Qt signal. Kinds:

* ``"model"``: single-worker *lanes keyed by the resource* a model job uses, so jobs on
  one resource never overlap (no two models fight over one device's memory or cores) while
  jobs on different resources run side by side: ``"model:cpu"``, ``"model:cuda:0"`` for
  local devices, ``"endpoint:<url>"`` for a server. Pass ``lane=lane_for(backend)``
  (a backend, a ``BackendChoice`` or a spec string); without a lane a model job runs on
  ``"model:cpu"`` (pose extraction, local models on the CPU);
* ``"cpu"``: a small pool for hashing, thumbnails, geometry, exports;
* ``"decode"``: a single-thread *lane* per key (one decode thread per open video); pass
  ``lane="<key>"`` (default ``"decode"``).
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal, Slot

from models.errors import Cancelled, StudioError
from models.jobs import CancelToken, JobContext

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress deliveries per second per job
KINDS = ("cpu", "model", "decode")
DEFAULT_MODEL_LANE = "model:cpu"


def lane_for(backend, repo=None) -> str:
    """The model lane of what a job will run: a backend object, a ``BackendChoice`` (or a
    list of either: the first local device wins, else the first server) or a model spec
    string (``rule``, a checkpoint, ``http(s)://...``, ``endpoint:NAME`` with ``repo``).

    Local models are keyed by device (``model:cpu``, ``model:cuda:0``, ``model:mps``); a
    device left on ``auto`` is resolved when torch is already imported, else it shares
    ``model:auto``. Servers are keyed by URL (``endpoint:http://host:port/v1``; credentials
    redacted); a pool by all its URLs. The rule baseline runs on ``model:cpu``."""
    if isinstance(backend, (list, tuple)):
        lanes = [lane_for(b, repo) for b in backend] or [DEFAULT_MODEL_LANE]
        return next((lane for lane in lanes if lane.startswith("model:")), lanes[0])
    if isinstance(backend, str):
        from models.vlm.specs import parse_model  # noqa: PLC0415

        if backend in ("rule", "rule-reference"):
            return DEFAULT_MODEL_LANE
        try:
            return lane_for(parse_model(backend, repo), repo)
        except StudioError:
            return DEFAULT_MODEL_LANE
    kind = getattr(backend, "kind", "")
    settings = getattr(backend, "settings", None)
    if isinstance(settings, dict):                       # a BackendChoice
        if kind == "openai":
            return _endpoint_lane(settings.get("base_url", ""))
        if kind in ("transformers", "vllm"):
            return _device_lane(str(settings.get("device") or "auto"))
        return DEFAULT_MODEL_LANE
    if kind == "pool":
        return "endpoint:" + ",".join(m.backend.server.url for m in backend.members)
    if kind == "openai":
        return "endpoint:" + backend.server.url
    if kind in ("transformers", "vllm"):
        return _device_lane(getattr(backend, "device", "") or
                            getattr(backend, "device_pref", "auto"))
    return DEFAULT_MODEL_LANE


def _endpoint_lane(url: str) -> str:
    from models.vlm.openai_http import redact  # noqa: PLC0415

    return "endpoint:" + redact(url.split("#", 1)[0].strip().rstrip("/"))


def _device_lane(device: str) -> str:
    import sys  # noqa: PLC0415

    if device == "auto" and "torch" in sys.modules:
        try:
            from models.vlm.local import pick_device  # noqa: PLC0415

            device = pick_device("auto")
        except StudioError:
            pass
    if device == "cuda":
        device = "cuda:0"
    return "model:" + device


class JobHandle:
    """What ``submit`` returns: cancel it, ask whether it is done, or wait for it."""

    def __init__(self, job_id: int, token: CancelToken, kind: str) -> None:
        self.id = job_id
        self.kind = kind
        self.token = token
        self.future: Optional[Future] = None
        self._finished = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop; a job that has not started yet never runs (its on_error
        still receives ``Cancelled``)."""
        self.token.cancel()
        if self.future is not None:
            self.future.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    @property
    def done(self) -> bool:
        """True once the job ran to an end (result, error or cancel) and callbacks ran."""
        return self._finished.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._finished.wait(timeout)


class JobService(QObject):
    """Owns the executors. Create it on the GUI thread; call ``shutdown`` at exit."""

    _deliver = Signal(object)          # (callable, args): runs on the GUI thread
    jobStarted = Signal(int, str)      # job id, kind
    jobFinished = Signal(int)          # job id (after its callbacks ran)
    jobFailed = Signal(int, str)       # job id, one-line message (errors without on_error)

    def __init__(self, cpu_workers: int = 2, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._executors = {
            "cpu": ThreadPoolExecutor(cpu_workers, thread_name_prefix="aa-cpu"),
        }
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self._active: dict[int, JobHandle] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._deliver.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)

    # -- executors ------------------------------------------------------------------------
    def lane(self, key: str) -> ThreadPoolExecutor:
        """The single-thread executor for ``key`` (created on first use)."""
        with self._lock:
            ex = self._lanes.get(key)
            if ex is None:
                name = "".join(c if c.isalnum() or c in "-:." else "_" for c in key[:24])
                ex = self._lanes[key] = ThreadPoolExecutor(1, thread_name_prefix=f"aa-{name}")
            return ex

    def release_lane(self, key: str) -> None:
        with self._lock:
            ex = self._lanes.pop(key, None)
        if ex is not None:
            ex.shutdown(wait=False)

    def _executor(self, kind: str, lane: Optional[str]) -> ThreadPoolExecutor:
        if kind == "decode":
            return self.lane(lane or "decode")
        if kind == "model":
            return self.lane(lane or DEFAULT_MODEL_LANE)
        if kind not in self._executors:
            raise ValueError(f"unknown job kind {kind!r}; expected one of {KINDS}")
        return self._executors[kind]

    # -- submitting ---------------------------------------------------------------------------
    def submit(self, fn: Callable, *args, kind: str = "cpu", on_result=None, on_error=None,
               on_progress=None, on_partial=None, lane: Optional[str] = None,
               **kwargs) -> JobHandle:
        if self._closed:
            raise RuntimeError("job service is shut down")
        handle = JobHandle(next(self._ids), CancelToken(), kind)
        ctx = JobContext(self._throttled(handle, on_progress), self._relay(handle, on_partial),
                         handle.token)
        executor = self._executor(kind, lane)
        with self._lock:
            self._active[handle.id] = handle
        handle.future = executor.submit(self._run, handle, fn, args, kwargs, ctx,
                                        on_result, on_error)
        handle.future.add_done_callback(
            lambda f: f.cancelled() and self.post(self._finish_error, handle,
                                                  Cancelled("Cancelled before it started."),
                                                  on_error))
        self.jobStarted.emit(handle.id, kind)
        return handle

    def post(self, fn: Callable, *args) -> None:
        """Run ``fn(*args)`` on the GUI thread (safe to call from any thread)."""
        self._deliver.emit((fn, args))

    def _relay(self, handle: JobHandle, cb) -> Optional[Callable[[Any], None]]:
        if cb is None:
            return None
        return lambda value: None if handle.cancelled else self.post(cb, value)

    def _throttled(self, handle: JobHandle, cb):
        if cb is None:
            return None
        last = [0.0]

        def progress(done: int, total: int, message: str = "") -> None:
            now = time.monotonic()
            if done >= total or now - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = now
                if not handle.cancelled:
                    self.post(cb, done, total, message)
        return progress

    def _run(self, handle, fn, args, kwargs, ctx, on_result, on_error) -> None:
        try:
            ctx.check()
            result = fn(*args, ctx=ctx, **kwargs)
        except BaseException as exc:  # noqa: BLE001 (reported on the GUI thread)
            if not isinstance(exc, StudioError):
                log.warning("job %s failed", handle.id, exc_info=True)
            self.post(self._finish_error, handle, exc, on_error)
            return
        self.post(self._finish_ok, handle, result, on_result)

    # -- GUI-thread side --------------------------------------------------------------------
    @Slot(object)
    def _dispatch(self, item) -> None:
        fn, args = item
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 (a broken callback must not kill the event loop)
            log.exception("callback %r failed", fn)

    def _finish_ok(self, handle: JobHandle, result, on_result) -> None:
        try:
            if on_result is not None and not handle.cancelled:
                on_result(result)
        finally:
            self._done(handle)

    def _finish_error(self, handle: JobHandle, exc: BaseException, on_error) -> None:
        try:
            if handle.cancelled and not isinstance(exc, Cancelled):
                exc = Cancelled("Cancelled by the user.")
            if on_error is not None:
                on_error(exc)
            elif not isinstance(exc, Cancelled):
                self.jobFailed.emit(handle.id, _one_line(exc))
        finally:
            self._done(handle)

    def _done(self, handle: JobHandle) -> None:
        with self._lock:
            self._active.pop(handle.id, None)
        handle._finished.set()
        self.jobFinished.emit(handle.id)

    # -- lifecycle ----------------------------------------------------------------------------
    def active(self) -> list[JobHandle]:
        with self._lock:
            return list(self._active.values())

    def cancel_all(self) -> None:
        for handle in self.active():
            handle.cancel()

    def shutdown(self, wait: bool = True) -> None:
        """Cancel everything and stop the threads (called when the app quits)."""
        self._closed = True
        self.cancel_all()
        with self._lock:
            executors = list(self._executors.values()) + list(self._lanes.values())
            self._lanes.clear()
        for ex in executors:
            ex.shutdown(wait=wait, cancel_futures=True)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, StudioError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'unexpected error'}"


def one_line(exc: BaseException) -> str:
    """Public: the one-line user message for an exception from a job."""
    return _one_line(exc)
