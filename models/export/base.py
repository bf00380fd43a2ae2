"""What every exporter shares: options, the report, safe names and paths, atomic folders.

An export is written into a hidden temp sibling of the chosen folder and renamed into place
only when every file is written, so a failure (full disk, read-only folder, cancel) never
leaves a partial export that looks complete. Every path an exporter writes goes through
``ExportSink.path`` which refuses anything resolving outside the export folder.
"""
from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import StudioError


class ExportError(StudioError):
    """An export cannot be written as asked; nothing partial was left behind."""


class MissingVideosError(ExportError):
    """Some items point at videos that do not exist; ``missing`` lists (qa_id, path)."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        self.missing = missing
        super().__init__(f"{missing_text(missing)}; "
                         "pass skip_missing (--skip-missing) to export without them")


def missing_text(missing: list[tuple[str, str]]) -> str:
    """The message listing missing videos (the first three, then how many more)."""
    shown = ", ".join(f"{q} ({p})" for q, p in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return f"{len(missing)} item(s) point at missing videos: {shown}{more}"


@dataclass
class ExportOptions:
    name: str = "actionart"            # benchmark / task-group name (sanitised)
    video_root: Optional[str] = None   # folder the records' relative video paths live in
    copy_videos: bool = True           # False: reference the source videos, copy nothing
    cut_clips: bool = True             # re-encode start/end windows into self-contained files
    frames_per_item: int = 8           # frames sampled per item for image formats
    jpeg_quality: int = 90
    overwrite: bool = False            # replace a non-empty output folder
    skip_missing: bool = False         # consent to drop items whose video is missing
    video_root_env: str = "ACTIONART_VIDEO_ROOT"
    extra: dict = field(default_factory=dict)  # format-specific inputs (tracks, descriptions)


@dataclass
class ExportReport:
    format: str
    out_dir: str
    items: int = 0
    files: list = field(default_factory=list)      # relative paths, sorted
    skipped: list = field(default_factory=list)    # (qa_id, reason)
    warnings: list = field(default_factory=list)

    def summary(self) -> str:
        text = f"Exported {self.items} item(s) as {self.format} to {self.out_dir}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} with missing videos"
        return text


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, max_len: int = 80) -> str:
    """A file/identifier-safe version of ``text``; changed names get a short hash suffix."""
    raw = str(text)
    name = _UNSAFE.sub("_", raw).strip("._-") or "item"
    name = re.sub(r"_+", "_", name)[:max_len]
    if name != raw:
        name += "_" + hashlib.sha1(raw.encode("utf-8")).hexdigest()[:8]
    return name


def safe_identifier(text: str) -> str:
    """Lowercase [a-z0-9_] name usable as a task id or Python identifier."""
    name = re.sub(r"[^a-z0-9_]+", "_", str(text).lower()).strip("_") or "task"
    return ("t_" + name) if name[0].isdigit() else name


def unique_ids(names, reserved=("all",)) -> dict:
    """name -> safe identifier, distinct for distinct names ("body part" vs "body_part")
    and never one of ``reserved`` (the HF card's own "all" config)."""
    out, used = {}, {}
    for name in sorted(set(names)):
        ident = safe_identifier(name)
        if ident in reserved or (ident in used and used[ident] != name):
            ident = f"{ident}_{hashlib.sha1(str(name).encode('utf-8')).hexdigest()[:8]}"
        used[ident] = name
        out[name] = ident
    return out


def parser_source() -> str:
    """The code of models/answer_parse.py (less its docstring), for generated harness files
    that must run without the app yet parse answers exactly as it does."""
    import inspect  # noqa: PLC0415

    from .. import answer_parse  # noqa: PLC0415

    return inspect.getsource(answer_parse).split('"""', 2)[2].lstrip("\n")


def dumps_line(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def dumps_pretty(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=1) + "\n"


class ExportSink:
    """Writes files under one root folder, refusing any path that escapes it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.written: set[str] = set()

    def path(self, rel: str) -> Path:
        rel = str(rel)
        if os.path.isabs(rel) or rel.startswith(("/", "\\")) or ".." in Path(rel).parts:
            raise ExportError(f"Refusing to write outside the export folder: {rel!r}")
        target = (self.root / rel).resolve()
        if target != self.root and self.root not in target.parents:
            raise ExportError(f"Refusing to write outside the export folder: {rel!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        self.written.add(target.relative_to(self.root).as_posix())
        return target

    def write_text(self, rel: str, text: str) -> None:
        with open(self.path(rel), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)

    def write_bytes(self, rel: str, data: bytes) -> None:
        with open(self.path(rel), "wb") as fh:
            fh.write(data)

    def write_lines(self, rel: str, rows) -> None:
        with open(self.path(rel), "w", encoding="utf-8", newline="\n") as fh:
            for row in rows:
                fh.write(dumps_line(row))
                fh.write("\n")


# -- output folder ------------------------------------------------------------------------
def check_out_dir(out_dir: Path, overwrite: bool) -> None:
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ExportError(f"Output folder {out_dir} is not empty; choose an empty folder "
                          "or allow overwriting (--overwrite)")
    parent = out_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(explain_os_error(exc, out_dir)) from None
    if not os.access(parent, os.W_OK):
        raise ExportError(f"Cannot write in {parent} (read-only folder)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True      # exists, owned by someone else
    return True


def drop_stale_partials(out_dir: Path) -> None:
    """Remove temp folders left by exports to ``out_dir`` whose process died (killed,
    power loss); a running export's folder is kept."""
    for p in out_dir.parent.glob(f".{glob.escape(out_dir.name)}.partial-*"):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def temp_dir_for(out_dir: Path) -> Path:
    out_dir = Path(out_dir).resolve()
    drop_stale_partials(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
    except OSError as exc:
        raise ExportError(explain_os_error(exc, out_dir)) from None
    return tmp


def commit_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished temp folder into place (replacing an allowed old folder)."""
    out_dir = Path(out_dir).resolve()
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        os.rename(out_dir, old)
    try:
        os.rename(tmp, out_dir)
    except OSError:
        if old is not None:
            os.rename(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def explain_os_error(exc: OSError, out_dir) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"Disk full (or file size limit reached) while exporting to {out_dir}; nothing was exported"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"Cannot write the export to {out_dir} (read-only or permission denied)"
    return f"Export to {out_dir} failed: {exc.strerror or exc}"
