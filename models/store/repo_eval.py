"""Repository part: evaluation runs, their frozen item sets and answers (0004_eval.sql);
plus the one-transaction import of COCO poses used by models/importers."""
from __future__ import annotations

import hashlib
import json
from typing import Optional

from ..qa.record import QARecord
from .repo_poses import settings_key as _settings_text
from .db import Database

RUN_STATUSES = ("running", "cancelled", "done", "failed")


def canonical_key(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EvalRepo:
    db: Database

    # -- runs -----------------------------------------------------------------------------
    def create_eval_run(self, name: str, backend: str, model: str, settings: dict,
                        records: list) -> int:
        items_key = canonical_key(sorted(r.qa_id for r in records))
        with self.db.write() as conn:
            cur = conn.execute(
                "INSERT INTO eval_runs(name, backend, model, settings, settings_key, items_key) "
                "VALUES (?,?,?,?,?,?)", (name, backend, model, json.dumps(settings, sort_keys=True),
                                         canonical_key(settings), items_key))
            run_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO eval_run_items(run_id, qa_id, seq, task, answer_index, record) "
                "VALUES (?,?,?,?,?,?)",
                [(run_id, r.qa_id, i, r.task, r.answer_index,
                  json.dumps(r.to_dict(), sort_keys=True, ensure_ascii=False))
                 for i, r in enumerate(records)])
            return run_id

    def find_eval_run(self, backend: str, model: str, settings: dict, records) -> Optional[int]:
        """Latest run of the same backend, model, settings and item set (to resume)."""
        rows = self.db.query(
            "SELECT id FROM eval_runs WHERE backend=? AND model=? AND settings_key=? "
            "AND items_key=? ORDER BY id DESC LIMIT 1",
            (backend, model, canonical_key(settings),
             canonical_key(sorted(r.qa_id for r in records))))
        return rows[0]["id"] if rows else None

    _RUNS_SQL = (
        "SELECT r.*, (SELECT COUNT(*) FROM eval_run_items i WHERE i.run_id=r.id) AS items, "
        "(SELECT COUNT(*) FROM eval_answers a WHERE a.run_id=r.id) AS answered, "
        "(SELECT COALESCE(SUM(correct), 0) FROM eval_answers a WHERE a.run_id=r.id) AS correct "
        "FROM eval_runs r")

    def eval_runs(self) -> list[dict]:
        """Every run with its counts (items, answered, correct, abstained), newest first."""
        return [dict(r) for r in self.db.query(self._RUNS_SQL + " ORDER BY r.id DESC")]

    def eval_run(self, run_id: int) -> Optional[dict]:
        rows = self.db.query(self._RUNS_SQL + " WHERE r.id=?", (run_id,))
        if not rows:
            return None
        row = dict(rows[0])
        row["settings"] = json.loads(row["settings"])
        return row

    def eval_run_records(self, run_id: int) -> list[QARecord]:
        return [QARecord.from_dict(json.loads(r["record"]), where=f"run {run_id} item")
                for r in self.db.query("SELECT record FROM eval_run_items WHERE run_id=? "
                                       "ORDER BY seq", (run_id,))]

    def eval_answers(self, run_id: int) -> dict[str, dict]:
        return {r["qa_id"]: dict(r) for r in self.db.query(
            "SELECT * FROM eval_answers WHERE run_id=?", (run_id,))}

    def save_eval_answer(self, run_id: int, qa_id: str, raw: Optional[str],
                         parsed: Optional[int], correct: bool, abstained: bool = False,
                         gen_s: Optional[float] = None, total_s: Optional[float] = None) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO eval_answers(run_id, qa_id, raw, parsed, correct, "
                "abstained, gen_s, total_s) VALUES (?,?,?,?,?,?,?,?)",
                (run_id, qa_id, raw, parsed, int(bool(correct)), int(bool(abstained)), gen_s,
                 total_s))

    def set_eval_run_status(self, run_id: int, status: str,
                            model_revision: Optional[str] = None) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status}")
        with self.db.write() as conn:
            conn.execute(
                "UPDATE eval_runs SET status=?, model_revision=COALESCE(?, model_revision), "
                "finished_at=CASE WHEN ?='running' THEN NULL ELSE "
                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END WHERE id=?",
                (status, model_revision, status, run_id))

    def rename_eval_run(self, run_id: int, name: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE eval_runs SET name=? WHERE id=?", (name, run_id))

    def delete_eval_run(self, run_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM eval_answers WHERE run_id=?", (run_id,))
            conn.execute("DELETE FROM eval_run_items WHERE run_id=?", (run_id,))
            conn.execute("DELETE FROM eval_runs WHERE id=?", (run_id,))

    # -- imports ------------------------------------------------------------------------------
    def import_coco_poses(self, dataset) -> dict:
        """Every person of a loaded COCO file as a one-frame track keyed by its image file's
        content, all in one transaction; images whose file is missing are skipped.

        Returns {"new": tracks added, "replaced": tracks that existed and were overwritten,
        "missing": [file names of the skipped images], "skipped_persons": their persons}."""
        from ..pose.coco import person_track  # noqa: PLC0415
        from ..video import content_hash  # noqa: PLC0415

        rows, missing, skipped = [], [], 0
        for im in dataset.images:
            if im.path is None or not im.path.is_file():
                if im.persons:
                    missing.append(im.file_name or f"image id {im.id}")
                    skipped += len(im.persons)
                continue
            digest = content_hash(im.path)
            for person in im.persons:
                t = person_track(im, person)
                rows.append((digest, t.backend, _settings_text(t.settings), t.backend_version,
                             len(t), t.frames_done, int(t.complete), t.to_npz_bytes()))
        keys = {r[:3] for r in rows}
        with self.db.write() as conn:
            existing = sum(1 for k in keys if conn.execute(
                "SELECT 1 FROM pose_tracks WHERE content_hash=? AND backend=? AND settings_key=?",
                k).fetchone())
            conn.executemany(
                "INSERT OR REPLACE INTO pose_tracks(content_hash, backend, settings_key, "
                "backend_version, frames, frames_done, complete, data) VALUES (?,?,?,?,?,?,?,?)",
                rows)
        return {"new": len(keys) - existing, "replaced": existing, "missing": missing,
                "skipped_persons": skipped}
