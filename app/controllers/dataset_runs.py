"""Dataset runs controller: the runs under a runs folder, their live status, and the
intents of the Dataset runs panel (start a run from a config file, cancel, resume, merge a
run into the open project). Run folders are read only through ``models.engine.status``;
runs started here execute as jobs of the job service (the engine's driver, in this process).

The runs are re-read about once a second while a run is alive (a driver holds its folder)
and the panel is on screen; nothing is polled while the panel is hidden.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from models.errors import Cancelled, StudioError

ROOT_KEY = "dataset_runs_folder"     # user setting: the runs folder last chosen
REFRESH_MS = 1000
MAX_FAILURES_SHOWN = 1000
FINAL_STATES = ("done", "cancelled", "failed", "interrupted")


def default_runs_root() -> str:
    """``<ACTIONART_HOME or the app's data folder>/runs``."""
    from models.store.repository import default_project_path  # noqa: PLC0415

    return str(Path(default_project_path()).parent / "runs")


@functools.lru_cache(maxsize=1)
def merge_function():
    """``models.engine.merge.merge_run`` when this build has it, else None (looked up
    once: the buttons ask every refresh)."""
    try:
        from models.engine.merge import merge_run  # noqa: PLC0415
    except ImportError:
        return None
    return merge_run


def _run_file(path: str, ctx=None) -> dict:
    from models.engine.run import run_config_file  # noqa: PLC0415

    return run_config_file(path, ctx=ctx)


def _rerun(cfg, ctx=None) -> dict:
    """Run a run's own resolved configuration again (its finished keys are skipped)."""
    from models.engine.run import run_dataset  # noqa: PLC0415

    return run_dataset(cfg, ctx=ctx)


def _merge(run_dir: str, project_path: str, ctx=None):
    merge_run = merge_function()
    if merge_run is None:
        raise StudioError("This build cannot merge runs (models.engine.merge is missing)")
    return merge_run(run_dir, project_path)


def _failures(run_dir: str, ctx=None) -> list[dict]:
    from models.engine.status import run_failures  # noqa: PLC0415

    return run_failures(run_dir, limit=MAX_FAILURES_SHOWN)


def merged_source(result) -> Optional[str]:
    """The QA ``source`` the merged items carry, when the merge result names it."""
    value = result.get("source") if isinstance(result, dict) else getattr(result, "source", None)
    return value if isinstance(value, str) and value else None


def merged_ids(result) -> list[str]:
    value = result.get("qa_ids") if isinstance(result, dict) else getattr(result, "qa_ids", None)
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def _norm(path) -> str:
    return os.path.abspath(os.fspath(path))


class DatasetRunsController(QObject):
    runsChanged = Signal()            # the list or a run's status changed: views re-read `runs`
    rootChanged = Signal(str)         # the runs folder
    failed = Signal(str, str)         # title, one-line message (the view shows a dialog)
    runStarted = Signal(str)          # run folder of a run started (or resumed) here
    runFinished = Signal(str, dict)   # run folder, its final status (done | cancelled ...)
    merged = Signal(str, object)      # run folder, what merge_run returned
    failuresReady = Signal(str, list) # run folder, its failed results read from the shards

    def __init__(self, ctx, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runs: list[dict] = []
        self._jobs: dict[str, object] = {}        # run folder -> JobHandle (runs of ours)
        self._job_ids: dict[int, str] = {}
        self._merge_job = None
        self._visible = False
        self._stale = True
        self._root_mtime: Optional[int] = None
        saved = ctx.settings.get(ROOT_KEY)
        self.root = saved if isinstance(saved, str) and saved else default_runs_root()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._tick)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(lambda _p: self._changed_on_disk())
        self._watch()
        ctx.jobs.jobFinished.connect(self._on_job_finished)

    # -- the runs folder ------------------------------------------------------------------
    def set_root(self, path: str) -> None:
        """Show the runs under ``path`` (remembered for the next session)."""
        self.root = _norm(path)
        self.ctx.settings.set(ROOT_KEY, self.root)
        self._watch()
        self.rootChanged.emit(self.root)
        self.refresh()

    def _watch(self) -> None:
        old = self.watcher.directories()
        if old:
            self.watcher.removePaths(old)
        if os.path.isdir(self.root):
            self.watcher.addPath(self.root)

    def _changed_on_disk(self) -> None:
        if self._visible:
            self.refresh()
        else:
            self._stale = True

    # -- visibility and polling -----------------------------------------------------------
    def set_visible(self, visible: bool) -> None:
        """The panel is on screen (refresh, poll live runs) or hidden (no polling)."""
        self._visible = bool(visible)
        if self._visible and self._stale:
            self.refresh()
        self._update_timer()

    @property
    def polling(self) -> bool:
        return self.timer.isActive()

    def any_alive(self) -> bool:
        return bool(self._jobs) or any(r.get("alive") for r in self.runs)

    def _update_timer(self) -> None:
        if self._visible and self.any_alive():
            if not self.timer.isActive():
                self.timer.start()
        else:
            self.timer.stop()

    def _tick(self) -> None:
        try:
            mtime = os.stat(self.root).st_mtime_ns
        except OSError:
            mtime = None
        if mtime != self._root_mtime:
            self.refresh()          # a run folder came or went
            return
        from models.engine.status import run_status  # noqa: PLC0415
        from models.engine.shards import RunFolderError  # noqa: PLC0415

        changed = False
        for i, run in enumerate(self.runs):
            if not (run.get("alive") or _norm(run["path"]) in self._jobs):
                continue
            try:
                self.runs[i] = run_status(run["path"])
            except (RunFolderError, OSError) as exc:
                self.runs[i] = _unreadable(run["path"], exc)
            changed = True
        known = {_norm(r["path"]) for r in self.runs}
        if any(p not in known for p in self._jobs):
            self.refresh()          # a run of ours has written its run.json
            return
        if changed:
            self.runsChanged.emit()
        self._update_timer()

    def refresh(self) -> None:
        """Read every run of the runs folder again."""
        from models.engine.status import list_runs  # noqa: PLC0415

        self._stale = False
        if not self.watcher.directories():
            self._watch()
        try:
            self._root_mtime = os.stat(self.root).st_mtime_ns
        except OSError:
            self._root_mtime = None
        try:
            self.runs = list_runs(self.root)
        except (StudioError, OSError) as exc:
            self.runs = []
            self.failed.emit("Cannot read the runs folder", f"{self.root}: {_text(exc)}")
        self.runsChanged.emit()
        self._update_timer()

    def run(self, path: str) -> Optional[dict]:
        path = _norm(path)
        return next((r for r in self.runs if _norm(r["path"]) == path), None)

    def is_ours(self, path: str) -> bool:
        return _norm(path) in self._jobs

    # -- intents --------------------------------------------------------------------------
    def start(self, config_path: str) -> Optional[str]:
        """Start a run from a .toml / .json config; the run folder, or None (with
        ``failed`` emitted: a bad config names the key, a busy folder says by whom)."""
        from models.engine.config import load_config  # noqa: PLC0415

        try:
            cfg = load_config(config_path)
        except StudioError as exc:
            self.failed.emit("Cannot start the run", _text(exc))
            return None
        out = _norm(cfg.output)
        if out in self._jobs:
            self.failed.emit("Cannot start the run", f"The run in {out} is already running here")
            return None
        parent = os.path.dirname(out)
        if out != _norm(self.root) and parent != _norm(self.root):
            self.set_root(parent)       # the run is listed where its config puts it
            self.ctx.message(f"Showing the runs in {parent}")
        self._submit(out, _run_file, str(config_path))
        return out

    def resume(self, path: str) -> bool:
        """Run a stopped run's configuration again: finished results are skipped, failed
        ones with attempts left are tried again."""
        run = self.run(path)
        if run is None or run.get("state") == "unreadable":
            self.failed.emit("Cannot resume", f"{path} is not a readable run folder")
            return False
        if run.get("alive") or self.is_ours(path):
            self.failed.emit("Cannot resume", "The run is still running")
            return False
        config = run.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("run"), dict):
            self.failed.emit("Cannot resume", f"{path}: run.json holds no configuration")
            return False
        from models.engine.config import parse_config  # noqa: PLC0415

        # the folder where the run is now (it may have been moved since it started)
        config = dict(config, run=dict(config["run"], output=_norm(path)))
        try:
            cfg = parse_config(config, _norm(path))
        except StudioError as exc:
            self.failed.emit("Cannot resume", _text(exc))
            return False
        self._submit(_norm(path), _rerun, cfg)
        return True

    def _submit(self, out: str, fn, *args) -> None:
        handle = self.ctx.jobs.submit(
            fn, *args, kind="cpu",
            on_result=lambda status, p=out: self.runFinished.emit(p, dict(status or {})),
            on_error=lambda exc, p=out: self._on_run_error(p, exc))
        self._jobs[out] = handle
        self._job_ids[handle.id] = out
        self.runStarted.emit(out)
        self.refresh()

    def cancel(self, path: str) -> bool:
        """Ask the run's driver to stop at its next task boundary (any driver: a cancel
        file in the run folder) and cancel our own job of it."""
        from models.engine.shards import RunFolderError  # noqa: PLC0415
        from models.engine.status import request_cancel  # noqa: PLC0415

        path = _norm(path)
        handle = self._jobs.get(path)
        asked = False
        try:
            request_cancel(path)
            asked = True
        except (RunFolderError, OSError) as exc:
            if handle is None:
                self.failed.emit("Cannot cancel", _text(exc))
        if handle is not None:
            handle.cancel()
            asked = True
        if asked:
            self.ctx.message("Cancelling the run at its next task…")
        self._tick()
        return asked

    def _on_run_error(self, path: str, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            return
        self.failed.emit("The run stopped", _text(exc))

    def _on_job_finished(self, job_id: int) -> None:
        path = self._job_ids.pop(job_id, None)
        if path is None:
            return
        self._jobs.pop(path, None)
        self.refresh()

    # -- merge ------------------------------------------------------------------------------
    def merge_blocker(self, path: Optional[str]) -> str:
        """Why the run cannot be merged now ('' = it can)."""
        if merge_function() is None:
            return "Merging needs models.engine.merge, which this build does not have"
        if self.ctx.in_memory:
            return "The project is in memory only: open or create a project file first"
        if self._merge_job is not None and not self._merge_job.done:
            return "A merge is running"
        run = self.run(path) if path else None
        if run is None:
            return "Select a run"
        if run.get("state") == "unreadable":
            return "The run folder cannot be read"
        if run.get("alive") or self.is_ours(path):
            return "The run is still running: wait for it or cancel it"
        return ""

    def merge(self, path: str) -> bool:
        """Bring the run's results into the open project (in the background)."""
        why = self.merge_blocker(path)
        if why:
            self.failed.emit("Cannot merge", why)
            return False
        path = _norm(path)
        self._merge_job = self.ctx.jobs.submit(
            _merge, path, str(self.ctx.repo.path), kind="cpu",
            on_result=lambda result, p=path: self._on_merged(p, result),
            on_error=lambda exc: self._on_merge_error(exc))
        return True

    def _on_merged(self, path: str, result) -> None:
        self._merge_job = None
        self.merged.emit(path, result)

    def _on_merge_error(self, exc) -> None:
        self._merge_job = None
        if not isinstance(exc, Cancelled):
            self.failed.emit("Cannot merge", _text(exc))

    # -- failures kept in the shards -----------------------------------------------------------
    def load_failures(self, path: str):
        """Read a stopped run's failed results from its shards (all of them, not only the
        last driver's), delivered by ``failuresReady``."""
        path = _norm(path)
        return self.ctx.jobs.submit(
            _failures, path, kind="cpu",
            on_result=lambda rows, p=path: self.failuresReady.emit(p, list(rows)),
            on_error=lambda exc, p=path: None)


def _unreadable(path: str, exc: BaseException) -> dict:
    return {"path": str(path), "state": "unreadable", "error": _text(exc), "stages": [],
            "failures": [], "alive": False}


def _text(exc: BaseException) -> str:
    from app.jobs import one_line  # noqa: PLC0415

    if isinstance(exc, OSError) and not isinstance(exc, StudioError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return one_line(exc)
