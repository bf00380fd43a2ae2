"""Video-MME field set (JSON list or JSONL): video_id / videoID, question_id, task_type,
question, options ["A. ...", ...], answer (letter). Videos become ``<videoID>.mp4``."""
from __future__ import annotations

import re
from pathlib import Path

from ..qa.record import LETTERS, QARecord, Review
from .base import (ImportFormatError, ImportResult, check_choice_item, check_unique,
                   first_json_object, read_json, read_jsonl)

ID = "videomme"
LABEL = "Video-MME fields (question_id, options, answer letter)"
REQUIRED = ("question_id", "task_type", "question", "options", "answer")
_PREFIX = re.compile(r"^\s*\(?[A-J][.)]\s*")


def can_handle(path: Path) -> bool:
    if path.suffix.lower() not in (".json", ".jsonl"):
        return False
    first = first_json_object(path)
    return isinstance(first, dict) and all(k in first for k in REQUIRED)


def _record(item, where: str) -> QARecord:
    opts = check_choice_item(item, where, REQUIRED, "options")
    letter = str(item["answer"]).strip().upper()[:1]
    if letter not in LETTERS[:len(opts)]:
        raise ImportFormatError(f"{where}: answer '{item['answer']}' is not a letter of its options")
    video = str(item.get("videoID") or item.get("video_id") or "")
    if not video:
        raise ImportFormatError(f"{where}: lacks 'videoID'")
    return QARecord(f"videomme_{item['question_id']}", str(item["task_type"]),
                    video if Path(video).suffix else video + ".mp4", str(item["question"]),
                    [_PREFIX.sub("", o) for o in opts], LETTERS.index(letter),
                    source="import:videomme", review=Review(status="candidate"))


def load(path: Path) -> ImportResult:
    if path.suffix.lower() == ".jsonl":
        rows = [(f"{path.name} line {n}", obj) for n, obj in read_jsonl(path)]
    else:
        doc = read_json(path)
        if not isinstance(doc, list):
            raise ImportFormatError(f"{path.name}: expected a JSON list of items")
        rows = [(f"{path.name}: item {i}", obj) for i, obj in enumerate(doc)]
    records = [_record(obj, where) for where, obj in rows]
    check_unique(records, path.name)
    return ImportResult(ID, str(path), records)
