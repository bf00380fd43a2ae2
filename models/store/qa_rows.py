"""Mapping between the canonical ``QARecord`` and a ``qa_items`` row (plain values)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from ..errors import ProjectDamaged
from ..qa.record import Provenance, QARecord, Review

PROV_JSON = ("generation_params", "frame_indices", "facts")
PROV_JSON_TYPES = {"generation_params": dict, "frame_indices": list, "facts": list}
PROV_PLAIN = ("model_id", "model_revision", "prompt_template", "prompt_version", "seed",
              "pose_backend", "pose_backend_version")
# kept inside the generation_params JSON column under ANSWERABILITY (no schema change;
# items stored before have none and load with None)
PROV_IN_PARAMS = ("confidence", "margin", "margin_unit", "margin_ratio")
ANSWERABILITY = "answerability"
BASE = ("qa_id", "task", "video", "start_s", "end_s", "frame_a", "frame_b", "question",
        "answer_index", "source", "person", "person_referent")
COLUMNS = ("qa_id", "seq", "task", "video", "start_s", "end_s", "frame_a", "frame_b",
           "question", "options", "answer_index", "source", "model_id", "model_revision",
           "prompt_template", "prompt_version", "generation_params", "seed", "frame_indices",
           "pose_backend", "pose_backend_version", "facts", "status", "note", "created_at",
           "updated_at", "gen_key", "person", "person_referent")
# columns added after the first schema: history rows written before them lack the key
LATER_COLUMNS = ("person", "person_referent")


def now_iso() -> str:
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def dumps(value) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def record_to_row(rec: QARecord, seq: int, gen_key: str | None = None) -> dict:
    row = {k: getattr(rec, k) for k in BASE}
    row["options"] = dumps(list(rec.options))
    prov = rec.provenance or Provenance()
    review = rec.review or Review()
    row.update({k: getattr(prov, k) for k in PROV_PLAIN})
    row.update({k: dumps(getattr(prov, k)) for k in PROV_JSON})
    extra = {k: getattr(prov, k) for k in PROV_IN_PARAMS if getattr(prov, k) is not None}
    if extra:
        row["generation_params"] = dumps(dict(prov.generation_params or {}, **{ANSWERABILITY: extra}))
    stamp = now_iso()
    row.update(status=review.status, note=review.note, created_at=review.created_at or stamp,
               updated_at=review.updated_at or stamp, seq=seq, gen_key=gen_key)
    return row


def _json_column(qa_id, column: str, text, kind):
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        verb = "are" if column == "options" else "is"
        raise ProjectDamaged(f"QA item {qa_id} in the project is damaged: its {column} {verb} "
                             "not valid JSON") from None
    if value is not None and not isinstance(value, kind):
        verb = "are" if column == "options" else "is"
        raise ProjectDamaged(f"QA item {qa_id} in the project is damaged: its {column} {verb} "
                             f"a JSON {type(value).__name__}, not a {kind.__name__}")
    return value


def decode_options(qa_id, text, answer_index) -> list:
    """The options of a stored row, checked: a list of at least two strings, and an
    answer index inside it (ProjectDamaged naming the item otherwise)."""
    options = _json_column(qa_id, "options", text, list)
    if options is None or len(options) < 2 or not all(isinstance(o, str) for o in options):
        raise ProjectDamaged(f"QA item {qa_id} in the project is damaged: its options are not "
                             "a list of at least two texts")
    if not isinstance(answer_index, int) or not 0 <= answer_index < len(options):
        raise ProjectDamaged(f"QA item {qa_id} in the project is damaged: its answer index "
                             f"{answer_index!r} is not one of its {len(options)} options")
    return options


def row_to_record(row) -> QARecord:
    """A stored row as a record; ProjectDamaged (naming the item) when a JSON column does
    not parse or has the wrong shape."""
    row = dict(row)
    qa_id = row["qa_id"]
    options = decode_options(qa_id, row["options"], row["answer_index"])
    prov = Provenance(**{k: row[k] for k in PROV_PLAIN},
                      **{k: _json_column(qa_id, k, row[k], PROV_JSON_TYPES[k])
                         for k in PROV_JSON})
    params = prov.generation_params or {}
    extra = params.get(ANSWERABILITY)
    if isinstance(extra, dict):
        prov.generation_params = {k: v for k, v in params.items() if k != ANSWERABILITY}
        for k in PROV_IN_PARAMS:
            if isinstance(extra.get(k), (str, int, float)) and not isinstance(extra.get(k), bool):
                setattr(prov, k, extra[k])
    review = Review(status=row["status"], note=row["note"], created_at=row["created_at"],
                    updated_at=row["updated_at"])
    kw = {k: row[k] for k in BASE}
    person = kw["person"]
    if person is not None and (not isinstance(person, int) or person < 0):
        raise ProjectDamaged(f"QA item {qa_id} in the project is damaged: its person "
                             f"{person!r} is not a track id")
    if kw["person_referent"] is not None and not isinstance(kw["person_referent"], str):
        raise ProjectDamaged(f"QA item {qa_id} in the project is damaged: its person "
                             "referent is not text")
    return QARecord(options=options, provenance=prov, review=review, **kw)


def row_json(row) -> str | None:
    """A full row as JSON text (the before/after of the history); exact for str/int/float."""
    if row is None:
        return None
    d = {k: row[k] for k in COLUMNS}
    if "_rowid" in row.keys():
        d["_rowid"] = row["_rowid"]
    return json.dumps(d, ensure_ascii=False)
