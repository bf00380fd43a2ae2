"""What every exporter shares: options, the report, safe names and paths, atomic folders.

An export is written into a hidden temp sibling of the chosen folder and renamed into place
only when every file is written, so a failure (full disk, read-only folder, cancel) never
leaves a partial export that looks complete. Its last file is a manifest listing what it
wrote; replacing a non-empty folder is allowed only when that folder is such an earlier
export and holds nothing else, and never where the project's own files live. Every path an
exporter writes goes through ``ExportSink.path`` which refuses anything resolving outside
the export folder.
"""
from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import re
import shutil
import stat
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
    overwrite: bool = False            # replace an earlier export (its manifest, nothing else)
    skip_missing: bool = False         # consent to drop items whose video is missing
    protected: list = field(default_factory=list)  # paths never to export over (project, clips)
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
    out: dict[str, str] = {}
    used: dict[str, str] = {}
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
MANIFEST = ".actionart-export.json"   # written last into every export: what it wrote
MANIFEST_TOOL = "ActionArt Studio export"
MAX_MANIFEST_BYTES = 64 << 20


def manifest_text(format_id: str, files, items: int) -> str:
    import datetime  # noqa: PLC0415

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dumps_pretty({"tool": MANIFEST_TOOL, "format": format_id, "items": items,
                         "created": now, "files": sorted(files)})


def read_manifest(folder) -> Optional[set]:
    """The relative paths an earlier export listed in ``folder``'s manifest; None when the
    folder holds no valid manifest (missing, not a plain file, too big, malformed, or
    listing a path that is not a clean relative one)."""
    path = Path(folder) / MANIFEST
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MANIFEST_BYTES:
            return None
        with open(path, "rb") as fh:
            doc = json.loads(fh.read(MAX_MANIFEST_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError):
        return None
    files = doc.get("files") if isinstance(doc, dict) and doc.get("tool") == MANIFEST_TOOL else None
    if not isinstance(files, list):
        return None
    listed = set()
    for rel in files:
        if not isinstance(rel, str) or not _clean_relative(rel) or rel == MANIFEST:
            return None
        listed.add(rel)
    return listed


def _clean_relative(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and "\\" not in rel and "\0" not in rel and \
        all(p not in ("", ".", "..") for p in parts)


def foreign_entries(folder, listed: set, limit: int = 3) -> list:
    """Up to ``limit`` entries of ``folder`` (at any depth) that the export whose manifest
    lists ``listed`` did not write: other files, links, folders holding none of its files."""
    folder = Path(folder)
    dirs = {"/".join(rel.split("/")[:k]) for rel in listed for k in range(1, rel.count("/") + 1)}
    out: list = []
    for here, subdirs, names in os.walk(folder):
        base = Path(here).relative_to(folder).as_posix()
        prefix = "" if base == "." else base + "/"
        for d in list(subdirs):
            rel = prefix + d
            if rel not in dirs or os.path.islink(os.path.join(here, d)):
                out.append(rel + "/")
                subdirs.remove(d)
        for n in names:
            rel = prefix + n
            if rel == MANIFEST:
                continue
            try:
                regular = stat.S_ISREG(os.lstat(os.path.join(here, n)).st_mode)
            except OSError:
                regular = False
            if rel not in listed or not regular:
                out.append(rel)
        if len(out) >= limit:
            break
    return sorted(out)[:limit]


def replace_problem(out_dir) -> Optional[str]:
    """Why the non-empty ``out_dir`` may not be replaced by an export (None: it holds an
    earlier export and nothing else)."""
    listed = read_manifest(out_dir)
    if listed is None:
        return (f"Output folder {out_dir} is not empty and holds no earlier export "
                f"({MANIFEST} is missing or invalid); only an earlier export is ever replaced: "
                "choose an empty or new folder")
    foreign = foreign_entries(out_dir, listed)
    if foreign:
        return (f"Output folder {out_dir} holds files the earlier export did not write "
                f"({', '.join(foreign)}); nothing was replaced: move them away or choose "
                "another folder")
    return None


def protected_problem(out_dir, protected) -> Optional[str]:
    """Why ``out_dir`` must never receive an export: it is, or holds at any depth, one of
    ``protected`` (the project file, its clips, the video folders)."""
    out = Path(os.path.realpath(out_dir))
    for p in protected:
        if not p:
            continue
        target = Path(os.path.realpath(p))
        if target == out or out in target.parents:
            what = "is" if target == out else "holds"
            return (f"Refusing to export to {out_dir}: it {what} the project's own data "
                    f"({p}); choose a folder of its own")
    return None


def check_out_dir(out_dir: Path, overwrite: bool, protected=()) -> None:
    """Refuse (ExportError, nothing touched) an output folder an export must not replace."""
    out_dir = Path(out_dir)
    try:
        _check_out_dir(out_dir, overwrite, protected)
    except OSError as exc:
        raise ExportError(explain_os_error(exc, out_dir)) from None


def _check_out_dir(out_dir: Path, overwrite: bool, protected) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a folder")
    problem = protected_problem(out_dir, protected)
    if problem:
        raise ExportError(problem)
    if out_dir.is_dir():
        if not os.access(out_dir, os.W_OK | os.X_OK):
            raise ExportError(f"Cannot write the export to {out_dir} (read-only folder)")
        if any(out_dir.iterdir()):
            if not overwrite:
                hint = ("it holds an earlier export: allow replacing it (--overwrite)"
                        if read_manifest(out_dir) is not None else "choose an empty or new folder")
                raise ExportError(f"Output folder {out_dir} is not empty; {hint}")
            problem = replace_problem(out_dir)
            if problem:
                raise ExportError(problem)
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
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
    """Remove temp folders (new export, replaced export) left by exports to ``out_dir``
    whose process died (killed, power loss); a running export's folders are kept."""
    stale = [p for kind in ("partial", "old")
             for p in out_dir.parent.glob(f".{glob.escape(out_dir.name)}.{kind}-*")]
    for p in stale:
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
