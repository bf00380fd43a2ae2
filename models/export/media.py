"""Videos, clips and frames an export points at, written through the export's sink.

- ``video(rec)``: the path (relative to the export root) of a self-contained file for the
  item: the source copied byte for byte, or its start/end window re-encoded (cv2
  VideoWriter, mp4v) when the item has a window. With ``copy_videos=False`` nothing is
  written and the record's own relative path is used (resolved against the video root).
- ``frames(rec)``: RGB frames sampled from the item's window (or its frame pair);
  ``frame_files_at(video, indices)``: JPEGs of given frames of a video, one pass.
- ``jpeg(img)``: deterministic JPEG bytes (fixed quality, no metadata, baseline).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Optional

import numpy as np

from ..qa.record import QARecord
from ..video import VideoReader, frame_times, with_times
from .base import ExportError, ExportOptions, ExportSink, safe_name


def source_path(rec: QARecord, video_root: Optional[str]) -> Path:
    """Absolute path of the item's source video (reading only; may be anywhere)."""
    return video_path(rec.video, video_root)


def video_path(video: str, video_root: Optional[str]) -> Path:
    p = Path(video)
    if p.is_absolute() or not video_root:
        return p
    return Path(video_root) / p


def missing_videos(records, video_root) -> list[tuple[str, str]]:
    return [(r.qa_id, str(source_path(r, video_root))) for r in records
            if not source_path(r, video_root).is_file()]


def contained_path(video: str, video_root: Optional[str], qa_id: Optional[str] = None) -> Path:
    """The video an export may read and copy: ``video`` resolved (symlinks included) strictly
    inside the video root (the current folder when none is set). An absolute path, ``..``
    or a symlink leading outside the root raises ``ExportError`` naming the record."""
    root = os.path.realpath(video_root or os.getcwd())
    try:
        real = os.path.realpath(os.path.join(root, str(video)))
    except (ValueError, OSError):
        real = ""
    if not real or real == root or os.path.commonpath([root, real]) != root:
        who = f"record {qa_id}: " if qa_id is not None else ""
        raise ExportError(f"{who}field 'video': {str(video)[:200]!r} lies outside the video "
                          f"root {root}; exports read and copy only videos inside it")
    return Path(real)


def export_source(rec: QARecord, video_root: Optional[str]) -> Path:
    """``contained_path`` of a record's video (what exports copy and sample frames from)."""
    return contained_path(rec.video, video_root, rec.qa_id)


def missing_export_videos(records, video_root) -> list[tuple[str, str]]:
    """(qa_id, path) of records whose contained video is missing; ``ExportError`` for a
    record whose video lies outside the root."""
    out = []
    for r in records:
        path = export_source(r, video_root)
        if not path.is_file():
            out.append((r.qa_id, str(path)))
    return out


def reference_path(rec: QARecord) -> str:
    """The record's video path as a clean relative posix path (for copy-free exports)."""
    return clean_relative(rec.video)


def clean_relative(video: str) -> str:
    parts = [p for p in PurePosixPath(str(video).replace("\\", "/")).parts
             if p not in ("", "/", ".", "..")]
    return "/".join(parts) or safe_name(video)


def video_stem(video: str) -> str:
    """The file-safe name of a video's clips and frame folder (``frames/<stem>/``)."""
    return safe_name(Path(clean_relative(video)).with_suffix("").as_posix())


MAX_RESAMPLE_FPS = 60.0  # a variable-rate clip is re-encoded at most at this rate


class Media:
    def __init__(self, sink: Optional[ExportSink], options: ExportOptions) -> None:
        self.sink = sink
        self.options = options
        self._videos: dict = {}
        self.skipped: list = []   # (id, reason) a format left out; the runner reports them

    # -- videos -----------------------------------------------------------------------
    def window(self, rec: QARecord):
        if not self.options.cut_clips or (rec.start_s is None and rec.end_s is None):
            return None
        return (rec.start_s, rec.end_s)

    def video(self, rec: QARecord) -> str:
        if not self.options.copy_videos:
            return reference_path(rec)
        key = (rec.video, self.window(rec))
        if key not in self._videos:
            self._videos[key] = self._write_video(rec, key[1])
        return self._videos[key]

    def _write_video(self, rec: QARecord, window) -> str:
        assert self.sink is not None, "copying videos needs the export's sink"
        src = export_source(rec, self.options.video_root)
        stem = video_stem(rec.video)
        if window is None and src.suffix.lower() == ".mp4":
            rel = f"videos/{stem}.mp4"
            shutil.copyfile(src, self.sink.path(rel))
            return rel
        window = window or (None, None)  # other containers: re-encode the whole video
        tag = "_".join("x" if t is None else f"{t:.3f}".replace(".", "p") for t in window)
        rel = f"videos/{stem}__{tag}.mp4"
        cut_clip(src, self.sink.path(rel), window[0], window[1])
        return rel

    # -- frames -----------------------------------------------------------------------
    def frame_indices(self, rec: QARecord, reader: VideoReader, n: int) -> list[int]:
        marked = [int(f) for f in (rec.frame_a, rec.frame_b) if f is not None]
        if marked:  # a frame pair, or the one moment the question is about
            last = reader.info.frame_count - 1
            return [min(max(0, f), last) for f in marked]
        first, last = window_frames(timed(reader), rec.start_s, rec.end_s)
        idx = np.linspace(first, last, num=max(1, n)).round().astype(int)
        return sorted(set(int(i) for i in idx))

    def frames(self, rec: QARecord, n: Optional[int] = None) -> list[tuple[int, np.ndarray]]:
        """The item's sampled frames, decoded (callers keep them per distinct window)."""
        with VideoReader(export_source(rec, self.options.video_root)) as reader:
            return [(i, reader.read(i))
                    for i in self.frame_indices(rec, reader, n or self.options.frames_per_item)]

    def frame_files_at(self, video: str, indices, clamp: bool = False) -> list[str]:
        """JPEGs of many frames of one video (sorted), decoded in one forward pass;
        ``clamp``: frames past either end show the first/last one, as marked frames do."""
        stem = video_stem(video)
        assert self.sink is not None, "frame files need the export's sink"
        out = []
        with VideoReader(contained_path(str(video), self.options.video_root)) as reader:
            last = reader.info.frame_count - 1
            for i in sorted(int(i) for i in indices):
                if clamp:
                    i = min(max(0, i), last)
                rel = f"frames/{stem}/{i:06d}.jpg"
                if rel not in self.sink.written:
                    self.sink.write_bytes(rel, self.jpeg(reader.read(i)))
                out.append(rel)
        return out

    def jpeg(self, rgb: np.ndarray) -> bytes:
        return encode_jpeg(rgb, self.options.jpeg_quality)


def timed(reader: VideoReader):
    """The reader's clip properties with every frame's presentation time."""
    info = with_times(reader.info, frame_times(reader.info.path, reader.info))
    reader.set_times(info.times)
    return info


def window_frames(info, start_s, end_s) -> tuple[int, int]:
    """First and last frame shown in [start_s, end_s] (by the clip's frame times)."""
    first = 0 if start_s is None else info.frame_at(float(start_s))
    last = info.frame_count - 1 if end_s is None else info.frame_at(float(end_s))
    return first, max(first, last)


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    import cv2  # noqa: PLC0415

    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality),
                                         cv2.IMWRITE_JPEG_OPTIMIZE, 0,
                                         cv2.IMWRITE_JPEG_PROGRESSIVE, 0])
    if not ok:
        raise ExportError("Cannot encode a frame as JPEG")
    return buf.tobytes()


def montage(frames: list[np.ndarray], cols: int = 4, max_side: int = 1024) -> np.ndarray:
    """Tile frames left to right, top to bottom, into one image (scaled to ``max_side``)."""
    import cv2  # noqa: PLC0415

    h, w = frames[0].shape[:2]
    cols = min(cols, len(frames))
    rows = -(-len(frames) // cols)
    scale = min(1.0, max_side / (w * cols), max_side / (h * rows))
    tw, th = max(1, int(w * scale)), max(1, int(h * scale))
    canvas = np.zeros((th * rows, tw * cols, 3), np.uint8)
    for k, img in enumerate(frames):
        r, c = divmod(k, cols)
        tile = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
        canvas[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = tile
    return canvas


def cut_clip(src: Path, dst: Path, start_s, end_s) -> int:
    """Re-encode the window [start_s, end_s] of ``src`` into ``dst``; returns frames written."""
    import cv2  # noqa: PLC0415

    with VideoReader(src) as reader:
        info = timed(reader)
        first, last = window_frames(info, start_s, end_s)
        plan, rate = _constant_rate_plan(info, first, last)
        writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), rate,  # type: ignore[attr-defined]
                                 (info.width, info.height))
        if not writer.isOpened():
            raise ExportError(f"Cannot write a clip to {dst.name} (video encoder unavailable)")
        count = 0
        try:
            for index, rgb in reader.frames(first, last + 1):
                bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                for _ in range(plan[index - first]):
                    writer.write(bgr)
                    count += 1
        finally:
            writer.release()
    if count == 0 or not os.path.getsize(dst):
        raise ExportError(f"Window {start_s}-{end_s} s of {src.name} holds no frames")
    check_clip(dst, count)
    return count


def _constant_rate_plan(info, first: int, last: int) -> tuple[np.ndarray, float]:
    """How many times each source frame is written, and the output rate, so that every
    frame appears at its own presentation time in the (constant-rate) output clip: a
    constant-rate source is copied 1:1; a variable one is resampled at its fastest rate."""
    tl = info.timeline
    n = last - first + 1
    if not tl.vfr:
        return np.ones(n, dtype=np.int64), info.fps
    t = tl.times(range(first, last + 2)) - tl.time_of(first)
    rate = float(min(1.0 / np.diff(t[:-1]).min(), MAX_RESAMPLE_FPS)) if n > 1 else info.fps
    starts = np.round(t * rate).astype(np.int64)   # output slot where each frame begins
    plan = np.maximum(np.diff(starts), 0)
    plan[0] = max(plan[0], 1)
    return plan, rate


def check_clip(dst: Path, count: int) -> None:
    """The encoder drops write errors (full disk, file size limit): re-open the clip and
    refuse a truncated or unreadable file instead of exporting it as complete."""
    from ..errors import VideoError  # noqa: PLC0415
    from ..video import probe  # noqa: PLC0415

    try:
        written = probe(str(dst)).frame_count
    except VideoError:
        written = -1
    if written != count:
        raise ExportError(f"Writing the clip {dst.name} failed (disk full or write error); "
                          "nothing was exported")


def guess_video_root(clip_paths, records) -> Optional[str]:
    """The folder the records' relative paths live in, found among the project's clips
    (absolute paths): the first clip whose path ends with a record's ``video``."""
    by_suffix: dict[str, list] = {}
    for p in clip_paths:
        by_suffix.setdefault(Path(p).name, []).append(str(p))
    for rec in records:
        rel = reference_path(rec)
        for p in by_suffix.get(Path(rel).name, []):
            if p.replace("\\", "/").endswith("/" + rel):
                return p[: -len(rel) - 1]
    return None
