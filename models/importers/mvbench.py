"""MVBench-style multiple-choice video JSON: a list of {video, question, candidates, answer}
where ``answer`` is the text of the right candidate. The sub-task is the item's
``task_type`` when present, else the file name (MVBench ships one JSON per sub-task)."""
from __future__ import annotations

from pathlib import Path

from ..qa.record import QARecord, Review, stable_qa_id
from .base import ImportFormatError, ImportResult, check_unique, first_json_object, read_json

ID = "mvbench"
LABEL = "MVBench-style JSON (video, question, candidates, answer)"
REQUIRED = ("video", "question", "candidates", "answer")


def can_handle(path: Path) -> bool:
    first = first_json_object(path) if path.suffix.lower() == ".json" else None
    return isinstance(first, dict) and all(k in first for k in REQUIRED)


def _record(item, i: int, task: str, where: str) -> QARecord:
    if not isinstance(item, dict):
        raise ImportFormatError(f"{where}: item {i} is not an object")
    for key in REQUIRED:
        if item.get(key) in (None, ""):
            raise ImportFormatError(f"{where}: item {i} lacks '{key}'")
    cands = item["candidates"]
    if not isinstance(cands, list) or len(cands) < 2 or not all(isinstance(c, str) for c in cands):
        raise ImportFormatError(f"{where}: item {i}: 'candidates' must be a list of 2+ strings")
    if item["answer"] not in cands:
        raise ImportFormatError(f"{where}: item {i}: answer '{item['answer']}' is not one of "
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
    records = [_record(it, i, path.stem, path.name) for i, it in enumerate(doc)]
    check_unique(records, path.name)
    return ImportResult(ID, str(path), records)
