"""Checks of the proxy-training export's trainer layouts against the formats their tools
document (LLaMA-Factory's sharegpt + dataset_info.json, ms-swift's messages JSONL), read
the way each tool reads them: LLaMA-Factory joins a relative media path to the folder of
dataset_info.json; ms-swift opens it from the folder it runs in (the export folder)."""
from __future__ import annotations

import json
import os
from pathlib import Path

TAGS = {"images": "<image>", "videos": "<video>"}


class LayoutError(AssertionError):
    pass


def _check(cond, what: str) -> None:
    if not cond:
        raise LayoutError(what)


def _media(row: dict, turns: list, content_key: str, base: Path, where: str) -> int:
    """Every media list matches its placeholder count; every path names a file."""
    n = 0
    for key, tag in TAGS.items():
        paths = row.get(key) or []
        _check(isinstance(paths, list), f"{where}: {key} is not a list")
        count = sum(str(t[content_key]).count(tag) for t in turns)
        _check(count == len(paths), f"{where}: {count} {tag} tag(s) for {len(paths)} {key}")
        for p in paths:
            _check(isinstance(p, str) and p, f"{where}: bad media path {p!r}")
            _check(os.path.isfile(os.path.join(base, p)), f"{where}: no file {p}")
        n += len(paths)
    return n


def check_sharegpt(folder: Path) -> dict:
    """dataset name -> rows; raises LayoutError on the first departure from the format."""
    base = Path(folder) / "sharegpt"
    info = json.loads((base / "dataset_info.json").read_text(encoding="utf-8"))
    _check(isinstance(info, dict) and info, "dataset_info.json registers no dataset")
    out = {}
    for name, entry in info.items():
        _check(entry.get("formatting") == "sharegpt", f"{name}: formatting is not sharegpt")
        file = base / entry["file_name"]
        _check(file.is_file(), f"{name}: file_name {entry['file_name']} is missing")
        cols, tags = entry["columns"], entry["tags"]
        _check(set(cols) - {"messages"} <= set(TAGS), f"{name}: unexpected columns {cols}")
        rows = json.loads(file.read_text(encoding="utf-8"))
        _check(isinstance(rows, list) and rows, f"{name}: not a non-empty list")
        role, content = tags["role_tag"], tags["content_tag"]
        for k, row in enumerate(rows):
            where = f"{name}[{k}]"
            _check(all(v in row for v in cols.values()), f"{where}: lacks a column of {cols}")
            _check(not set(TAGS) - set(cols.values()) & set(row),
                   f"{where}: media key not registered in columns")
            turns = row[cols["messages"]]
            _check(len(turns) % 2 == 0 and turns, f"{where}: odd number of turns")
            for t, turn in enumerate(turns):
                want = tags["user_tag"] if t % 2 == 0 else tags["assistant_tag"]
                _check(turn.get(role) == want, f"{where}: turn {t} is {turn.get(role)!r}")
                _check(isinstance(turn.get(content), str), f"{where}: turn {t} has no text")
            _media(row, turns, content, base, where)
        out[name] = rows
    return out


def check_swift(folder: Path) -> dict:
    """task -> rows of swift/<task>.jsonl; raises LayoutError on the first departure."""
    root = Path(folder)
    out = {}
    for file in sorted((root / "swift").glob("*.jsonl")):
        rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
        _check(rows, f"{file.name}: empty")
        for k, row in enumerate(rows):
            where = f"{file.name}:{k + 1}"
            turns = row["messages"]
            _check(len(turns) % 2 == 0 and turns, f"{where}: odd number of messages")
            for t, m in enumerate(turns):
                want = "user" if t % 2 == 0 else "assistant"
                _check(m.get("role") == want, f"{where}: message {t} is {m.get('role')!r}")
                _check(isinstance(m.get("content"), str), f"{where}: message {t} has no text")
            _media(row, turns, "content", root, where)
        out[file.stem] = rows
    return out
