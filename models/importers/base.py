"""Shared parts of the importers: the error, the result, reading JSON/JSONL with line numbers."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..bounded_read import jsonl_lines, parse_json, read_text
from ..errors import StudioError
from ..qa.record import QARecord, RecordError


class ImportFormatError(StudioError):
    """A file cannot be imported; the message names the record. Nothing was imported."""


@dataclass
class ImportResult:
    format: str
    source: str
    records: list = field(default_factory=list)   # QARecord
    poses: Optional[Any] = None                   # CocoDataset for pose files
    warnings: list = field(default_factory=list)

    def summary(self) -> str:
        if self.poses is not None:
            return (f"{Path(self.source).name}: {len(self.poses.persons)} person pose(s) on "
                    f"{len(self.poses.images)} image(s)")
        return f"{Path(self.source).name}: {len(self.records)} QA item(s) ({self.format})"


def read_json(path: Path):
    """The parsed JSON document of ``path`` (bounded, strict: see models/bounded_read.py)."""
    return parse_json(read_text(path, ImportFormatError), path.name, ImportFormatError)


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed object) for every non-blank line (split on \\n only, so U+2028
    inside a string stays in its line); errors name the line."""
    text = read_text(path, ImportFormatError)
    return [(n, parse_json(line, f"{path.name} line {n}", ImportFormatError))
            for n, line in jsonl_lines(text)]


def first_json_object(path: Path):
    """The first record of a .json list / .jsonl file, or the top object; None if unreadable."""
    try:
        if path.suffix.lower() == ".jsonl":
            first = next(jsonl_lines(read_text(path, ImportFormatError)), None)
            return None if first is None else parse_json(first[1], path.name, ImportFormatError)
        doc = read_json(path)
    except ImportFormatError:
        return None
    if isinstance(doc, list):
        return doc[0] if doc else None
    return doc


def check_unique(records, name: str) -> None:
    seen: dict[str, int] = {}
    for i, rec in enumerate(records):
        if rec.qa_id in seen:
            raise ImportFormatError(f"{name}: record {i + 1} repeats qa_id '{rec.qa_id}' "
                                    f"(first at record {seen[rec.qa_id] + 1})")
        seen[rec.qa_id] = i


TEXT = (str,)
NUMBER = (int, float)
KIND_NAMES = {str: "text", int: "an integer", float: "a number", list: "a list", dict: "an object"}


def require_fields(item, where: str, spec: dict) -> None:
    """``item`` is an object whose fields have the kinds ``spec`` gives
    ({name: (types, required)}); ``ImportFormatError`` names the field otherwise."""
    if not isinstance(item, dict):
        raise ImportFormatError(f"{where}: expected an object, got {type(item).__name__}")
    for name, (kinds, required) in spec.items():
        value = item.get(name)
        if value is None or value == "":
            if required:
                raise ImportFormatError(f"{where}: field '{name}' is missing")
            continue
        if isinstance(value, bool) or not isinstance(value, kinds):
            want = "a number" if kinds == NUMBER else \
                " or ".join(KIND_NAMES.get(k, k.__name__) for k in kinds)
            raise ImportFormatError(f"{where}: field '{name}' must be {want}, "
                                    f"got {type(value).__name__}")


def to_record(d: dict, where: str, names=None) -> QARecord:
    """``QARecord.from_dict`` (the one schema) with its error as ``ImportFormatError``."""
    try:
        return QARecord.from_dict(d, where=where, names=names)
    except RecordError as exc:
        raise ImportFormatError(str(exc)) from None
