"""SQLite connection handling and numbered migrations.

Migrations are the files ``migrations/NNNN_name.sql``; file NNNN brings the schema to
version NNNN. The version lives in the ``schema_version`` table. A file written by a newer
program (higher version than we know) is refused untouched.
"""
from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Literal, Optional

from ..errors import ProjectDamaged, StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_MAGIC = b"SQLite format 3\x00"
LOW_DISK_BYTES = 1 << 20  # below this much free space an I/O error is reported as a full disk
_NOT_FILE = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _migrations() -> list[tuple[int, str, str]]:
    out = []
    for f in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = re.match(r"(\d+)_", f.name)
        if m:
            out.append((int(m.group(1)), f.stem, f.read_text(encoding="utf-8")))
    return out


SCHEMA_VERSION = max(v for v, _, _ in _migrations())


def _tables_by_version() -> dict[int, set[str]]:
    """The tables each migration creates (to tell a damaged file from an old one)."""
    pattern = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
    return {v: set(pattern.findall(sql)) for v, _, sql in _migrations()}


def _check_file(path: str) -> None:
    """Refuse what is not a regular SQLite file before SQLite opens it (a FIFO would block
    the open, a device would be read without end)."""
    if path == ":memory:":
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return  # a new project
    except OSError as exc:
        raise StoreError(f"Cannot read project file {path}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise StoreError(f"Project path {path} is a folder, not a project file")
    for test, kind in _NOT_FILE:
        if test(st.st_mode):
            raise StoreError(f"Project path {path} is {kind}, not a project file")
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"Project path {path} is not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            head = os.read(fd, 16)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"Cannot read project file {path}: {exc.strerror}") from None
    if head and head != SQLITE_MAGIC:
        raise StoreError(f"{path} is not an ActionArt project file (not SQLite)")


class Database:
    """One connection per thread onto one project file; writes serialised by a lock.

    ``allow_read_only``: a project the user cannot write (read-only file or folder) is
    opened for reading, and every write is refused with a message saying so; without it
    such a project is refused at once."""

    def __init__(self, path, busy_timeout_s: float = 10.0, allow_read_only: bool = False) -> None:
        self.path = str(path)
        self.busy_timeout_s = busy_timeout_s
        self.read_only = False
        _check_file(self.path)
        if self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(parent):
                raise StoreError(f"Folder for project file does not exist: {parent}")
            exists = os.path.exists(self.path)
            if exists and not os.access(self.path, os.W_OK):
                if not allow_read_only:
                    raise StoreError(f"Project file {self.path} is read-only")
                self.read_only = True
            elif not os.access(parent, os.W_OK):
                if not (allow_read_only and exists):
                    raise StoreError(f"Cannot write in {parent} (read-only folder)")
                self.read_only = True
        self._local = threading.local()
        self._checked = False  # the file's tables were checked (see migrate)
        self._memory_conn: Optional[sqlite3.Connection] = None
        self.write_lock = threading.RLock()
        self.migrate()

    # -- connections ------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            return self._open_read_only()
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            if self._checked:
                self._enable_wal(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from None
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """WAL journal (changes the file header: only once the file is known to be ours)."""
        if self.path == ":memory:" or self.read_only:
            return
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"Cannot enable WAL on {self.path}")
        conn.execute("PRAGMA synchronous = NORMAL")

    def _open_read_only(self) -> sqlite3.Connection:
        """A read-only connection. WAL needs its -shm file: where the folder is read-only
        and no writer left a -wal behind, the file is opened as immutable instead."""
        uri = Path(os.path.abspath(self.path)).as_uri() + "?mode=ro"
        try:
            return self._probe(uri)
        except sqlite3.DatabaseError as exc:
            if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF not in (8, 14):  # READONLY, CANTOPEN
                raise StoreError(_explain(self.path, exc)) from None
        wal = self.path + "-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            raise StoreError(f"Project file {self.path} is read-only and its last changes "
                             f"(in {os.path.basename(wal)}) need write access to the folder to be "
                             "read; open it once with write access")
        try:
            return self._probe(uri + "&immutable=1")
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from None

    def _probe(self, uri: str) -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout_s,
                               isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except BaseException:
            conn.close()
            raise
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
            tables = {r[0] for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}
            current = self.version()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from None
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer ActionArt Studio "
                             f"(schema {current}, this program knows up to {SCHEMA_VERSION}); "
                             "it was not modified")
        self._check_tables(tables, current)
        try:
            self._enable_wal(self.conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from None
        self._checked = True
        if current < SCHEMA_VERSION and self.read_only:
            what = "is empty" if current == 0 else \
                f"needs upgrading (schema {current} to {SCHEMA_VERSION})"
            raise StoreError(f"Project file {self.path} {what} but is read-only; "
                             "open it once with write access")
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

    def _check_tables(self, tables: set[str], current: int) -> None:
        """Every table the recorded schema version has must be there: a file with our
        tables but no version, or with a table dropped, is refused, never re-created over."""
        if current == 0:
            if tables - {"schema_version"}:
                shown = ", ".join(sorted(tables)[:4]) + (", ..." if len(tables) > 4 else "")
                raise ProjectDamaged(
                    f"{self.path} is not a valid ActionArt project or it is damaged: it has "
                    f"tables ({shown}) but no schema version; it was not modified")
            return
        expected = set().union(*(t for v, t in _tables_by_version().items() if v <= current))
        missing = sorted(expected - tables)
        if missing:
            raise ProjectDamaged(
                f"{self.path} is damaged: table{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} {'are' if len(missing) > 1 else 'is'} missing; "
                "it was not modified (restore a backup)")


class _Transaction:
    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        if self.db.read_only:
            raise StoreError(f"Project file {self.db.path} is read-only; nothing was changed "
                             "(copy it somewhere writable, or fix its permissions)")
        self.db.write_lock.acquire()
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            self.db.write_lock.release()
            raise StoreError(_explain(self.db.path, exc)) from None
        return conn

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
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


def _disk_free(path: str):
    """Free bytes on the drive holding ``path`` (None when it cannot be told)."""
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except (OSError, AttributeError):
        return None
    return st.f_bavail * st.f_frsize


def _explain(path: str, exc: Exception) -> str:
    msg = str(exc)
    primary = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if primary == 13:  # SQLITE_FULL
        return f"Disk full while writing {path}; the last change was not saved"
    if primary == 10:  # SQLITE_IOERR: a full disk shows up here when the -shm file cannot grow
        free = _disk_free(path)
        if free is not None and free < LOW_DISK_BYTES:
            return (f"Disk full: the drive holding {path} has {free // 1024} KiB free; free some "
                    "space and try again (nothing was changed)")
        return (f"Disk I/O error on project file {path} "
                f"({getattr(exc, 'sqlite_errorname', msg)}); the disk may be full or failing")
    if primary == 8:  # SQLITE_READONLY
        return f"Project file {path} is read-only"
    if "no such table" in msg:
        return f"{path} is damaged or not an ActionArt project ({msg})"
    if "locked" in msg or "busy" in msg:
        return f"Project file {path} is locked by another program; close it and try again"
    if "readonly" in msg or "read-only" in msg:
        return f"Project file {path} is read-only"
    if "not a database" in msg or "malformed" in msg:
        return f"{path} is not a valid project file ({msg})"
    if "disk" in msg and "full" in msg:
        return f"Disk full while writing {path}; the last change was not saved"
    return f"Project file {path}: {msg}"
