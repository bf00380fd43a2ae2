"""Repository part: captions, QA items, curation actions with undo/redo, generation runs.

Every public write is one transaction (``db.write()``), committed before it returns.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

from ..qa.errors import QAError
from ..qa.record import REVIEW_STATUSES, QARecord, check_record
from . import qa_actions
from ..errors import ProjectDamaged
from .qa_rows import COLUMNS, decode_options, dumps, now_iso, record_to_row, row_to_record
from .db import Database

FILTER_KEYS = ("task", "status", "source", "video")
SORT_KEYS = ("seq", "task", "status", "source", "video", "question", "updated_at", "qa_id")
TABLE_COLUMNS = ("qa_id", "seq", "task", "status", "source", "video", "question",
                 "answer_index", "options", "frame_a", "frame_b", "updated_at")
_INSERT_IGNORE = (f"INSERT OR IGNORE INTO qa_items({', '.join(COLUMNS)}) "
                  f"VALUES ({', '.join(':' + c for c in COLUMNS)})")


def where_clause(filters: Optional[dict]) -> tuple[str, list]:
    """SQL WHERE text + params for {task|status|source|video: value or list, text: str}."""
    parts, params = [], []
    for key in FILTER_KEYS:
        value = (filters or {}).get(key)
        if value in (None, "", [], ()):
            continue
        values = [value] if isinstance(value, str) else list(value)
        parts.append(f"{key} IN ({','.join('?' * len(values))})")
        params += values
    text = (filters or {}).get("text")
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        parts.append("(question LIKE ? ESCAPE '\\' OR options LIKE ? ESCAPE '\\' "
                     "OR note LIKE ? ESCAPE '\\')")
        params += [like, like, like]
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _check_edit(question, options, answer_index) -> None:
    if question is not None and not str(question).strip():
        raise QAError("The question cannot be empty")
    if options is not None:
        if len(options) < 2 or not all(isinstance(o, str) and o.strip() for o in options):
            raise QAError("A QA item needs at least two non-empty options")
        if len(set(o.strip() for o in options)) != len(options):
            raise QAError("Two options are identical")
    n = len(options) if options is not None else None
    if answer_index is not None and n is not None and not 0 <= answer_index < n:
        raise QAError(f"The answer must be one of the {n} options")


class QARepo:
    db: Database

    # -- QA items: writes -------------------------------------------------------------
    def add_qa_items(self, records: Iterable[QARecord], gen_key: Optional[str] = None,
                     run: Optional[dict] = None) -> int:
        """Insert new items in one transaction (existing qa_ids are kept); returns the count.

        ``run`` = {video, settings, rejected} also records the generation run (resume).
        Every record is checked against the schema first (``RecordError`` names it)."""
        records = [check_record(r) for r in records]
        with self.db.write() as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM qa_items").fetchone()[0]
            rows = [record_to_row(r, seq + i + 1, gen_key) for i, r in enumerate(records)]
            before = conn.total_changes
            conn.executemany(_INSERT_IGNORE, rows)
            added = conn.total_changes - before
            if run is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO qa_generation_runs(video, gen_key, settings, items, "
                    "rejected) VALUES (?,?,?,?,?)", (run["video"], gen_key, dumps(run["settings"]),
                                                     added, int(run.get("rejected", 0))))
            return added

    def edit_qa(self, qa_id: str, question: Optional[str] = None,
                options: Optional[Sequence[str]] = None, answer_index: Optional[int] = None,
                note: Optional[str] = None) -> Optional[int]:
        """One undoable edit; content changes set the status to 'edited'."""
        with self.db.write() as conn:
            row = conn.execute("SELECT * FROM qa_items WHERE qa_id=?", (qa_id,)).fetchone()
            if row is None:
                raise QAError(f"No QA item {qa_id}")
            opts = list(options) if options is not None else \
                decode_options(qa_id, row["options"], row["answer_index"])
            ans = row["answer_index"] if answer_index is None else int(answer_index)
            _check_edit(question, opts, ans)
            new: dict[str, Any] = {"question": row["question"] if question is None else question,
                   "options": dumps(opts), "answer_index": ans,
                   "note": row["note"] if note is None else note}
            edited = row_to_record(row)
            edited.question, edited.options, edited.answer_index = new["question"], opts, ans
            edited.review.note = new["note"]
            check_record(edited)
            content = any(new[k] != row[k] for k in ("question", "options", "answer_index"))
            status = "edited" if content and row["status"] != "edited" else row["status"]
            if not content and new["note"] == row["note"]:
                return None

            def mutate(c):
                c.execute("UPDATE qa_items SET question=?, options=?, answer_index=?, note=?, "
                          "status=?, updated_at=? WHERE qa_id=?",
                          (new["question"], new["options"], new["answer_index"], new["note"],
                           status, now_iso(), qa_id))
            return qa_actions.run_action(conn, "edit", f"Edit {qa_id}", [qa_id], mutate)

    def set_qa_status(self, qa_ids: Sequence[str], status: str,
                      note: Optional[str] = None) -> Optional[int]:
        """Accept / reject / needs-fix one item or a selection: one undoable action."""
        if status not in REVIEW_STATUSES:
            raise QAError(f"Unknown review status '{status}'")
        ids = list(dict.fromkeys(qa_ids))
        if not ids:
            return None
        kind = status if len(ids) == 1 else f"bulk_{status}"
        label = f"{status.replace('_', '-')} {ids[0]}" if len(ids) == 1 else \
            f"{status.replace('_', '-')} {len(ids)} items"

        def mutate(c):
            stamp = now_iso()
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                c.execute(f"UPDATE qa_items SET status=?, note=COALESCE(?, note), updated_at=? "
                          f"WHERE qa_id IN ({marks}) AND (status != ? OR ? IS NOT NULL)",
                          [status, note, stamp, *chunk, status, note])
        with self.db.write() as conn:
            return qa_actions.run_action(conn, kind, label, ids, mutate)

    def accept(self, qa_ids) -> Optional[int]:
        return self.set_qa_status(_ids(qa_ids), "accepted")

    def reject(self, qa_ids) -> Optional[int]:
        return self.set_qa_status(_ids(qa_ids), "rejected")

    def needs_fix(self, qa_ids) -> Optional[int]:
        return self.set_qa_status(_ids(qa_ids), "needs_fix")

    def delete_qa(self, qa_ids) -> Optional[int]:
        ids = _ids(qa_ids)

        def mutate(c):
            c.executemany("DELETE FROM qa_items WHERE qa_id=?", [(i,) for i in ids])
        with self.db.write() as conn:
            return qa_actions.run_action(conn, "delete", f"delete {len(ids)} items", ids, mutate)

    # -- undo / redo ------------------------------------------------------------------
    def undo(self) -> Optional[dict]:
        with self.db.write() as conn:
            return qa_actions.step(conn, "undo")

    def redo(self) -> Optional[dict]:
        with self.db.write() as conn:
            return qa_actions.step(conn, "redo")

    def undo_label(self) -> Optional[str]:
        act = qa_actions.peek(self.db.conn, "undo")
        return act["label"] if act else None

    def redo_label(self) -> Optional[str]:
        act = qa_actions.peek(self.db.conn, "redo")
        return act["label"] if act else None

    def qa_history(self, qa_id: str) -> list[dict]:
        rows = self.db.query(
            "SELECT h.action_id, a.kind, a.label, a.state, a.created_at, h.before, h.after "
            "FROM qa_history h JOIN qa_actions a ON a.id = h.action_id WHERE h.qa_id=? "
            "ORDER BY h.id", (qa_id,))
        return [dict(r) for r in rows]

    # -- QA items: reads ----------------------------------------------------------------
    def qa_record(self, qa_id: str) -> Optional[QARecord]:
        rows = self.db.query("SELECT * FROM qa_items WHERE qa_id=?", (qa_id,))
        return row_to_record(rows[0]) if rows else None

    def qa_row(self, qa_id: str) -> Optional[dict]:
        rows = self.db.query("SELECT * FROM qa_items WHERE qa_id=?", (qa_id,))
        return dict(rows[0]) if rows else None

    def qa_records(self, filters: Optional[dict] = None,
                   damaged: Optional[list] = None) -> list[QARecord]:
        """The matching items in order. A damaged row raises ProjectDamaged, unless a
        ``damaged`` list is given: the row is then left out and (qa_id, problem) added."""
        where, params = where_clause(filters)
        out = []
        for r in self.db.query(f"SELECT * FROM qa_items{where} ORDER BY seq", params):
            try:
                out.append(row_to_record(r))
            except ProjectDamaged as exc:
                if damaged is None:
                    raise
                damaged.append((r["qa_id"], str(exc)))
        return out

    def qa_count(self, filters: Optional[dict] = None) -> int:
        where, params = where_clause(filters)
        return self.db.query(f"SELECT COUNT(*) FROM qa_items{where}", params)[0][0]

    def qa_ids(self, filters: Optional[dict] = None, sort: str = "seq",
               descending: bool = False) -> list[str]:
        """Ids of the matching items in display order (the table pages rows by id)."""
        if sort not in SORT_KEYS:
            raise QAError(f"Cannot sort by '{sort}'")
        where, params = where_clause(filters)
        order = f"{sort} {'DESC' if descending else 'ASC'}" + ("" if sort == "seq" else ", seq")
        return [r[0] for r in self.db.conn.execute(
            f"SELECT qa_id FROM qa_items{where} ORDER BY {order}", params)]

    def qa_table_rows(self, qa_ids: Sequence[str]) -> dict[str, dict]:
        """Light rows (table columns only) for a page of ids."""
        out = {}
        cols = ", ".join(TABLE_COLUMNS)
        for i in range(0, len(qa_ids), 500):
            chunk = list(qa_ids[i:i + 500])
            sql = f"SELECT {cols} FROM qa_items WHERE qa_id IN ({','.join('?' * len(chunk))})"
            out.update({r["qa_id"]: dict(r) for r in self.db.query(sql, chunk)})
        return out

    def qa_distinct(self, column: str) -> list[str]:
        if column not in FILTER_KEYS:
            raise QAError(f"Cannot list values of '{column}'")
        return [r[0] for r in self.db.query(f"SELECT DISTINCT {column} FROM qa_items "
                                            f"ORDER BY {column}")]

    def qa_summary(self) -> dict[str, dict[str, int]]:
        """Per sub-task: count per review status and the total."""
        out: dict[str, dict[str, int]] = {}
        for r in self.db.query("SELECT task, status, COUNT(*) FROM qa_items GROUP BY task, status"):
            d = out.setdefault(r[0], {s: 0 for s in REVIEW_STATUSES} | {"total": 0})
            d[r[1]] = r[2]
            d["total"] += r[2]
        return out

    def qa_questions(self, video: str) -> list[tuple[str, str, str]]:
        """(task, question, answer text) of every item of one clip (near-duplicate check)."""
        out = []
        for r in self.db.query("SELECT qa_id, task, question, options, answer_index "
                               "FROM qa_items WHERE video=?", (video,)):
            options = decode_options(r[0], r[3], r[4])
            out.append((r[1], r[2], options[r[4]]))
        return out

    def qa_answer_positions(self, tasks: Sequence[str], source: str) -> list[tuple[int, int]]:
        """(number of options, answer index) of every item of these sub-tasks and source."""
        marks = ",".join("?" * len(tasks))
        rows = self.db.query(f"SELECT qa_id, options, answer_index FROM qa_items WHERE "
                             f"source=? AND task IN ({marks})", [source, *tasks])
        return [(len(decode_options(r[0], r[1], r[2])), r[2]) for r in rows]

    # -- generation runs (resume) --------------------------------------------------------
    def generation_done(self, video: str, gen_key: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM qa_generation_runs WHERE video=? AND gen_key=?",
                                  (video, gen_key)))

    # -- quality flags ---------------------------------------------------------------------
    def set_qa_flags(self, check_id: str, flags: dict) -> None:
        """Replace every flag of one check with ``{qa_id: detail}`` (one transaction)."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM qa_flags WHERE check_id=?", (check_id,))
            conn.executemany("INSERT INTO qa_flags(qa_id, check_id, detail) VALUES (?,?,?)",
                             [(k, check_id, v) for k, v in flags.items()])

    def qa_flags(self, qa_id: str) -> dict:
        return {r[0]: r[1] for r in self.db.query(
            "SELECT check_id, detail FROM qa_flags WHERE qa_id=? ORDER BY check_id", (qa_id,))}

    # -- captions -------------------------------------------------------------------------
    def add_captions(self, items: Sequence[dict], origin: Optional[str] = None,
                     kind: str = "imported") -> int:
        """Insert all captions in one transaction (all or nothing)."""
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO captions(video, start_s, end_s, text, kind, origin) "
                "VALUES (?,?,?,?,?,?)",
                [(c["video"], c.get("start_s"), c.get("end_s"), c["text"],
                  c.get("kind", kind), origin) for c in items])
        return len(items)

    def captions(self, video: Optional[str] = None) -> list[dict]:
        if video is None:
            return [dict(r) for r in self.db.query("SELECT * FROM captions ORDER BY id")]
        return [dict(r) for r in self.db.query(
            "SELECT * FROM captions WHERE video=? ORDER BY id", (video,))]


def _ids(qa_ids) -> list[str]:
    return [qa_ids] if isinstance(qa_ids, str) else list(qa_ids)
