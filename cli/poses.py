"""`info` and `extract-poses`: headless commands over the pose core (no Qt imported)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from models.pose.native_logs import NativeLogsMuted as _NativeLogsMuted


def register(sub) -> None:
    info = sub.add_parser("info", help="print a video's properties and pose cache status")
    info.add_argument("video", help="video file")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--backend", default=None, help="pose backend id for the cache status")
    info.add_argument("--project", default=argparse.SUPPRESS, help="project file")
    info.set_defaults(func=run_info)
    ext = sub.add_parser("extract-poses", help="extract (or reuse cached) poses of videos")
    ext.add_argument("paths", nargs="+", help="video files and/or folders of videos")
    ext.add_argument("--backend", default=None, help="pose backend id (default: mediapipe-full)")
    ext.add_argument("--out", help="FILE.json, FILE.npz (one clip) or a folder (one file per clip)")
    ext.add_argument("--format", choices=("json", "npz"), default="json",
                     help="file format when --out is a folder (default json)")
    ext.add_argument("--workers", type=int, default=None, help="parallel workers (default: usable CPU cores)")
    ext.add_argument("--project", default=argparse.SUPPRESS, help="project file")
    ext.add_argument("--quiet", action="store_true", help="no progress bar")
    ext.add_argument("--people", action="store_true",
                     help="every person of each clip (multi-person landmarker and tracker), "
                          "kept in the project; prints the persons found and their frames")
    ext.add_argument("--max-persons", type=int, default=4,
                     help="with --people: most people looked for on a frame (default 4)")
    ext.set_defaults(func=run_extract)


def _repository(args, read_only_ok: bool = False):
    from models.store import Repository  # noqa: PLC0415

    return Repository(getattr(args, "project", None), allow_read_only=read_only_ok)


def _backend(args) -> str:
    from models.pose import registry  # noqa: PLC0415

    backend = args.backend or registry.DEFAULT_BACKEND
    registry.get(backend)  # unknown id -> BackendUnavailable (one line)
    return backend


# -- info ---------------------------------------------------------------------------------
def clip_report(path, repo, backend: str) -> dict:
    from models.pose.registry import get  # noqa: PLC0415
    from models.store.repo_poses import settings_key  # noqa: PLC0415

    # properties + frame timestamps, stored in the project; every frame is decoded once
    # (asked for explicitly: it finds where a damaged file stops decoding)
    info = repo.clip_info(path, check=True)
    digest = repo.clip_hash(path)
    key = settings_key(get(backend).settings())
    rows = [r for r in repo.track_status(digest)
            if r["backend"] == backend and r["settings_key"] == key]
    status = pose_status(rows[0] if rows else None, info)
    return dict(info.as_dict(), path=str(Path(path).resolve()), content_hash=digest,
                backend=backend, poses=status,
                reliable=_reliable_share(repo, digest, backend) if rows and rows[0]["complete"]
                else None)


def _reliable_share(repo, digest: str, backend: str):
    """How many frames of the complete cached track have a reliable pose (None: no track)."""
    from models.pose.registry import get  # noqa: PLC0415
    from models.pose.reliability import judge  # noqa: PLC0415

    track = repo.load_track(digest, backend, get(backend).settings(), complete_only=True)
    if track is None:
        return None
    rel = judge(track)
    return {"frames": int(rel.ok.sum()), "of": len(rel), "share": round(rel.share, 4)}


def pose_status(row, info) -> str:
    """'none', 'complete', 'partial D/N', or how many of the declared frames have poses
    when the file stops decoding before its stated end."""
    if row is None:
        return "none"
    declared = info.frame_count
    if row["complete"] and row["frames"] >= declared:
        return "complete"
    if row["complete"]:   # trimmed to the frames that decode
        return f"{row['frames_done']}/{declared} frames (frames {row['frames']}-{declared - 1} " \
               "never decoded)"
    return f"partial {row['frames_done']}/{row['frames']}"


def _text_lines(report: dict, backend: str) -> list[tuple[str, str]]:
    frames = str(report["frames"])
    decodable = report.get("decodable_frames")
    if decodable is not None and decodable < report["frames"]:
        frames = f"{report['frames']} declared, {decodable} decodable"
    fps = str(report["fps"])
    if report.get("vfr"):
        low, high = report["fps_range"]
        fps = f"{report['fps']} average, variable frame rate ({low:g}-{high:g} fps)"
    lines = [("path", report["path"]), ("frames", frames), ("fps", fps),
             ("resolution", f"{report['width']}x{report['height']}"),
             ("duration", f"{report['duration_s']} s")]
    stop = report.get("decode_stopped")
    if stop:
        lines.append(("decoding", f"stops at frame {stop['frame']} ({stop['time_s']:.2f} s) of "
                                  f"{report['frames']}: {stop['reason']}"))
    lines += [("content hash", report["content_hash"]), ("poses", f"{report['poses']} ({backend})")]
    rel = report.get("reliable")
    if rel is not None:
        lines.append(("reliable", f"{rel['frames']} of {rel['of']} frames "
                                  f"({100 * rel['share']:.0f}%) have a reliable pose"))
    return lines


def run_info(args) -> int:
    backend = _backend(args)
    repo = _repository(args, read_only_ok=True)  # only caches the clip's hash, when it can
    try:
        with _NativeLogsMuted():
            report = clip_report(args.video, repo, backend)
    finally:
        repo.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    for label, value in _text_lines(report, backend):
        print(f"{label:<13} {value}")
    return 0


# -- extract-poses ------------------------------------------------------------------------
def expand_paths(paths) -> list[str]:
    """Files as given, folders replaced by the videos inside them (sorted, deduplicated)."""
    from models.errors import VideoError  # noqa: PLC0415
    from models.video import list_videos  # noqa: PLC0415

    out: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = list_videos(p)
            if not found:
                raise VideoError(f"No videos in folder {p}")
            out.extend(str(v) for v in found)
        else:
            out.append(str(p))
    return list(dict.fromkeys(out))


class ProgressBar:
    """A one-line text progress bar on stderr (redrawn at most ~10 times a second)."""

    def __init__(self, stream=None, width: int = 30, enabled: bool = True) -> None:
        self.stream, self.width, self.enabled = stream or sys.stderr, width, enabled
        self._last_t, self._last_text = 0.0, ""

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last_t < 0.1:
            return
        frac = done / total if total else 1.0
        filled = int(round(frac * self.width))
        text = f"\r[{'#' * filled}{'-' * (self.width - filled)}] {frac * 100:5.1f}% " \
               f"{done}/{total} {message[:40]}"
        if text != self._last_text:
            self.stream.write(text.ljust(len(self._last_text)))
            self.stream.flush()
            self._last_t, self._last_text = now, text

    def finish(self) -> None:
        if self.enabled and self._last_text:
            self.stream.write("\n")
            self.stream.flush()


def _check_out(out: str | None, n_clips: int) -> None:
    from models.errors import StudioError  # noqa: PLC0415

    if out is None:
        return
    is_file = out.endswith((".json", ".npz"))
    if is_file and n_clips != 1:
        raise StudioError(f"--out {out} is one file but {n_clips} clips were given; "
                          "pass a folder instead")
    if not is_file and os.path.exists(out) and not os.path.isdir(out):
        raise StudioError(f"--out {out} must be a .json/.npz file or a folder")
    parent = os.path.dirname(os.path.abspath(out)) if is_file else os.path.abspath(out)
    if is_file and not os.path.isdir(parent):
        raise StudioError(f"Folder for --out does not exist: {parent}")
    while not os.path.isdir(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)   # a new folder: the nearest one that exists
    if not os.access(parent, os.W_OK | os.X_OK):   # checked before the (long) extraction
        raise StudioError(f"Cannot write --out {out}: {parent} is read-only")


def _write_error(exc: OSError, target: str) -> str:
    import errno  # noqa: PLC0415

    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        why = "disk full or file size limit reached"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = "read-only or permission denied"
    else:
        why = exc.strerror or str(exc)
    return f"Cannot write {target} ({why}); it was left as it was"


def _save_track(track, target: str) -> None:
    """Write through a temp file renamed into place: a failure (read-only folder, full
    disk, file size limit) leaves neither a partial result nor the temp file."""
    from models.errors import StudioError  # noqa: PLC0415

    tmp = target + ".part" + os.path.splitext(target)[1]
    try:
        track.save(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StudioError(_write_error(exc, target)) from None


def _write_outputs(results, out: str, fmt: str, repo, backend: str) -> None:
    from models.errors import StudioError  # noqa: PLC0415
    from models.pose.extract import cached_track  # noqa: PLC0415

    one_file = out.endswith((".json", ".npz"))
    if not one_file:
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as exc:
            raise StudioError(_write_error(exc, out)) from None
    used: set = set()
    for path, status in results:
        if status not in ("cached", "extracted"):
            continue
        track = cached_track(repo, path, backend)
        target = out if one_file else _unique(os.path.join(out, Path(path).stem), fmt, used)
        _save_track(track, target)  # never leave a half-written result file


def _unique(stem: str, fmt: str, used: set) -> str:
    """``stem.poses.fmt``; clips with the same name from different folders get ``-2``..."""
    target, n = f"{stem}.poses.{fmt}", 1
    while target in used:
        n += 1
        target = f"{stem}-{n}.poses.{fmt}"
    used.add(target)
    return target


def run_extract(args) -> int:
    from models.errors import StudioError  # noqa: PLC0415
    from models.jobs import JobContext  # noqa: PLC0415
    from models.engine.desktop import extract_many  # noqa: PLC0415

    if args.workers is not None and args.workers < 1:
        raise StudioError(f"--workers must be at least 1 (got {args.workers})")
    if args.people:
        return run_extract_people(args)
    backend = _backend(args)
    paths = expand_paths(args.paths)
    _check_out(args.out, len(paths))
    repo = _repository(args)
    try:
        _drop_damaged(repo, paths, backend)
        with _NativeLogsMuted():
            bar = ProgressBar(enabled=not args.quiet)
            results = extract_many(paths, repo.path, backend, None, args.workers,
                                   JobContext(on_progress=bar), open_repo=type(repo))
            bar.finish()
            if args.out:
                _write_outputs(results, args.out, args.format, repo, backend)
            code = _summarise(results, repo)
    finally:
        repo.close()
    return code


def run_extract_people(args) -> int:
    """``extract-poses --people``: every person of each clip into the project, one clip
    after another; prints each clip's persons and the frames each is seen on."""
    from models.engine.desktop import cached_people, extract_people  # noqa: PLC0415
    from models.engine.stages.people import MAX_PERSONS  # noqa: PLC0415
    from models.errors import Cancelled, StudioError  # noqa: PLC0415
    from models.jobs import JobContext  # noqa: PLC0415

    for option, value in (("--out", args.out), ("--backend", args.backend),
                          ("--workers", args.workers)):
        if value is not None:
            raise StudioError(f"{option} does not go with --people (every person is kept in "
                              "the project, under the multi-person landmarker)")
    if not 1 <= args.max_persons <= MAX_PERSONS:
        raise StudioError(f"--max-persons must be 1 to {MAX_PERSONS} (got {args.max_persons})")
    paths = expand_paths(args.paths)
    repo = _repository(args)
    failed = 0
    try:
        for path in paths:
            try:
                with _NativeLogsMuted():
                    cached = bool(cached_people(repo, path, args.max_persons))
                    bar = ProgressBar(enabled=not args.quiet)
                    tracks = extract_people(path, repo, JobContext(on_progress=bar),
                                            max_persons=args.max_persons)
                    bar.finish()
            except Cancelled:
                raise
            except StudioError as exc:
                failed += 1
                print(f"error: {Path(path).name}: {exc}", file=sys.stderr)
                continue
            print("\n".join(people_lines(path, tracks, "cached" if cached else "extracted")))
    finally:
        repo.close()
    return 1 if failed else 0


def people_lines(path, tracks: dict, status: str) -> list[str]:
    """The report of one clip: status, path and number of persons, then one line per
    person with the frames they are seen on (person 0 is the main person)."""
    n = len(tracks)
    head = f"{status:<10} {path}: {n} person{'s' if n != 1 else ''} found"
    lines = [head]
    for person, track in sorted(tracks.items()):
        seen = int(track.has_pose.sum())
        label = f"person {person}" + (" (main)" if person == 0 else "")
        lines.append(f"  {label:<16} on {seen}/{len(track)} frames "
                     f"({100 * seen / max(len(track), 1):.0f}%)")
    return lines


def _drop_damaged(repo, paths, backend: str) -> None:
    """A cached track that no longer decodes is removed, so it is extracted again (clips
    the project has seen are looked up by their recorded hash: nothing is read here)."""
    from models.pose.registry import get  # noqa: PLC0415

    settings = get(backend).settings()
    for path in paths:
        row = repo.clip_by_path(path)
        problem = row and repo.drop_damaged_track(row["content_hash"], backend, settings)
        if problem:
            print(f"note: the cached poses of {Path(path).name} were damaged ({problem}); "
                  "extracting them again", file=sys.stderr)


def _summarise(results, repo) -> int:
    failed = 0
    for path, status in results:
        if status.startswith("error") or status == "cancelled":
            failed += 1
            print(f"error: {Path(path).name}: {status.removeprefix('error: ')}", file=sys.stderr)
        else:
            print(f"{status:<10} {path}{_decode_note(repo, path)}")
    return 1 if failed else 0


def _decode_note(repo, path) -> str:
    """' (poses for 138 of 280 frames: ...)' when the file stops decoding early."""
    from models.errors import StudioError  # noqa: PLC0415

    try:
        times = repo.clip_info(path).times
    except StudioError:
        return ""
    if times is None or not times.stop:
        return ""
    return (f" (poses for {times.decoded} of {times.declared} frames: decoding stops at frame "
            f"{times.decoded}, {times.time_of(times.decoded):.2f} s; {times.stop})")
