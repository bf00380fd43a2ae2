"""Video-MME field set (JSON list or JSONL): video_id / videoID, question_id, task_type,
question, options ["A. ...", ...], answer (letter). Videos become ``<videoID>.mp4``."""
from __future__ import annotations

import re
from pathlib import Path

from ..qa.record import LETTERS, QARecord
from .base import (TEXT, ImportFormatError, ImportResult, check_unique, first_json_object,
                   read_json, read_jsonl, require_fields, to_record)

ID = "videomme"
LABEL = "Video-MME fields (question_id, options, answer letter)"
REQUIRED = ("question_id", "task_type", "question", "options", "answer")
FIELDS = {"question_id": ((str, int), True), "task_type": (TEXT, True), "question": (TEXT, True),
          "options": ((list,), True), "answer": (TEXT, True), "videoID": ((str, int), False),
          "video_id": ((str, int), False)}
NAMES = {"qa_id": "question_id", "task": "task_type", "answer_index": "answer",
         "video": "videoID"}
_PREFIX = re.compile(r"^\s*\(?[A-J][.)]\s*")


def can_handle(path: Path) -> bool:
    if path.suffix.lower() not in (".json", ".jsonl"):
        return False
    first = first_json_object(path)
    return isinstance(first, dict) and all(k in first for k in REQUIRED)


def _record(item, where: str) -> QARecord:
    require_fields(item, where, FIELDS)
    opts = item["options"]
    if not all(isinstance(o, str) for o in opts):
        raise ImportFormatError(f"{where}: field 'options' must be a list of strings")
    letter = item["answer"].strip().upper()[:1]
    if not letter or letter not in LETTERS[:len(opts)]:
        raise ImportFormatError(f"{where}: field 'answer': {item['answer'][:20]!r} is not a "
                                f"letter of its {len(opts)} options")
    video = str(item.get("videoID") or item.get("video_id") or "")
    if not video:
        raise ImportFormatError(f"{where}: field 'videoID' is missing")
    return to_record({"qa_id": f"videomme_{item['question_id']}", "task": item["task_type"],
                      "video": video if Path(video).suffix else video + ".mp4",
                      "question": item["question"], "options": [_PREFIX.sub("", o) for o in opts],
                      "answer_index": LETTERS.index(letter), "source": "import:videomme",
                      "review": {"status": "candidate"}}, where, NAMES)


def load(path: Path) -> ImportResult:
    if path.suffix.lower() == ".jsonl":
        rows = [(f"{path.name}: record {i + 1} (line {n})", obj)
                for i, (n, obj) in enumerate(read_jsonl(path))]
    else:
        doc = read_json(path)
        if not isinstance(doc, list):
            raise ImportFormatError(f"{path.name}: expected a JSON list of items")
        rows = [(f"{path.name}: record {i + 1}", obj) for i, obj in enumerate(doc)]
    records = [_record(obj, where) for where, obj in rows]
    check_unique(records, path.name)
    return ImportResult(ID, str(path), records)
