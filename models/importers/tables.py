"""Tables this app exported: the Hugging Face Parquet files (columns of the canonical
record; ``source_video`` is the record's video, ``video`` the exported clip) and the
VLMEvalKit TSVs (the full canonical record as JSON in the ``record`` column)."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from ..qa.record import QARecord
from .base import ImportFormatError, ImportResult, check_unique

ID = "export-table"
LABEL = "Parquet / TSV exported by ActionArt Studio"
PARQUET_NEEDS = {"qa_id", "task", "source_video", "question", "options", "answer_index",
                 "provenance", "review"}


def can_handle(path: Path) -> bool:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq  # noqa: PLC0415

            return PARQUET_NEEDS <= set(pq.read_schema(path).names)
        if suffix == ".tsv":
            with open(path, encoding="utf-8", newline="") as fh:
                return "record" in next(csv.reader(fh, delimiter="\t"), [])
    except (OSError, ValueError, UnicodeDecodeError, ImportError):
        return False
    return False


def _parquet_rows(path: Path) -> list[tuple[str, dict]]:
    import pyarrow.parquet as pq  # noqa: PLC0415

    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, ValueError) as exc:
        raise ImportFormatError(f"{path.name}: not a readable Parquet file ({exc})") from None
    out = []
    for i, row in enumerate(rows):
        where = f"{path.name}: row {i}"
        row = dict(row, video=row.get("source_video"))
        for key in ("provenance", "review"):
            try:
                row[key] = json.loads(row[key]) if row.get(key) else None
            except ValueError:
                raise ImportFormatError(f"{where}: '{key}' is not valid JSON") from None
        out.append((where, row))
    return out


def _tsv_rows(path: Path) -> list[tuple[str, dict]]:
    csv.field_size_limit(sys.maxsize)
    out = []
    with open(path, encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh, delimiter="\t")):
            where = f"{path.name}: row {i} (line {i + 2})"
            try:
                out.append((where, json.loads(row["record"])))
            except (ValueError, TypeError):
                raise ImportFormatError(f"{where}: 'record' is not valid JSON") from None
    return out


def load(path: Path) -> ImportResult:
    rows = _parquet_rows(path) if path.suffix.lower() == ".parquet" else _tsv_rows(path)
    records = []
    for where, row in rows:
        try:
            records.append(QARecord.from_dict(row, where=where))
        except (ValueError, TypeError) as exc:
            raise ImportFormatError(str(exc)) from None
    check_unique(records, path.name)
    return ImportResult(ID, str(path), records)
