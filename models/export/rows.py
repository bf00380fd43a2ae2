"""Rows shared by the formats: the full canonical record plus the exported media path."""
from __future__ import annotations

import json
from dataclasses import fields

from ..qa.record import LETTERS, QARecord


_FIELDS = tuple(f.name for f in fields(QARecord))


def canonical_row(rec: QARecord) -> dict:
    """Every field of the record (nested provenance/review), None where empty; equal to
    ``rec.to_dict()`` but shallow (rows are only serialised), so 100k rows stay fast."""
    row = {name: getattr(rec, name) for name in _FIELDS}
    row["provenance"] = dict(vars(rec.provenance))
    row["review"] = dict(vars(rec.review))
    return row


def item_row(rec: QARecord, media: str) -> dict:
    """Canonical fields + ``media`` (the self-contained file) + ``answer`` letter."""
    row = canonical_row(rec)
    row["media"] = media
    row["answer"] = LETTERS[rec.answer_index]
    return row


def flat_row(rec: QARecord, media: str) -> dict:
    """Flat columns for tables (TSV/Parquet): nested parts as JSON text."""
    row = item_row(rec, media)
    for key in ("provenance", "review"):
        row[key] = json.dumps(row[key], sort_keys=True, ensure_ascii=False)
    return row


def lettered(options) -> str:
    return "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(options))
