"""Shared parts of the importers: the error, the result, reading JSON/JSONL with line numbers."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..errors import StudioError


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
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        raise ImportFormatError(f"Cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ImportFormatError(f"{path.name} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path.name}: invalid JSON at line {exc.lineno}, column "
                                f"{exc.colno}: {exc.msg}") from None


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed object) for every non-blank line; errors name the line."""
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    out.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ImportFormatError(f"{path.name} line {n}: invalid JSON ({exc.msg})") from None
    except OSError as exc:
        raise ImportFormatError(f"Cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ImportFormatError(f"{path.name} is not UTF-8 text") from None
    return out


def first_json_object(path: Path):
    """The first record of a .json list / .jsonl file, or the top object; None if unreadable."""
    try:
        if path.suffix.lower() == ".jsonl":
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        return json.loads(line)
            return None
        if path.stat().st_size > 200 * 1024 * 1024:
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, list):
        return doc[0] if doc else None
    return doc


def check_unique(records, name: str) -> None:
    seen = {}
    for i, rec in enumerate(records):
        if rec.qa_id in seen:
            raise ImportFormatError(f"{name}: record {i + 1} repeats qa_id '{rec.qa_id}' "
                                    f"(first at record {seen[rec.qa_id] + 1})")
        seen[rec.qa_id] = i


def check_choice_item(item, where: str, required, choices_key: str) -> list:
    """An MCQ item object with every ``required`` field set; returns its choices (2+ strings)."""
    if not isinstance(item, dict):
        raise ImportFormatError(f"{where}: not an object")
    for key in required:
        if item.get(key) in (None, ""):
            raise ImportFormatError(f"{where}: lacks '{key}'")
    choices = item[choices_key]
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise ImportFormatError(f"{where}: '{choices_key}' must be a list of 2+ strings")
    return choices
