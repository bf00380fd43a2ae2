"""Deterministic TSV writing (VLMEvalKit's loaders read it with pandas ``sep='\\t'``)."""
from __future__ import annotations

import csv
import io


def tsv_text(columns: list, rows: list) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return buf.getvalue()
