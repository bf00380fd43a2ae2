"""Canonical JSONL (the app's own export; also the lmms-eval export's data JSONL, whose
provenance/review are JSON text)."""
from __future__ import annotations

from pathlib import Path

from ..bounded_read import parse_json
from ..qa.record import QARecord
from .base import ImportFormatError, ImportResult, check_unique, first_json_object, read_jsonl, to_record

ID = "jsonl"
LABEL = "Canonical JSONL"


def can_handle(path: Path) -> bool:
    first = first_json_object(path) if path.suffix.lower() == ".jsonl" else None
    return isinstance(first, dict) and "qa_id" in first and "options" in first \
        and "answer_index" in first


def embedded_json(obj, where: str):
    """``provenance`` / ``review`` given as JSON text (lmms-eval data, Parquet) parsed."""
    if isinstance(obj, dict):
        obj = dict(obj)
        for key in ("provenance", "review"):
            if isinstance(obj.get(key), str):
                obj[key] = parse_json(obj[key], f"{where}: field '{key}'", ImportFormatError) \
                    if obj[key].strip() else None
    return obj


def _record(obj, where: str) -> QARecord:
    return to_record(embedded_json(obj, where), where)


def load(path: Path) -> ImportResult:
    rows = read_jsonl(path)
    records = [_record(obj, f"{path.name}: record {i + 1} (line {n})")
               for i, (n, obj) in enumerate(rows)]
    check_unique(records, path.name)
    return ImportResult(ID, str(path), records)
