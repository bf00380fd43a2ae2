"""Canonical JSONL (the app's own export; also the lmms-eval export's data JSONL, whose
provenance/review are JSON text)."""
from __future__ import annotations

import json
from pathlib import Path

from ..qa.record import QARecord
from .base import ImportFormatError, ImportResult, check_unique, first_json_object, read_jsonl

ID = "jsonl"
LABEL = "Canonical JSONL"


def can_handle(path: Path) -> bool:
    first = first_json_object(path) if path.suffix.lower() == ".jsonl" else None
    return isinstance(first, dict) and "qa_id" in first and "options" in first \
        and "answer_index" in first


def _record(obj, where: str) -> QARecord:
    if isinstance(obj, dict):
        obj = dict(obj)
        for key in ("provenance", "review"):
            if isinstance(obj.get(key), str):
                try:
                    obj[key] = json.loads(obj[key])
                except ValueError:
                    raise ImportFormatError(f"{where}: '{key}' is not valid JSON") from None
    try:
        return QARecord.from_dict(obj, where=where)
    except (ValueError, TypeError) as exc:
        raise ImportFormatError(str(exc)) from None


def load(path: Path) -> ImportResult:
    rows = read_jsonl(path)
    records = [_record(obj, f"{path.name} line {n}") for n, obj in rows]
    check_unique(records, path.name)
    return ImportResult(ID, str(path), records)
