"""MVBench-style multiple-choice video JSON: a list of {video, question, candidates, answer}
where ``answer`` is the text of the right candidate. The sub-task is the item's
``task_type`` when present, else the file name (MVBench ships one JSON per sub-task)."""
from __future__ import annotations

from pathlib import Path

from ..qa.record import QARecord, stable_qa_id
from .base import (NUMBER, TEXT, ImportFormatError, ImportResult, check_unique,
                   first_json_object, read_json, require_fields, to_record)

ID = "mvbench"
LABEL = "MVBench-style JSON (video, question, candidates, answer)"
REQUIRED = ("video", "question", "candidates", "answer")
FIELDS = {"video": (TEXT, True), "question": (TEXT, True), "candidates": ((list,), True),
          "answer": (TEXT, True), "task_type": (TEXT, False), "start": (NUMBER, False),
          "end": (NUMBER, False)}
NAMES = {"options": "candidates", "answer_index": "answer", "start_s": "start", "end_s": "end",
         "task": "task_type"}


def can_handle(path: Path) -> bool:
    first = first_json_object(path) if path.suffix.lower() == ".json" else None
    return isinstance(first, dict) and all(k in first for k in REQUIRED)


def _record(item, where: str, task: str) -> QARecord:
    require_fields(item, where, FIELDS)
    cands = item["candidates"]
    if not all(isinstance(c, str) for c in cands):
        raise ImportFormatError(f"{where}: field 'candidates' must be a list of strings")
    if item["answer"] not in cands:
        raise ImportFormatError(f"{where}: field 'answer': {item['answer'][:80]!r} is not one "
                                "of its candidates")
    task = item.get("task_type") or task
    qa_id = stable_qa_id("mvbench", task, item["video"], item["question"], cands)
    return to_record({"qa_id": qa_id, "task": task, "video": item["video"],
                      "question": item["question"], "options": list(cands),
                      "answer_index": cands.index(item["answer"]),
                      "start_s": item.get("start"), "end_s": item.get("end"),
                      "source": "import:mvbench", "review": {"status": "candidate"}},
                     where, NAMES)


def load(path: Path) -> ImportResult:
    doc = read_json(path)
    if not isinstance(doc, list):
        raise ImportFormatError(f"{path.name}: expected a JSON list of items")
    records = [_record(it, f"{path.name}: record {i + 1}", path.stem) for i, it in enumerate(doc)]
    check_unique(records, path.name)
    return ImportResult(ID, str(path), records)
