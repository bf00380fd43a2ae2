"""Running a dataset: every configured stage over every item of the manifest.

Stages run one after another in dependency order (a stage starts when the one before it
has finished). Each task is keyed by ``result_key`` (video content, stage, version,
parameters, model and the keys of the upstream results it reads), so a rerun skips every
key already done, and tries a failed key again while it has attempts left (``retries``
counts across reruns). Outcomes go through the sink (the run folder's shards); status.json
is rewritten about once a second; a ``cancel`` file in the run folder (or the caller's
context) stops the run at the next task boundary.
"""
from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Iterator, Optional

from ..errors import Cancelled
from ..jobs import NULL_CONTEXT, CancelToken, JobContext
from .config import RunConfig
from .manifest import read_manifest
from .runner import LocalRunner, Runner
from .shards import RunFolder, ShardSink, atomic_write_json, read_json_file
from .stage import Item, Outcome, Task, get_stage, result_key

__all__ = ["run_dataset", "make_runner", "probe_key", "PROBE"]

PROBE = "probe"            # the step manifest entries that are not usable videos fail in
MAX_FAILURES = 100
STATUS_EVERY_S = 1.0


def probe_key(name: str, path: str) -> str:
    text = f"manifest-probe\0{name}\0{path}"
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def make_runner(cfg: RunConfig, workers: Optional[int] = None,
                ray_address: Optional[str] = None) -> Runner:
    """The runner a config asks for (``workers`` / ``ray_address`` override it)."""
    kind = "ray" if ray_address is not None else cfg.runner.get("kind", "local")
    n = int(workers or cfg.runner.get("workers", 1) or 1)
    if kind == "ray":
        from .ray_runner import RayRunner  # noqa: PLC0415

        address = cfg.runner.get("address", "") if ray_address is None else ray_address
        return RayRunner(address=address, num_cpus=cfg.runner.get("num_cpus") or
                         (n if n > 1 else None),
                         max_in_flight=cfg.runner.get("max_in_flight"),
                         chunk=cfg.runner.get("chunk", 1) or 1)
    return LocalRunner(workers=n)


class _Tracker:
    """Counts per stage, the last failures, and status.json written about once a second by
    a thread (which also watches the cancel file)."""

    def __init__(self, folder: RunFolder, run_id: str, ctx: JobContext, inner: CancelToken,
                 on_status: Optional[Callable[[dict], None]]) -> None:
        self.folder, self.run_id = folder, run_id
        self.ctx, self.inner, self.on_status = ctx, inner, on_status
        self.lock = threading.Lock()
        self.stages: dict[str, dict] = {}
        self.failures: deque = deque(maxlen=MAX_FAILURES)
        self.extra: dict = {}
        self.state = "running"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-status", daemon=True)

    def start(self) -> None:
        self.write()
        self._thread.start()

    def stage(self, name: str, total: int, done: int, failed: int, blocked: int = 0) -> None:
        with self.lock:
            self.stages[name] = {"name": name, "total": total, "done": done, "failed": failed,
                                 "blocked": blocked,
                                 "pending": max(0, total - done - failed - blocked),
                                 "items_per_s": 0.0, "eta_s": None,
                                 "_started": None, "_count": 0}

    def begin(self, name: str) -> None:
        with self.lock:
            self.stages[name]["_started"] = time.monotonic()

    def adjust(self, name: str, **delta: int) -> None:
        with self.lock:
            s = self.stages[name]
            for k, v in delta.items():
                s[k] += v
            s["pending"] = max(0, s["total"] - s["done"] - s["failed"] - s["blocked"])

    def record(self, o: Outcome, timed: bool = True) -> None:
        """Count an outcome of a task that was pending (failed ones had attempts left);
        ``timed``: it counts in the stage's rate (not the manifest's bad entries, which
        fail at once in the driver)."""
        with self.lock:
            s = self.stages[o.task.stage]
            s["_count"] += int(timed)
            if o.status == "ok":
                s["done"] += 1
            else:
                s["failed"] += 1
                self.failures.append({"stage": o.task.stage, "video": o.task.item.video,
                                      "name": o.task.item.name, "error": o.error,
                                      "attempts": o.attempts})
            s["pending"] = max(0, s["total"] - s["done"] - s["failed"] - s["blocked"])

    def snapshot(self) -> dict:
        now = time.monotonic()
        with self.lock:
            stages = []
            for s in self.stages.values():
                row = {k: v for k, v in s.items() if not k.startswith("_")}
                if s["_started"] is not None and s["_count"]:
                    rate = s["_count"] / max(1e-6, now - s["_started"])
                    row["items_per_s"] = round(rate, 3)
                    row["eta_s"] = round(s["pending"] / rate, 1) if rate > 0 else None
                stages.append(row)
            return dict({"run_id": self.run_id, "state": self.state, "pid": os.getpid(),
                         "host": socket.gethostname(), "updated": time.time(),
                         "stages": stages, "failures": list(self.failures)}, **self.extra)

    def write(self) -> None:
        snap = self.snapshot()
        try:
            self.folder.write_status(snap)
        except OSError:
            pass   # a full disk must not end the run here; the shards report it
        if self.on_status is not None:
            self.on_status(snap)
        done = sum(s["done"] + s["failed"] for s in snap["stages"])
        total = sum(s["total"] for s in snap["stages"])
        self.ctx.progress(done, max(total, 1), "")

    def _loop(self) -> None:
        while not self._stop.wait(STATUS_EVERY_S):
            if self.ctx.cancelled or self.folder.cancel_requested():
                self.inner.cancel()
            self.write()

    def stop(self, state: str) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.state = state
        self.write()


def _tasks(stage_name: str, todo: list, params: dict, model_id: str,
           needs: tuple, upstream_keys: dict, sink: ShardSink,
           inner: JobContext, endpoints: tuple = ()) -> Iterator[Task]:
    """Tasks built lazily: upstream results are read from the shards as each is needed."""
    for item, key in todo:
        if inner.cancelled:
            return
        ups = {}
        if needs:
            keys = {n: upstream_keys[n][item.id] for n in needs}
            got = sink.results(keys.values())
            ups = {n: got[k] for n, k in keys.items()}
        yield Task(key=key, stage=stage_name, item=item, params=params, upstream=ups,
                   model_id=model_id, endpoints=endpoints)


def _load_hashes(folder: RunFolder) -> dict:
    path = folder.path / "hashes.json"
    if not path.is_file():
        return {}
    try:
        data = read_json_file(path)
    except Exception:  # noqa: BLE001 (a cache: rebuilt when unreadable)
        return {}
    return data if isinstance(data, dict) else {}


def run_dataset(cfg: RunConfig, runner: Optional[Runner] = None,
                ctx: JobContext = NULL_CONTEXT, force: bool = False,
                on_status: Optional[Callable[[dict], None]] = None) -> dict:
    """Run every stage of ``cfg`` over its manifest into ``cfg.output``; the final status
    (state done | cancelled). Raises ConfigError before anything runs for an unusable
    output folder or manifest, RunFolderError when another driver holds the folder."""
    ctx = ctx or NULL_CONTEXT
    folder = RunFolder(cfg.output)
    folder.check(cfg.identity(), force)          # refuse before creating anything
    folder.lock()
    own_runner = runner is None
    runner = runner or make_runner(cfg)
    try:
        info = folder.prepare(cfg.as_dict(), cfg.identity(), force)
        folder.clear_cancel()
        return _run(cfg, folder, info["run_id"], runner, ctx, on_status)
    finally:
        if own_runner:
            runner.close()
        folder.unlock()


def _run(cfg: RunConfig, folder: RunFolder, run_id: str, runner: Runner, ctx: JobContext,
         on_status) -> dict:
    sink = ShardSink(folder.path, cfg.flush_rows, cfg.flush_seconds)
    hashes = _load_hashes(folder)
    token = CancelToken()
    inner = JobContext(token=token)
    tracker = _Tracker(folder, run_id, ctx, token, on_status)
    try:
        manifest = read_manifest(cfg.manifest, cfg.video_column, cfg.limit, hashes)
        try:
            atomic_write_json(folder.path / "hashes.json", hashes)
        except OSError:
            pass
        items = manifest.items
        tracker.extra["manifest"] = {
            "kind": manifest.kind, "items": len(items), "bad": len(manifest.failures),
            "duplicates": len(manifest.duplicates),
            "duplicate_names": [{"name": n, "same_as": f} for n, f, _ in manifest.duplicates[:100]]}
        done, failed = sink.done(), sink.failed()
        budget = 1 + cfg.retries
        # probe failures of the manifest's bad entries
        probes = []
        for name, path, reason in manifest.failures:
            key = probe_key(name, path)
            probes.append((key, name, path, reason, failed.get(key, 0)))
        if probes:
            tracker.stage(PROBE, len(probes), 0, sum(1 for p in probes if p[4] >= budget))
        # every stage's keys, known before anything runs (for the totals)
        keys: dict[str, dict[str, str]] = {}
        for name, params in cfg.stages.items():
            stage = get_stage(name)
            mid = cfg.model_id(stage, params)
            keys[name] = {it.id: result_key(it.id, stage, params, mid,
                                            [keys[n][it.id] for n in stage.needs])
                          for it in items}
            ks = keys[name].values()
            total = len(items)
            gave_up = sum(1 for k in ks if k not in done and failed.get(k, 0) >= budget)
            if name == PROBE and probes:     # the manifest's bad entries count in probe too
                total += len(probes)
                gave_up += sum(1 for p in probes if p[4] >= budget)
            tracker.stage(name, total, sum(1 for k in ks if k in done), gave_up)
        tracker.start()
        for key, name, path, reason, prior in probes:
            if prior >= budget:
                continue
            task = Task(key=key, stage=PROBE, item=Item(id="", video=path, name=name),
                        params={})
            o = Outcome(task, "failed", None, reason, prior + 1, 0.0, "driver")
            sink.write(o)
            tracker.record(o, timed=False)
        for name, params in cfg.stages.items():
            _run_stage(name, params, cfg, items, keys, sink, runner, inner, tracker, budget)
            if token.cancelled:
                raise Cancelled("Cancelled by the user.")
        sink.close()
        tracker.stop("done")
    except Cancelled:
        sink.close()
        tracker.stop("cancelled")
    except KeyboardInterrupt:
        sink.close()
        tracker.stop("cancelled")
        raise
    except BaseException as exc:
        try:
            sink.close()
        finally:
            tracker.extra["error"] = str(exc) or type(exc).__name__
            tracker.stop("failed")
        raise
    return tracker.snapshot()


def _run_stage(name: str, params: dict, cfg: RunConfig, items: list, keys: dict,
               sink: ShardSink, runner: Runner, inner: JobContext, tracker: _Tracker,
               budget: int) -> None:
    stage = get_stage(name)
    mid = cfg.model_id(stage, params)
    done, failed = sink.done(), sink.failed()
    groups: dict[int, list] = {}
    blocked = 0
    for it in items:
        key = keys[name][it.id]
        if key in done:
            continue
        prior = failed.get(key, 0)
        if prior >= budget:
            continue
        if any(keys[n][it.id] not in done for n in stage.needs):
            blocked += 1            # an upstream result failed (or was not made)
            continue
        groups.setdefault(budget - prior, []).append((it, key))
    if blocked:
        tracker.adjust(name, blocked=blocked)
    tracker.begin(name)
    for left in sorted(groups, reverse=True):
        todo = groups[left]
        eps = tuple(dict(e) for e in cfg.endpoints) if stage.model_param else ()
        tasks = _tasks(name, todo, params, mid, stage.needs, keys, sink, inner, eps)
        for o in runner.map(stage, tasks, inner, retries=left - 1):
            prior = failed.get(o.key, 0)
            o.attempts += prior
            sink.write(o)
            tracker.record(o)
        if inner.cancelled:
            raise Cancelled("Cancelled by the user.")
    sink.flush()


def run_config_file(path, runner: Optional[Runner] = None, ctx: JobContext = NULL_CONTEXT,
                    force: bool = False, on_status=None) -> dict:
    from .config import load_config  # noqa: PLC0415

    return run_dataset(load_config(Path(path)), runner, ctx, force, on_status)
