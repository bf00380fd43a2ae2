"""The run folder: results as Parquet shards, the run's identity, its status, its lock.

```
RUN/run.json            {"run_id", "created", "config", "config_hash", "version"}
RUN/status.json         written atomically by the driver (see run.py)
RUN/results/<stage>/part-<uuid>.parquet   one shard per flush, written under a temporary
                        name and renamed: a reader never sees half a shard
RUN/cancel              present: the driver stops at the next task boundary
RUN/driver.lock         pid + host of the driver; held with flock, so the lock of a driver
                        that died (even SIGKILLed) is free and the next driver takes it
```
A key with an ok row in any shard is done; rows are deduplicated by key when read (a
killed driver's last shard may hold results that a rerun computed again).

Result dicts are JSON; ``bytes`` values anywhere in them go to the row's ``blob`` column
(concatenated) and are replaced in the JSON by ``{"$blob": [offset, length]}``.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Optional

from ..bounded_read import parse_json, read_text
from .stage import ConfigError, Outcome, canonical_json

__all__ = ["RunFolder", "RunFolderError", "ShardSink", "decode_result", "encode_result",
           "atomic_write_json", "read_json_file"]

FORMAT_VERSION = 1
MAX_META_BYTES = 64 * 1024 * 1024
COLUMNS = ("key", "stage", "item_id", "video", "name", "params_json", "model_id", "status",
           "result_json", "blob", "error", "attempts", "seconds", "worker", "finished")
RUN_FILES = {"run.json", "status.json", "results", "cancel", "driver.lock", "hashes.json"}


class RunFolderError(ConfigError):
    """The output folder cannot be used for this run (another run's, in use, unwritable)."""


# -- small file helpers --------------------------------------------------------------------
def atomic_write_json(path: Path, value: Any) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    data = json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False)
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(data)
    os.replace(tmp, path)


def read_json_file(path: Path, error: type[Exception] = RunFolderError) -> Any:
    return parse_json(read_text(path, error, MAX_META_BYTES), str(path), error)


# -- results <-> (json, blob) --------------------------------------------------------------
def encode_result(result: Optional[dict]) -> tuple[Optional[str], Optional[bytes]]:
    if result is None:
        return None, None
    blobs: list[bytes] = []
    offset = [0]

    def walk(v):
        if isinstance(v, (bytes, bytearray, memoryview)):
            b = bytes(v)
            ref = {"$blob": [offset[0], len(b)]}
            blobs.append(b)
            offset[0] += len(b)
            return ref
        if isinstance(v, dict):
            return {str(k): walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v

    doc = walk(result)
    return (json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")),
            b"".join(blobs) if blobs else None)


def decode_result(text: Optional[str], blob: Optional[bytes]) -> Optional[dict]:
    if text is None:
        return None
    doc = json.loads(text)
    if blob is None:
        return doc

    def walk(v):
        if isinstance(v, dict):
            ref = v.get("$blob") if len(v) == 1 else None
            if isinstance(ref, list) and len(ref) == 2:
                return blob[ref[0]:ref[0] + ref[1]]
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(doc)


def _schema():
    import pyarrow as pa  # noqa: PLC0415

    return pa.schema([("key", pa.string()), ("stage", pa.string()), ("item_id", pa.string()),
                      ("video", pa.string()), ("name", pa.string()),
                      ("params_json", pa.string()), ("model_id", pa.string()),
                      ("status", pa.string()), ("result_json", pa.large_string()),
                      ("blob", pa.large_binary()), ("error", pa.string()),
                      ("attempts", pa.int32()), ("seconds", pa.float64()),
                      ("worker", pa.string()), ("finished", pa.float64())])


def outcome_row(o: Outcome) -> dict:
    text, blob = encode_result(o.result if o.status == "ok" else None)
    t = o.task
    try:
        params = canonical_json(dict(t.params))
    except ConfigError:
        params = "{}"
    return {"key": t.key, "stage": t.stage, "item_id": t.item.id, "video": t.item.video,
            "name": t.item.name, "params_json": params, "model_id": t.model_id,
            "status": o.status, "result_json": text, "blob": blob, "error": o.error or "",
            "attempts": int(o.attempts), "seconds": float(o.seconds), "worker": o.worker,
            "finished": time.time()}


# -- the shards ----------------------------------------------------------------------------
class ShardSink:
    """Parquet shards under ``results/<stage>/``: buffered outcomes are written as one
    shard every ``flush_rows`` outcomes or ``flush_s`` seconds (and on ``flush``)."""

    def __init__(self, run_dir, flush_rows: int = 256, flush_s: float = 5.0,
                 cache_shards: int = 8) -> None:
        self.root = Path(run_dir) / "results"
        self.flush_rows, self.flush_s = max(1, int(flush_rows)), float(flush_s)
        self._lock = threading.RLock()
        self._buffer: dict[str, list[dict]] = {}
        self._buffered = 0
        self._last_flush = time.monotonic()
        # key -> (status, attempts, finished, shard path, row)
        self._index: dict[str, tuple] = {}
        self._tables: OrderedDict = OrderedDict()
        self._cache_shards = cache_shards
        self.shards_written = 0
        self._load_index()

    # reading
    def shard_paths(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*/part-*.parquet") if p.is_file())

    def _load_index(self) -> None:
        import pyarrow.parquet as pq  # noqa: PLC0415

        for stale in self.root.glob("*/.part-*") if self.root.is_dir() else ():
            try:
                stale.unlink()   # a shard a killed driver was writing: never renamed
            except OSError:
                pass
        for path in self.shard_paths():
            try:
                t = pq.read_table(path, columns=["key", "status", "attempts", "finished"])
            except Exception as exc:  # noqa: BLE001 (a damaged shard: say which)
                raise RunFolderError(f"Cannot read result shard {path}: {exc}") from None
            cols = t.to_pydict()
            for row, (k, s, a, f) in enumerate(zip(cols["key"], cols["status"], cols["attempts"],
                                                   cols["finished"])):
                self._index_row(k, s, a, f, str(path), row)

    def _index_row(self, key, status, attempts, finished, path, row) -> None:
        old = self._index.get(key)
        if old is not None:
            if old[0] == "ok" and status != "ok":
                return
            if old[0] == status == "ok" and old[2] <= finished:
                return                      # keep the first ok row (any is as good)
            if old[0] != "ok" and status != "ok" and old[1] > attempts:
                return
        self._index[key] = (status, attempts, finished, path, row)

    def done(self) -> set:
        with self._lock:
            return {k for k, v in self._index.items() if v[0] == "ok"}

    def failed(self) -> dict:
        with self._lock:
            return {k: v[1] for k, v in self._index.items() if v[0] != "ok"}

    def status_of(self, key: str) -> Optional[tuple[str, int]]:
        v = self._index.get(key)
        return None if v is None else (v[0], v[1])

    def _table(self, path: str):
        import pyarrow.parquet as pq  # noqa: PLC0415

        t = self._tables.get(path)
        if t is None:
            t = pq.read_table(path, columns=["result_json", "blob"])
            self._tables[path] = t
            while len(self._tables) > self._cache_shards:
                self._tables.popitem(last=False)
        else:
            self._tables.move_to_end(path)
        return t

    def results(self, keys: Iterable[str]) -> dict:
        out = {}
        with self._lock:
            for k in keys:
                v = self._index.get(k)
                if v is None or v[0] != "ok":
                    continue
                path, row = v[3], v[4]
                if path is None:                       # still in the write buffer
                    r = row
                    out[k] = decode_result(r["result_json"], r["blob"])
                    continue
                t = self._table(path)
                out[k] = decode_result(t.column("result_json")[row].as_py(),
                                       t.column("blob")[row].as_py())
        return out

    def rows(self, stage: Optional[str] = None, columns: Optional[list] = None):
        """Every row of the shards (of one stage), deduplicated by key: an iterator of
        dicts, one shard at a time (bounded memory)."""
        import pyarrow.parquet as pq  # noqa: PLC0415

        self.flush()
        with self._lock:
            chosen = {(v[3], v[4]) for v in self._index.values()}
        base = self.root / stage if stage else self.root
        paths = sorted(base.glob("part-*.parquet") if stage else base.glob("*/part-*.parquet"))
        for path in paths:
            t = pq.read_table(path, columns=columns)
            for i, row in enumerate(t.to_pylist()):
                if (str(path), i) in chosen:
                    yield row

    # writing
    def write(self, outcome: Outcome) -> None:
        row = outcome_row(outcome)
        with self._lock:
            self._buffer.setdefault(outcome.task.stage, []).append(row)
            self._buffered += 1
            self._index_row(row["key"], row["status"], row["attempts"], row["finished"],
                            None, row)
            if self._buffered >= self.flush_rows:
                self._flush_locked()
        self.flush_if_due()

    def flush_if_due(self) -> None:
        if self._buffered and time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        import pyarrow as pa  # noqa: PLC0415
        import pyarrow.parquet as pq  # noqa: PLC0415

        self._last_flush = time.monotonic()
        for stage, rows in self._buffer.items():
            if not rows:
                continue
            folder = self.root / stage
            folder.mkdir(parents=True, exist_ok=True)
            name = f"part-{uuid.uuid4().hex}.parquet"
            tmp, final = folder / f".{name}.tmp", folder / name
            table = pa.Table.from_pylist(rows, schema=_schema())
            with open(tmp, "wb") as fh:
                pq.write_table(table, fh, compression="zstd")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            self.shards_written += 1
            for i, r in enumerate(rows):
                cur = self._index.get(r["key"])
                if cur is not None and cur[3] is None and cur[4] is r:
                    self._index[r["key"]] = (cur[0], cur[1], cur[2], str(final), i)
        self._buffer = {}
        self._buffered = 0

    def close(self) -> None:
        self.flush()
        self._tables.clear()


# -- the folder ----------------------------------------------------------------------------
class RunFolder:
    """One run's output folder: identity (run.json), lock, status, cancel request."""

    def __init__(self, path) -> None:
        self.path = Path(path)
        self._lock_fd: Optional[int] = None

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def status_json(self) -> Path:
        return self.path / "status.json"

    @property
    def cancel_file(self) -> Path:
        return self.path / "cancel"

    def info(self) -> Optional[dict]:
        return read_json_file(self.run_json) if self.run_json.is_file() else None

    def check(self, config_hash: str, force: bool = False) -> Optional[dict]:
        """run.json of this folder when it is this run's (None: a new or empty folder).
        A folder of another run, or with other content, is refused unless ``force``."""
        p = self.path
        if p.exists() and not p.is_dir():
            raise RunFolderError(f"Output {p} is a file, not a folder")
        if not p.exists():
            return None
        info = self.info()
        if info is None:
            others = sorted(n.name for n in p.iterdir() if n.name not in RUN_FILES)
            if others and not force:
                raise RunFolderError(
                    f"Output folder {p} is not empty and is not a dataset run folder "
                    f"(it holds {others[0]!r}{' and more' if len(others) > 1 else ''}); "
                    "choose another output folder (or force it)")
            return None
        if not isinstance(info, dict) or info.get("config_hash") != config_hash:
            if not force:
                raise RunFolderError(
                    f"Output folder {p} belongs to another run (run "
                    f"{info.get('run_id', '?') if isinstance(info, dict) else '?'} with another "
                    "configuration); choose another output folder (or force it to keep its "
                    "results and take the new configuration)")
            return None
        return info

    def prepare(self, config: dict, config_hash: str, force: bool = False) -> dict:
        """``check`` the folder, create it and write run.json when it is new."""
        info = self.check(config_hash, force)
        self.path.mkdir(parents=True, exist_ok=True)
        if info is None:
            info = {"run_id": uuid.uuid4().hex[:12],
                    "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    "config": config, "config_hash": config_hash, "version": FORMAT_VERSION}
            atomic_write_json(self.run_json, info)
        return info

    def lock(self) -> None:
        """Take driver.lock (flock: freed by the kernel when its driver dies)."""
        self.path.mkdir(parents=True, exist_ok=True)
        lock_path = self.path / "driver.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").split()
            os.close(fd)
            who = (f"driver pid {holder[0]} on {holder[1]}" if len(holder) >= 2
                   else "another driver")
            raise RunFolderError(f"Run folder {self.path} is in use by {who}; wait for it to "
                                 "finish or cancel it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            try:
                os.ftruncate(self._lock_fd, 0)
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def holder(self) -> Optional[tuple[int, str]]:
        """(pid, host) of the driver holding the lock now, or None."""
        lock_path = self.path / "driver.lock"
        try:
            fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                parts = os.pread(fd, 512, 0).decode("utf-8", "replace").split()
                if len(parts) >= 2 and parts[0].isdigit():
                    return int(parts[0]), parts[1]
                return (0, "")
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def write_status(self, status: dict) -> None:
        atomic_write_json(self.status_json, status)

    def read_status(self) -> Optional[dict]:
        if not self.status_json.is_file():
            return None
        return read_json_file(self.status_json)

    def cancel_requested(self) -> bool:
        return self.cancel_file.exists()

    def request_cancel(self) -> None:
        self.cancel_file.write_text(f"{time.time()}\n", encoding="ascii")

    def clear_cancel(self) -> None:
        try:
            self.cancel_file.unlink()
        except FileNotFoundError:
            pass
