"""Mapping between the canonical ``QARecord`` and a ``qa_items`` row (plain values)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from ..qa.record import Provenance, QARecord, Review

PROV_JSON = ("generation_params", "frame_indices", "facts")
PROV_PLAIN = ("model_id", "model_revision", "prompt_template", "prompt_version", "seed",
              "pose_backend", "pose_backend_version")
BASE = ("qa_id", "task", "video", "start_s", "end_s", "frame_a", "frame_b", "question",
        "answer_index", "source")
COLUMNS = ("qa_id", "seq", "task", "video", "start_s", "end_s", "frame_a", "frame_b",
           "question", "options", "answer_index", "source", "model_id", "model_revision",
           "prompt_template", "prompt_version", "generation_params", "seed", "frame_indices",
           "pose_backend", "pose_backend_version", "facts", "status", "note", "created_at",
           "updated_at", "gen_key")


def now_iso() -> str:
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def dumps(value) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text):
    return None if text is None else json.loads(text)


def record_to_row(rec: QARecord, seq: int, gen_key: str | None = None) -> dict:
    row = {k: getattr(rec, k) for k in BASE}
    row["options"] = dumps(list(rec.options))
    prov = rec.provenance or Provenance()
    review = rec.review or Review()
    row.update({k: getattr(prov, k) for k in PROV_PLAIN})
    row.update({k: dumps(getattr(prov, k)) for k in PROV_JSON})
    stamp = now_iso()
    row.update(status=review.status, note=review.note, created_at=review.created_at or stamp,
               updated_at=review.updated_at or stamp, seq=seq, gen_key=gen_key)
    return row


def row_to_record(row) -> QARecord:
    row = dict(row)
    prov = Provenance(**{k: row[k] for k in PROV_PLAIN},
                      **{k: loads(row[k]) for k in PROV_JSON})
    review = Review(status=row["status"], note=row["note"], created_at=row["created_at"],
                    updated_at=row["updated_at"])
    kw = {k: row[k] for k in BASE}
    return QARecord(options=loads(row["options"]), provenance=prov, review=review, **kw)


def row_json(row) -> str | None:
    """A full row as JSON text (the before/after of the history); exact for str/int/float."""
    if row is None:
        return None
    d = {k: row[k] for k in COLUMNS}
    if "_rowid" in row.keys():
        d["_rowid"] = row["_rowid"]
    return json.dumps(d, ensure_ascii=False)
