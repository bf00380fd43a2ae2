"""SQLite connection handling and numbered migrations.

Migrations are the files ``migrations/NNNN_name.sql``; file NNNN brings the schema to
version NNNN. The version lives in the ``schema_version`` table. A file written by a newer
program (higher version than we know) is refused untouched.
"""
from __future__ import annotations

import os
import re
import sqlite3
import threading
from pathlib import Path

from ..errors import StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_MAGIC = b"SQLite format 3\x00"


def _migrations() -> list[tuple[int, str, str]]:
    out = []
    for f in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = re.match(r"(\d+)_", f.name)
        if m:
            out.append((int(m.group(1)), f.stem, f.read_text(encoding="utf-8")))
    return out


SCHEMA_VERSION = max(v for v, _, _ in _migrations())


def _check_file(path: str) -> None:
    if path == ":memory:" or not os.path.exists(path):
        return
    if os.path.isdir(path):
        raise StoreError(f"Project path {path} is a folder, not a project file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise StoreError(f"Cannot read project file {path}: {exc.strerror}") from None
    if head and head != SQLITE_MAGIC:
        raise StoreError(f"{path} is not an ActionArt project file (not SQLite)")


class Database:
    """One connection per thread onto one project file; writes serialised by a lock."""

    def __init__(self, path, busy_timeout_s: float = 10.0) -> None:
        self.path = str(path)
        self.busy_timeout_s = busy_timeout_s
        _check_file(self.path)
        if self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(parent):
                raise StoreError(f"Folder for project file does not exist: {parent}")
            if os.path.exists(self.path) and not os.access(self.path, os.W_OK):
                raise StoreError(f"Project file {self.path} is read-only")
            if not os.access(parent, os.W_OK):
                raise StoreError(f"Cannot write in {parent} (read-only folder)")
        self._local = threading.local()
        self._memory_conn = None
        self.write_lock = threading.RLock()
        self.migrate()

    # -- connections ------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise StoreError(f"Cannot enable WAL on {self.path}")
                conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from None
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        if self.path == ":memory:":
            if self._memory_conn is None:
                self._memory_conn = self._open()
            return self._memory_conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- transactions ---------------------------------------------------------------------
    def write(self):
        """Context manager: one IMMEDIATE transaction, committed on success."""
        return _Transaction(self)

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from None

    # -- schema ------------------------------------------------------------------------
    def version(self) -> int:
        rows = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchall()
        if not rows:
            return 0
        row = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self) -> None:
        try:
            current = self.version()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from None
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer ActionArt Studio "
                             f"(schema {current}, this program knows up to {SCHEMA_VERSION}); "
                             "it was not modified")
        for version, name, sql in _migrations():
            if version <= current:
                continue
            with self.write() as conn:
                if version == 1:
                    conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                                 "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                                 "applied_at TEXT NOT NULL DEFAULT "
                                 "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))")
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version(version, name) VALUES (?, ?)",
                             (version, name))


class _Transaction:
    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.write_lock.acquire()
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            self.db.write_lock.release()
            raise StoreError(_explain(self.db.path, exc)) from None
        return conn

    def __exit__(self, exc_type, exc, tb) -> bool:
        conn = self.db.conn
        try:
            if exc_type is None:
                conn.execute("COMMIT")
            else:
                conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as err:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass
            raise StoreError(_explain(self.db.path, err)) from None
        finally:
            self.db.write_lock.release()
        if isinstance(exc, sqlite3.DatabaseError):
            raise StoreError(_explain(self.db.path, exc)) from None
        return False


def _split_sql(sql: str) -> list[str]:
    """Split a migration file into statements (our files hold no ';' inside strings)."""
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _explain(path: str, exc: Exception) -> str:
    msg = str(exc)
    if "locked" in msg or "busy" in msg:
        return f"Project file {path} is locked by another program; close it and try again"
    if "readonly" in msg or "read-only" in msg:
        return f"Project file {path} is read-only"
    if "not a database" in msg or "malformed" in msg:
        return f"{path} is not a valid project file ({msg})"
    if "disk" in msg and "full" in msg:
        return f"Disk full while writing {path}; the last change was not saved"
    return f"Project file {path}: {msg}"
