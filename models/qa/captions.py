"""Caption import from CSV or JSON: validated completely before anything is stored.

CSV: a header with ``video`` and ``text`` (or ``caption``), optional ``start_s``, ``end_s``.
JSON: a list of objects with the same keys, or ``{"captions": [...]}``; ``.jsonl``: one
object per line. Any problem raises ``CaptionImportError`` naming the line; the caller
stores the result in one transaction, so a bad file imports nothing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import csv
import io
import json
import math
import os

from ..bounded_read import (MAX_DEPTH, STRICT, depth_exceeds, jsonl_lines, read_text,
                            string_problem)
from ..bounded_read import parse_json as parse_value
from .errors import CaptionImportError

if TYPE_CHECKING:
    from .storage import QAStore

MAX_CAPTION_BYTES = 64 * 1024 * 1024

TEXT_KEYS = ("text", "caption")


def _number(value, name: str, where: str):
    if value in (None, ""):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise CaptionImportError(f"{where}: '{name}' must be a number, got {value!r}") from None
    if not math.isfinite(out) or out < 0 or isinstance(value, bool):
        raise CaptionImportError(f"{where}: '{name}' must be a finite non-negative number")
    return out


def _entry(d, where: str) -> dict:
    if not isinstance(d, dict):
        raise CaptionImportError(f"{where}: expected an object with 'video' and 'text'")
    video = d.get("video")
    text = next((d[k] for k in TEXT_KEYS if d.get(k) not in (None, "")), None)
    if not isinstance(video, str) or not video.strip():
        raise CaptionImportError(f"{where}: missing 'video'")
    if not isinstance(text, str) or not text.strip():
        raise CaptionImportError(f"{where}: missing caption 'text'")
    for name, value in (("video", video), ("text", text)):
        problem = string_problem(value) or ("holds a NUL character" if "\x00" in value else None)
        if problem:
            raise CaptionImportError(f"{where}: '{name}' {problem}")
    start, end = _number(d.get("start_s"), "start_s", where), _number(d.get("end_s"), "end_s", where)
    if start is not None and end is not None and end < start:
        raise CaptionImportError(f"{where}: end_s is before start_s")
    return {"video": video.strip(), "text": text, "start_s": start, "end_s": end}


def parse_csv(text: str, name: str = "captions.csv") -> list[dict]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    row_start = 1
    try:
        header = reader.fieldnames or []
        if "video" not in header or not any(k in header for k in TEXT_KEYS):
            raise CaptionImportError(f"{name} line 1: the header needs 'video' and 'text' columns")
        out = []
        row_start = reader.line_num + 1
        for row in reader:
            where = f"{name} line {row_start}"
            if None in row or any(v is None for v in row.values()):
                raise CaptionImportError(f"{where}: wrong number of columns")
            out.append(_entry(row, where))
            row_start = reader.line_num + 1
    except csv.Error as exc:
        raise CaptionImportError(f"{name} line {row_start}: {exc}") from None
    return out


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def parse_json(text: str, name: str = "captions.json") -> list[dict]:
    try:
        doc = json.loads(text, **STRICT)
    except json.JSONDecodeError as exc:
        raise CaptionImportError(f"{name} line {exc.lineno}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise CaptionImportError(f"{name}: invalid JSON (nested too deep)") from None
    except ValueError as exc:
        raise CaptionImportError(f"{name}: invalid JSON ({exc})") from None
    if depth_exceeds(doc, MAX_DEPTH):
        raise CaptionImportError(f"{name}: invalid JSON (nested too deep)")
    items = doc.get("captions") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise CaptionImportError(f"{name} line 1: expected a list of captions")
    starts = _item_lines(text)
    return [_entry(d, f"{name} line {starts[i] if i < len(starts) else '?'}")
            for i, d in enumerate(items)]


def _item_lines(text: str) -> list[int]:
    """Line where each element of the (first) top-level array starts ([] if unsure)."""
    try:
        return _scan_items(text)
    except ValueError:
        return []


def _scan_items(text: str) -> list[int]:
    dec = json.JSONDecoder()
    pos = text.index("[")
    lines: list[int] = []
    pos += 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return lines
        lines.append(_line_of(text, pos))
        _obj, pos = dec.raw_decode(text, pos)


def parse_jsonl(text: str, name: str = "captions.jsonl") -> list[dict]:
    return [_entry(parse_value(line, f"{name} line {n}", CaptionImportError), f"{name} line {n}")
            for n, line in jsonl_lines(text)]


def read_captions(path) -> list[dict]:
    """Parse a caption file completely (nothing is stored here)."""
    path = str(path)
    name = os.path.basename(path)
    ext = os.path.splitext(path)[1].lower()
    parsers = {".csv": parse_csv, ".json": parse_json, ".jsonl": parse_jsonl}
    if ext not in parsers:
        raise CaptionImportError(f"{name}: unsupported caption format (use .csv, .json or .jsonl)")
    text = read_text(path, CaptionImportError, MAX_CAPTION_BYTES)
    items = parsers[ext](text, name)
    if not items:
        raise CaptionImportError(f"{name}: no captions found")
    return items


def import_captions(repo: QAStore, path) -> int:
    """Parse, then store all captions in one transaction; returns the count."""
    items = read_captions(path)
    return repo.add_captions(items, origin=os.path.basename(str(path)))
