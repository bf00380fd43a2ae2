"""Undoable curation actions: before/after history rows and a persistent undo/redo stack.

An action is one row of ``qa_actions`` plus one ``qa_history`` row per item it changed,
written in the same transaction as the change itself. Undo writes every ``before`` back
exactly (all columns), redo every ``after``. The stacks live in the file, so they survive
restarts: undo = newest 'done' action, redo = oldest 'undone' one; a new action discards
the redo stack (rows kept, state 'discarded').
"""
from __future__ import annotations

import json
import sqlite3
from typing import Callable, Iterable, Optional

from .qa_rows import COLUMNS, LATER_COLUMNS, row_json

_INSERT = (f"INSERT INTO qa_items(rowid, {', '.join(COLUMNS)}) "
           f"VALUES (?, {', '.join('?' * len(COLUMNS))})")
_UPDATE = f"UPDATE qa_items SET {', '.join(c + '=?' for c in COLUMNS[1:])} WHERE qa_id=?"


def fetch_rows(conn: sqlite3.Connection, ids: list[str]) -> dict[str, sqlite3.Row]:
    out: dict[str, sqlite3.Row] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        sql = (f"SELECT rowid AS _rowid, * FROM qa_items "
               f"WHERE qa_id IN ({','.join('?' * len(chunk))})")
        out.update({r["qa_id"]: r for r in conn.execute(sql, chunk)})
    return out


def run_action(conn: sqlite3.Connection, kind: str, label: str, ids: Iterable[str],
               mutate: Callable[[sqlite3.Connection], None]) -> Optional[int]:
    """Apply ``mutate`` inside the open transaction and record before/after of ``ids``.

    Returns the action id, or None when nothing changed (no history, no undo entry)."""
    ids = list(dict.fromkeys(ids))
    before = {k: row_json(v) for k, v in fetch_rows(conn, ids).items()}
    mutate(conn)
    after = {k: row_json(v) for k, v in fetch_rows(conn, ids).items()}
    changed = [i for i in ids if before.get(i) != after.get(i)]
    if not changed:
        return None
    conn.execute("UPDATE qa_actions SET state='discarded' WHERE state='undone'")
    aid = conn.execute("INSERT INTO qa_actions(kind, label) VALUES (?, ?)",
                       (kind, label)).lastrowid
    conn.executemany("INSERT INTO qa_history(action_id, qa_id, before, after) VALUES (?,?,?,?)",
                     [(aid, i, before.get(i), after.get(i)) for i in changed])
    return aid


def _put_row(conn: sqlite3.Connection, qa_id: str, text: Optional[str]) -> None:
    if text is None:
        conn.execute("DELETE FROM qa_items WHERE qa_id=?", (qa_id,))
        return
    row = json.loads(text)
    # a row recorded before a column existed had no value there: it is written back empty
    values = [row.get(c) if c in LATER_COLUMNS else row[c] for c in COLUMNS]
    cur = conn.execute(_UPDATE, values[1:] + [qa_id])
    if cur.rowcount == 0:  # re-create a deleted row under its old rowid when still free
        rowid = row.get("_rowid")
        if rowid is not None and conn.execute("SELECT 1 FROM qa_items WHERE rowid=?",
                                              (rowid,)).fetchone():
            rowid = None
        conn.execute(_INSERT, [rowid] + values)


def _apply(conn: sqlite3.Connection, aid: int, column: str) -> list[str]:
    order = "DESC" if column == "before" else "ASC"
    rows = conn.execute(f"SELECT qa_id, {column} FROM qa_history WHERE action_id=? "
                        f"ORDER BY id {order}", (aid,)).fetchall()
    for r in rows:
        _put_row(conn, r["qa_id"], r[column])
    return [r["qa_id"] for r in rows]


def peek(conn: sqlite3.Connection, which: str) -> Optional[sqlite3.Row]:
    if which == "undo":
        sql = "SELECT * FROM qa_actions WHERE state='done' ORDER BY id DESC LIMIT 1"
    else:
        sql = "SELECT * FROM qa_actions WHERE state='undone' ORDER BY id ASC LIMIT 1"
    return conn.execute(sql).fetchone()


def step(conn: sqlite3.Connection, which: str) -> Optional[dict]:
    """Undo (``which='undo'``) or redo the next action; returns {id, kind, label, ids}."""
    act = peek(conn, which)
    if act is None:
        return None
    column, state = ("before", "undone") if which == "undo" else ("after", "done")
    ids = _apply(conn, act["id"], column)
    conn.execute("UPDATE qa_actions SET state=? WHERE id=?", (state, act["id"]))
    return {"id": act["id"], "kind": act["kind"], "label": act["label"], "ids": ids}
