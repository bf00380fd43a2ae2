"""What a run works on: the videos of a manifest, each identified by its content hash.

A manifest is one of
- a folder: every video file under it (by extension), names relative to the folder;
- a ``.csv`` / ``.jsonl`` file with a video column (paths relative to the file's folder);
- a Hugging Face ``datasets`` folder (``save_to_disk``) with a video column of paths
  (relative to the folder that holds the dataset folder), read a batch at a time.

An entry that is not a usable video (missing file, a folder, an empty file, another file
type) becomes a failure of the ``probe`` step with its reason; it never ends the run. Two
names with the same content are one item (done once); the second name is reported as a
duplicate. Every read is bounded.
"""
from __future__ import annotations

import csv
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from ..bounded_read import jsonl_lines, parse_json, read_text
from ..errors import StudioError
from ..video import content_hash, is_video_path, list_videos
from .stage import ConfigError, Item

__all__ = ["Manifest", "ManifestError", "manifest_kind", "read_manifest", "iter_entries"]

MAX_LIST_BYTES = 256 * 1024 * 1024
MAX_ITEMS = 10_000_000
MAX_META_TEXT = 2000
HF_BATCH = 1024


class ManifestError(ConfigError):
    """The manifest itself cannot be read (not one of the kinds, no video column, ...)."""


@dataclass
class Manifest:
    items: list = field(default_factory=list)        # Item, unique by content
    failures: list = field(default_factory=list)     # (name, path, reason)
    duplicates: list = field(default_factory=list)   # (name, first name, content hash)
    kind: str = ""


def manifest_kind(path) -> str:
    p = Path(path)
    if p.is_dir():
        if (p / "dataset_info.json").is_file() or (p / "dataset_dict.json").is_file():
            return "hf"
        return "folder"
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if not p.exists():
        raise ManifestError(f"Manifest {p} does not exist")
    raise ManifestError(f"Manifest {p} is not a folder, a .csv, a .jsonl or a Hugging Face "
                        "datasets folder")


def _meta_value(v: Any) -> Any:
    if isinstance(v, str):
        return v[:MAX_META_TEXT]
    if v is None or isinstance(v, (bool, int)) or (isinstance(v, float) and v == v
                                                    and abs(v) != float("inf")):
        return v
    return None


def _meta(row: dict, column: str) -> dict:
    return {str(k)[:100]: mv for k, v in row.items()
            if k != column and (mv := _meta_value(v)) is not None}


def _resolve(base: Path, value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value.strip():
        return None
    p = Path(value)
    return str(p if p.is_absolute() else (base / p))


def iter_entries(path, video_column: str = "video") -> Iterator[tuple[str, Optional[str], dict]]:
    """(name as listed, absolute path or None, meta) per manifest entry."""
    p = Path(path).resolve() if Path(path).exists() else Path(path)
    kind = manifest_kind(p)
    if kind == "folder":
        for v in list_videos(p):
            yield str(v.relative_to(p)), str(v), {}
    elif kind == "csv":
        text = read_text(p, ManifestError, MAX_LIST_BYTES)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if reader.fieldnames is None or video_column not in reader.fieldnames:
            raise ManifestError(f"Manifest {p.name} has no column '{video_column}' "
                                f"(its columns: {', '.join(reader.fieldnames or []) or 'none'})")
        for i, row in enumerate(reader):
            value = row.get(video_column)
            yield (value or f"row {i + 2}"), _resolve(p.parent, value), dict(_meta(row, video_column),
                                                                              row=i + 2)
    elif kind == "jsonl":
        text = read_text(p, ManifestError, MAX_LIST_BYTES)
        for lineno, line in jsonl_lines(text):
            try:
                row = parse_json(line, f"{p.name} line {lineno}", ManifestError)
            except ManifestError as exc:
                yield f"line {lineno}", None, {"reason": str(exc)}
                continue
            if not isinstance(row, dict) or video_column not in row:
                yield f"line {lineno}", None, {"reason": f"line {lineno} has no '{video_column}'"}
                continue
            value = row[video_column]
            name = value if isinstance(value, str) and value else f"line {lineno}"
            yield name, _resolve(p.parent, value), dict(_meta(row, video_column), line=lineno)
    else:
        yield from _hf_entries(p, video_column)


def _hf_entries(p: Path, video_column: str) -> Iterator[tuple[str, Optional[str], dict]]:
    try:
        import datasets  # noqa: PLC0415
    except ImportError:
        raise ManifestError("Reading a Hugging Face datasets folder needs the 'datasets' "
                            "package") from None
    try:
        ds = datasets.load_from_disk(str(p))
    except Exception as exc:  # noqa: BLE001 (a damaged folder: one line)
        raise ManifestError(f"Cannot load the datasets folder {p}: {exc}") from None
    if isinstance(ds, datasets.DatasetDict):
        splits = list(ds)
        if len(splits) != 1:
            raise ManifestError(f"Datasets folder {p.name} has splits {', '.join(splits)}; "
                                "save the one split to use (load_from_disk(...)[split])")
        ds = ds[splits[0]]
    if video_column not in ds.column_names:
        raise ManifestError(f"Datasets folder {p.name} has no column '{video_column}' "
                            f"(its columns: {', '.join(ds.column_names) or 'none'})")
    col = ds.select_columns([video_column])
    row = 0
    for batch in col.iter(batch_size=HF_BATCH):
        for value in batch[video_column]:
            name = value if isinstance(value, str) and value else f"row {row}"
            if isinstance(value, dict) and isinstance(value.get("path"), str):
                name = value["path"]      # a Video/Image feature stored as {path, bytes}
                value = value["path"]
            yield name, _resolve(p.parent, value), {"row": row}
            row += 1


def _video_problem(path: Optional[str], meta: dict) -> Optional[str]:
    if path is None:
        return meta.get("reason") or "no video path in this entry"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"file not found: {path}"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    if not is_video_path(path):
        return f"{Path(path).name} is not a video file (unsupported extension)"
    if st.st_size == 0:
        return f"{Path(path).name} is empty (0 bytes)"
    return None


def read_manifest(path, video_column: str = "video", limit: Optional[int] = None,
                  hashes: Optional[dict] = None) -> Manifest:
    """The manifest's unique items (content-hashed), its bad entries and duplicates.

    ``hashes``: path -> [size, mtime_ns, hash] of an earlier read (reused when the file's
    size and time match; updated in place)."""
    out = Manifest(kind=manifest_kind(path))
    seen: dict[str, str] = {}
    cap = MAX_ITEMS if limit is None else min(int(limit), MAX_ITEMS)
    count = 0
    for name, vpath, meta in iter_entries(path, video_column):
        if count >= cap:
            break
        count += 1
        problem = _video_problem(vpath, meta)
        if problem is not None:
            out.failures.append((name, vpath or "", problem))
            continue
        assert vpath is not None        # a missing path is a problem above
        try:
            digest = _hash(vpath, hashes)
        except StudioError as exc:
            out.failures.append((name, vpath, str(exc)))
            continue
        if digest in seen:
            out.duplicates.append((name, seen[digest], digest))
            continue
        seen[digest] = name
        out.items.append(Item(id=digest, video=vpath, name=name, meta=meta))
    return out


def _hash(path: str, hashes: Optional[dict]) -> str:
    if hashes is None:
        return content_hash(path)
    st = os.stat(path)
    old = hashes.get(path)
    if isinstance(old, list) and len(old) == 3 and old[0] == st.st_size and old[1] == st.st_mtime_ns:
        return str(old[2])
    digest = content_hash(path)
    hashes[path] = [st.st_size, st.st_mtime_ns, digest]
    return digest

