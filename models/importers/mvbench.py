"""MVBench-style multiple-choice video JSON: a list of {video, question, candidates, answer}
where ``answer`` is the text of the right candidate. The sub-task is the item's
``task_type`` when present, else the file name (MVBench ships one JSON per sub-task)."""
from __future__ import annotations

from pathlib import Path

from ..qa.record import QARecord, Review, stable_qa_id
from .base import (ImportFormatError, ImportResult, check_choice_item, check_unique,
                   first_json_object, read_json)

ID = "mvbench"
LABEL = "MVBench-style JSON (video, question, candidates, answer)"
REQUIRED = ("video", "question", "candidates", "answer")


def can_handle(path: Path) -> bool:
    first = first_json_object(path) if path.suffix.lower() == ".json" else None
    return isinstance(first, dict) and all(k in first for k in REQUIRED)


def _record(item, where: str, task: str) -> QARecord:
    cands = check_choice_item(item, where, REQUIRED, "candidates")
    if item["answer"] not in cands:
        raise ImportFormatError(f"{where}: answer '{item['answer']}' is not one of "
                                "its candidates")
    task = str(item.get("task_type") or task)
    start, end = item.get("start"), item.get("end")
    return QARecord(stable_qa_id("mvbench", task, item["video"], item["question"], cands),
                    task, str(item["video"]), str(item["question"]), list(cands),
                    cands.index(item["answer"]),
                    start_s=float(start) if start is not None else None,
                    end_s=float(end) if end is not None else None,
                    source="import:mvbench", review=Review(status="candidate"))


def load(path: Path) -> ImportResult:
    doc = read_json(path)
    if not isinstance(doc, list):
        raise ImportFormatError(f"{path.name}: expected a JSON list of items")
    records = [_record(it, f"{path.name}: item {i}", path.stem) for i, it in enumerate(doc)]
    check_unique(records, path.name)
    return ImportResult(ID, str(path), records)
