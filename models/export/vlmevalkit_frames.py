"""VLMEvalKit image-MCQ TSV of sampled frames: needs no code in VLMEvalKit.

Columns ``index, image (base64 JPEG), question, A, B, ..., answer (letter), category`` plus
``qa_id`` and the full canonical ``record``. Items showing the same frames share one image:
later rows hold the index of the first (VLMEvalKit resolves image cells of <= 64 chars so).
The image is a montage of the item's frames (its window sampled evenly, or its frame pair),
tiled left to right, top to bottom.
"""
from __future__ import annotations

import base64
import json
import sys

from ..jobs import NULL_CONTEXT
from ..qa.record import LETTERS
from .base import safe_name
from .media import montage
from .rows import canonical_row
from .runner import run_export
from .tsv import tsv_text

ID = "vlmevalkit-frames"
LABEL = "VLMEvalKit image-MCQ TSV (frames)"
DESCRIPTION = "Frames-only image MCQ TSV (base64 montage per item); no dataset code needed."
NEEDS_VIDEO = True
NEEDS_FRAMES = True


def item(k: int, rec, image_b64: str) -> dict:
    row = {"index": k, "image": image_b64, "question": rec.question,
           "answer": LETTERS[rec.answer_index], "category": rec.task, "qa_id": rec.qa_id,
           "person": rec.person, "person_referent": rec.person_referent,
           "record": json.dumps(canonical_row(rec), sort_keys=True, ensure_ascii=False)}
    row.update({LETTERS[i]: text for i, text in enumerate(rec.options)})
    return row


def write(records, sink, media, options, ctx=NULL_CONTEXT) -> int:
    rows: list[dict] = []
    first: dict = {}
    for k, rec in enumerate(records):
        ctx.check()
        key = (rec.video, rec.start_s, rec.end_s, rec.frame_a, rec.frame_b)
        if key in first:  # VLMEvalKit's convention: a short image cell is the index of
            rows.append(item(k, rec, str(first[key])))  # the row holding the same image
        else:
            first[key] = k
            frames = [img for _, img in media.frames(rec)]
            rows.append(item(k, rec, base64.b64encode(media.jpeg(montage(frames))).decode("ascii")))
        ctx.progress(k + 1, len(records), "sampling frames")
    width = max(len(r.options) for r in records)
    cols = ["index", "image", "question"] + list(LETTERS[:width]) + [
        "answer", "category", "qa_id", "person", "person_referent", "record"]
    sink.write_text(f"{safe_name(options.name)}_frames.tsv", tsv_text(cols, rows))
    return len(records)


def export(records, out_dir, options=None, ctx=NULL_CONTEXT):
    return run_export(sys.modules[__name__], records, out_dir, options, ctx)
