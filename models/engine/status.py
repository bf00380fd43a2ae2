"""Reading run folders for people and the GUI: the runs under a folder, one run's status,
and asking a running driver to stop. Only these functions touch a run folder from outside
the driver."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .shards import RunFolder, RunFolderError

__all__ = ["list_runs", "run_status", "request_cancel", "run_failures"]

MAX_RUNS = 10_000


def _is_run(path: Path) -> bool:
    return (path / "run.json").is_file()


def list_runs(root) -> list[dict]:
    """Every run folder directly in ``root`` (or ``root`` itself), newest first: their
    ``run_status``. An unreadable run is listed with state "unreadable" and the reason."""
    root = Path(root)
    if not root.is_dir():
        return []
    folders = [root] if _is_run(root) else []
    for i, child in enumerate(sorted(root.iterdir())):
        if i >= MAX_RUNS:
            break
        if child.is_dir() and _is_run(child):
            folders.append(child)
    out = []
    for f in folders:
        try:
            out.append(run_status(f))
        except RunFolderError as exc:
            out.append({"path": str(f), "state": "unreadable", "error": str(exc), "stages": [],
                        "failures": []})
    out.sort(key=lambda r: r.get("updated") or 0, reverse=True)
    return out


def run_status(run_dir) -> dict:
    """status.json of a run with its identity added: path, run_id, created, config, and
    ``alive`` (a driver holds the folder now). A status that says "running" with no driver
    alive becomes "interrupted" (the driver died; a rerun resumes it)."""
    folder = RunFolder(run_dir)
    info = folder.info()
    if info is None:
        raise RunFolderError(f"{run_dir} is not a dataset run folder (no run.json)")
    status = folder.read_status() or {"state": "new", "stages": [], "failures": []}
    if not isinstance(status, dict):
        raise RunFolderError(f"{folder.status_json} does not hold a status object")
    holder = folder.holder()
    status = dict(status)
    status["alive"] = holder is not None
    if status.get("state") == "running" and holder is None:
        status["state"] = "interrupted"
    status.update(path=str(folder.path), run_id=info.get("run_id"), created=info.get("created"),
                  config=info.get("config"), cancel_requested=folder.cancel_requested())
    return status


def request_cancel(run_dir) -> None:
    """Ask the run's driver to stop at its next task boundary (a ``cancel`` file)."""
    folder = RunFolder(run_dir)
    if folder.info() is None:
        raise RunFolderError(f"{run_dir} is not a dataset run folder (no run.json)")
    folder.request_cancel()


def run_failures(run_dir, stage: Optional[str] = None, limit: int = 1000) -> list[dict]:
    """Failed results kept in the run's shards (deduplicated): stage, name, video, error,
    attempts; at most ``limit``."""
    from .shards import ShardSink  # noqa: PLC0415

    sink = ShardSink(run_dir)
    out = []
    for row in sink.rows(stage, columns=["stage", "name", "video", "status", "error",
                                          "attempts"]):
        if row["status"] != "ok":
            out.append({k: row[k] for k in ("stage", "name", "video", "error", "attempts")})
            if len(out) >= limit:
                break
    return out
