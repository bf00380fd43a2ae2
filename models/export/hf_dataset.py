"""Hugging Face dataset folder: Parquet per sub-task with a string ``video`` column (path of
the clip inside the folder), a dataset card whose YAML header lists ``configs`` (``all`` as
the default, then one per sub-task), and the clips beside it under ``videos/``.
``datasets.load_dataset(folder[, config])`` reads it as-is.
"""
from __future__ import annotations

import io
import json
import sys

from ..jobs import NULL_CONTEXT
from .base import safe_name, unique_ids
from .rows import flat_row
from .runner import run_export

ID = "hf-dataset"
LABEL = "Hugging Face dataset folder"
DESCRIPTION = "Parquet per sub-task + dataset card with configs + videos/ beside it."
NEEDS_VIDEO = True


def schema():
    import pyarrow as pa  # noqa: PLC0415

    s, f, i = pa.string(), pa.float64(), pa.int64()
    return pa.schema([("qa_id", s), ("task", s), ("video", s), ("source_video", s),
                      ("start_s", f), ("end_s", f), ("frame_a", i), ("frame_b", i),
                      ("question", s), ("options", pa.list_(s)), ("answer_index", i),
                      ("answer", s), ("source", s), ("provenance", s), ("review", s),
                      ("person", i), ("person_referent", s)])


def hf_row(rec, media_rel: str) -> dict:
    row = flat_row(rec, media_rel)
    row["source_video"] = row["video"]
    row["video"] = row.pop("media")
    return row


def parquet_bytes(rows: list) -> bytes:
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    sch = schema()
    table = pa.Table.from_pylist([{k: r.get(k) for k in sch.names} for r in rows], schema=sch)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")
    return buf.getvalue()


def write(records, sink, media, options, ctx=NULL_CONTEXT) -> int:
    by_task: dict = {}
    for k, rec in enumerate(records):
        ctx.check()
        by_task.setdefault(rec.task, []).append(hf_row(rec, media.video(rec)))
        ctx.progress(k + 1, len(records), "writing dataset rows")
    files, idents = {}, unique_ids(by_task)
    for task in sorted(by_task):
        rel = f"data/{idents[task]}.parquet"
        sink.write_bytes(rel, parquet_bytes(by_task[task]))
        files[idents[task]] = rel
    sink.write_text("README.md", card(safe_name(options.name), files, len(records)))
    return len(records)


def card(name: str, files: dict, count: int) -> str:
    lines = ["---", "configs:", "- config_name: all", "  default: true", "  data_files:",
             "  - split: test", "    path:"]
    lines += [f"    - {json.dumps(rel)}" for rel in files.values()]
    for ident, rel in files.items():  # JSON strings are YAML scalars ("yes" stays a string)
        lines += [f"- config_name: {json.dumps(ident)}", "  data_files:",
                  "  - split: test", f"    path: {json.dumps(rel)}"]
    lines += ["task_categories:", "- video-text-to-text", "language:", "- en", "---", ""]
    body = (f"# {name}\n\nFine-grained human-action multiple-choice QA exported by ActionArt "
            f"Studio: {count} items in {len(files)} sub-tasks. The `video` column is the path "
            "of the clip inside this folder (`videos/`); `answer_index` is 0-based, `answer` "
            "its letter; `provenance` and `review` hold JSON.\n\n"
            "```python\nfrom datasets import load_dataset\n"
            "ds = load_dataset(\"path/to/this/folder\", \"all\", split=\"test\")\n```\n")
    return "\n".join(lines) + body


def export(records, out_dir, options=None, ctx=NULL_CONTEXT):
    return run_export(sys.modules[__name__], records, out_dir, options, ctx)
