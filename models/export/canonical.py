"""Canonical JSONL: one QARecord per line, every field present (null where empty).

Records are written exactly as they are (video paths relative to the project's video root),
so importing the file gives back the same records.
"""
from __future__ import annotations

import sys

from ..jobs import NULL_CONTEXT
from .base import safe_name
from .rows import canonical_row
from .runner import run_export

ID = "jsonl"
LABEL = "Canonical JSONL"
DESCRIPTION = "One QA record per line with every field (the app's own lossless format)."
NEEDS_VIDEO = False


def write(records, sink, media, options, ctx=NULL_CONTEXT) -> int:
    sink.write_lines(f"{safe_name(options.name)}.jsonl", (canonical_row(r) for r in records))
    return len(records)


def export(records, out_dir, options=None, ctx=NULL_CONTEXT):
    return run_export(sys.modules[__name__], records, out_dir, options, ctx)
