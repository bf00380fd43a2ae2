"""Tables this app exported: the Hugging Face Parquet files (columns of the canonical
record; ``source_video`` is the record's video, ``video`` the exported clip) and the
VLMEvalKit TSVs (the full canonical record as JSON in the ``record`` column)."""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from .. import bounded_read
from ..bounded_read import check_regular, parse_json, read_text
from .base import ImportFormatError, ImportResult, check_unique, to_record
from .canonical import embedded_json

ID = "export-table"
LABEL = "Parquet / TSV exported by ActionArt Studio"
PARQUET_NEEDS = {"qa_id", "task", "source_video", "question", "options", "answer_index",
                 "provenance", "review"}


def _arrow_errors() -> tuple:
    import pyarrow  # noqa: PLC0415

    return (OSError, ValueError, TypeError, NotImplementedError, pyarrow.ArrowException)


def can_handle(path: Path) -> bool:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq  # noqa: PLC0415

            try:
                return PARQUET_NEEDS <= set(pq.read_schema(check_regular(path, ImportFormatError)).names)
            except _arrow_errors():
                return False
        if suffix == ".tsv":
            text = read_text(path, ImportFormatError)
            return "record" in next(csv.reader(io.StringIO(text, newline=""), delimiter="\t"), [])
    except (ImportFormatError, csv.Error, ImportError):
        return False
    return False


def _parquet_rows(path: Path) -> list[tuple[str, dict]]:
    import pyarrow.parquet as pq  # noqa: PLC0415

    real = check_regular(path, ImportFormatError)
    try:
        meta = pq.read_metadata(real)
        size = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
        if size > 2 * bounded_read.MAX_FILE_BYTES:
            raise ImportFormatError(f"{path.name}: {size // (1024 * 1024)} MiB of table data, "
                                    "more than an import reads")
        rows = pq.read_table(real).to_pylist()
    except _arrow_errors() as exc:
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ImportFormatError(f"{path.name}: not a readable Parquet file ({msg})") from None
    out = []
    for i, row in enumerate(rows):
        where = f"{path.name}: record {i + 1}"
        row = dict(row, video=row.get("source_video"))
        out.append((where, embedded_json(row, where)))
    return out


def _tsv_rows(path: Path) -> list[tuple[str, dict]]:
    csv.field_size_limit(sys.maxsize)  # the file itself is size-capped by read_text
    text = read_text(path, ImportFormatError)
    out = []
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t")
    i = 0
    try:
        if "record" not in (reader.fieldnames or []):
            raise ImportFormatError(f"{path.name}: the header has no 'record' column")
        for i, row in enumerate(reader):
            where = f"{path.name}: record {i + 1} (line {reader.line_num})"
            value = row.get("record")
            if not isinstance(value, str) or not value.strip():
                raise ImportFormatError(f"{where}: field 'record' is missing")
            out.append((where, embedded_json(parse_json(value, f"{where}: field 'record'",
                                                        ImportFormatError), where)))
    except csv.Error as exc:
        raise ImportFormatError(f"{path.name}: record {i + 1}: not a readable TSV row ({exc})") \
            from None
    return out


def load(path: Path) -> ImportResult:
    rows = _parquet_rows(path) if path.suffix.lower() == ".parquet" else _tsv_rows(path)
    records = [to_record(row, where) for where, row in rows]
    check_unique(records, path.name)
    return ImportResult(ID, str(path), records)
