"""Video decoding with frame-exact random access (OpenCV/FFmpeg underneath).

``VideoReader.read(i)`` returns frame ``i`` as an RGB uint8 array, the same pixels a
sequential decode yields for that index. Short forward jumps decode forward from the
current position; longer jumps seek and then verify the position the decoder reports.
"""
from __future__ import annotations

import dataclasses
import hashlib
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from .errors import VideoError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
FORWARD_DECODE_LIMIT = 48  # frames: decode forward instead of seeking below this gap
SCAN_FRAME_LIMIT = 10_000_000  # frames a timestamp scan reads at most (80 MB of floats)


class FrameTimes:
    """Presentation time of every frame of one clip: the one place frames become seconds.

    ``pts`` holds the time (seconds from the first frame) of each frame, read once at
    probe time from the container's index (``checked`` False: nothing was decoded) or by
    decoding every frame (``checked`` True: the table ends where decoding stops); ``None``
    means "constant rate", and times are ``frame / fps``. Frames past the table continue
    at the typical rate. ``declared`` is the frame count the file's header states; ``stop``
    says why decoding ended before it (``None`` when every declared frame decoded, or when
    the clip was not decoded).
    """

    __slots__ = ("pts", "fps", "declared", "stop", "origin", "checked", "_typical")

    def __init__(self, fps: float, pts: Optional[np.ndarray] = None, declared: int = 0,
                 stop: Optional[str] = None, origin: float = 0.0, checked: bool = True) -> None:
        self.pts = None if pts is None else np.asarray(pts, dtype=np.float64)
        self.fps = float(fps) if fps and fps > 0 else 0.0
        self.declared = int(declared)
        self.stop = stop
        self.origin = float(origin)   # the decoder's timestamp of the first frame (s)
        self.checked = bool(checked)   # the table comes from decoding every frame
        self._typical: Optional[float] = None   # typical frame duration, computed once

    @classmethod
    def constant(cls, fps: float, frames: int = 0) -> "FrameTimes":
        return cls(fps, None, frames)

    # -- what the table says about the clip ------------------------------------------------
    @property
    def decoded(self) -> Optional[int]:
        """Frames that really decode (None when the clip was not decoded in full)."""
        return None if self.pts is None or not self.checked else len(self.pts)

    @property
    def listed(self) -> int:
        """Frames the table gives a time for."""
        return 0 if self.pts is None else len(self.pts)

    @property
    def vfr(self) -> bool:
        """True when frame durations differ by more than a tenth of the typical one."""
        if self.pts is None or len(self.pts) < 3:
            return False
        d = np.diff(self.pts)
        typical = self._step()
        return typical > 0 and float(d.max() - d.min()) > 0.1 * typical

    @property
    def average_fps(self) -> float:
        if self.pts is not None and len(self.pts) > 1 and self.pts[-1] > 0:
            return (len(self.pts) - 1) / float(self.pts[-1])
        return self.fps

    def _step(self) -> float:
        """Duration of a frame past the table (the typical frame duration)."""
        if self._typical is None:
            if self.pts is not None and len(self.pts) > 1:
                self._typical = float(np.median(np.diff(self.pts)))
            else:
                self._typical = 1.0 / self.fps if self.fps > 0 else 0.0
        return self._typical

    # -- conversions ------------------------------------------------------------------------
    def time_of(self, frame: int) -> float:
        """Seconds from the first frame at which ``frame`` is shown."""
        frame = int(frame)
        if self.pts is None or not len(self.pts):
            return frame / self.fps if self.fps > 0 else 0.0
        if 0 <= frame < len(self.pts):
            return float(self.pts[frame])
        if frame < 0:
            return frame * self._step()
        return float(self.pts[-1]) + (frame - len(self.pts) + 1) * self._step()

    def times(self, frames) -> np.ndarray:
        """``time_of`` of many frames at once."""
        f = np.asarray(frames, dtype=np.int64).ravel()
        if self.pts is None or not len(self.pts):
            return f / self.fps if self.fps > 0 else np.zeros(len(f))
        n, step = len(self.pts), self._step()
        out = np.where(f < 0, f * step, self.pts[-1] + (f - n + 1) * step)
        inside = (f >= 0) & (f < n)
        out[inside] = self.pts[f[inside]]
        return out

    def frame_at(self, seconds: float, frames: int) -> int:
        """The frame (of ``frames``) shown nearest to ``seconds``."""
        last = max(0, int(frames) - 1)
        if self.pts is None or not len(self.pts):
            return max(0, min(last, int(round(seconds * self.fps)))) if self.fps > 0 else 0
        k = int(np.searchsorted(self.pts, seconds))
        if k >= len(self.pts):
            step = self._step()
            extra = int(round((seconds - self.pts[-1]) / step)) if step > 0 else 0
            return max(0, min(last, len(self.pts) - 1 + extra))
        if k > 0 and seconds - self.pts[k - 1] <= self.pts[k] - seconds:
            k -= 1
        return max(0, min(last, k))

    def shown_at(self, seconds: float, frames: int) -> int:
        """The frame on screen at ``seconds`` (the last one shown at or before it)."""
        last = max(0, int(frames) - 1)
        if self.pts is None or not len(self.pts) or seconds > self.pts[-1]:
            step = self._step()
            base = 0.0 if self.pts is None or not len(self.pts) else float(self.pts[-1])
            first = 0 if self.pts is None or not len(self.pts) else len(self.pts) - 1
            extra = int((seconds - base) / step + 1e-9) if step > 0 else 0
            return max(0, min(last, first + extra))
        return max(0, min(last, int(np.searchsorted(self.pts, seconds + 1e-9, side="right")) - 1))

    def duration(self, frames: int) -> float:
        """Seconds from the first frame to the end of frame ``frames - 1``."""
        if frames <= 0:
            return 0.0
        if self.pts is None or not len(self.pts):
            return frames / self.fps if self.fps > 0 else 0.0
        return self.time_of(frames - 1) + self._step()

    def report(self) -> dict:
        """What ``info`` shows: rate kind and, for a damaged file, where decoding ended."""
        out: dict = {"vfr": self.vfr}
        if self.vfr and self.pts is not None:
            d = np.diff(self.pts)
            out["fps_range"] = [round(1.0 / float(d.max()), 3), round(1.0 / float(d.min()), 3)]
        if self.decoded is not None:
            out["decodable_frames"] = self.decoded
        if self.stop and self.decoded is not None:
            out["decode_stopped"] = {"frame": self.decoded, "time_s": round(self.time_of(
                self.decoded), 3), "reason": self.stop}
        return out


@dataclass(frozen=True)
class VideoInfo:
    path: str
    frame_count: int
    fps: float
    width: int
    height: int
    times: Optional[FrameTimes] = field(default=None, compare=False, repr=False)
    declared_count: bool = field(default=True, compare=False, repr=False)  # header had one

    @property
    def timeline(self) -> FrameTimes:
        return self.times if self.times is not None else FrameTimes.constant(self.fps,
                                                                            self.frame_count)

    @property
    def duration(self) -> float:
        return self.timeline.duration(self.frame_count)

    def time_of(self, frame: int) -> float:
        return self.timeline.time_of(frame)

    def frame_at(self, seconds: float) -> int:
        return self.timeline.frame_at(seconds, self.frame_count)

    def as_dict(self) -> dict:
        out = {"path": self.path, "frames": self.frame_count, "fps": round(self.fps, 3),
               "width": self.width, "height": self.height,
               "duration_s": round(self.duration, 3)}
        if self.times is not None:
            out.update(self.times.report())
        return out


def is_video_path(path) -> bool:
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


def list_videos(folder) -> list[Path]:
    """Video files directly inside ``folder`` and its subfolders, sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError(f"Not a folder: {folder}")
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_video_path(p))


def content_hash(path, chunk: int = 1 << 20) -> str:
    """Hash of the file's bytes: the cache key of everything derived from a clip."""
    h = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    except OSError as exc:
        raise VideoError(f"Cannot read {path}: {exc.strerror or exc}") from None
    return h.hexdigest()


def _check_path(path) -> Path:
    p = Path(path)
    if not p.exists():
        raise VideoError(f"File not found: {p}")
    if p.is_dir():
        raise VideoError(f"{p} is a folder, not a video file")
    if not is_video_path(p):
        raise VideoError(f"Unsupported file type '{p.suffix or '(none)'}' for {p.name}; "
                         f"supported: {', '.join(VIDEO_EXTENSIONS)}")
    if p.stat().st_size == 0:
        raise VideoError(f"{p.name} is empty (0 bytes)")
    return p


def reduced_size(width: int, height: int,
                 size: Optional[tuple[int, int]]) -> Optional[tuple[int, int]]:
    """(w, h) of a ``width`` x ``height`` frame scaled down to fit in ``size`` (aspect
    kept), or None when it already fits (or ``size`` is None): frames are never enlarged."""
    if size is None:
        return None
    scale = min(size[0] / width, size[1] / height)
    if scale >= 1.0:
        return None
    return max(1, round(width * scale)), max(1, round(height * scale))


class VideoReader:
    """Random-access reader over one video file. Not thread-safe: one per thread."""

    def __init__(self, path) -> None:
        import cv2  # noqa: PLC0415 (keeps `import models` light)

        self._cv2 = cv2
        p = _check_path(path)
        cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise VideoError(f"Cannot decode {p.name}: not a readable video (corrupt or not a video)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        self._cap = cap
        self._next = 0  # index of the frame the next cap.read() returns
        first = self._read_bgr()
        if first is None:
            cap.release()
            raise VideoError(f"{p.name} has no decodable frames")
        self._origin = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0   # the first frame's timestamp
        self._last: tuple[int, Optional[np.ndarray]] = (0, first)  # newest decoded (index, BGR)
        self._size = (int(first.shape[1]), int(first.shape[0]))
        self._times: Optional[FrameTimes] = None   # frame timestamp table, once known
        if fps <= 0 or fps > 1000:
            fps = 25.0
        self.info = VideoInfo(str(p), max(count, 1), fps, w or first.shape[1], h or first.shape[0],
                              declared_count=count > 0)

    @property
    def full_size(self) -> tuple[int, int]:
        """(w, h) of the frames at full resolution (as decoded)."""
        return self._size

    # -- decoding ---------------------------------------------------------------------
    def _read_bgr(self) -> Optional[np.ndarray]:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            return None
        self._next += 1
        return bgr

    def _read_next(self) -> Optional[np.ndarray]:
        bgr = self._read_bgr()
        return None if bgr is None else self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)

    def _rgb(self, bgr: np.ndarray, size: Optional[tuple[int, int]],
             bgrx: bool = False) -> np.ndarray:
        """``bgr`` as RGB (or B, G, R, 255 with ``bgrx``), scaled down (nearest pixel) to
        fit in ``size`` = (w, h) when it is larger; scaling first makes the colour
        conversion cheaper too."""
        cv2 = self._cv2
        out = reduced_size(bgr.shape[1], bgr.shape[0], size)
        if out is not None:
            bgr = cv2.resize(bgr, out, interpolation=cv2.INTER_NEAREST)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA if bgrx else cv2.COLOR_BGR2RGB)

    def set_times(self, times: Optional[FrameTimes]) -> None:
        """Give the reader the clip's frame timestamp table (else it reads it when it
        first has to seek)."""
        self._times = times

    def _seek(self, index: int) -> None:
        # OpenCV numbers frames by time x average rate: right for constant-rate clips
        # only. A variable-rate clip is positioned by each frame's own timestamp.
        if self._times is None:
            self._times = frame_times(self.info.path, self.info)
        if self._times.vfr and 0 < index <= self._times.listed:
            self._seek_timed(index)
            return
        cap, cv2 = self._cap, self._cv2
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
        if pos != index:  # decoder landed elsewhere: restart and decode forward
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            pos = 0
        self._next = pos

    def _seek_timed(self, index: int) -> None:
        """Leave the decoder just before frame ``index`` of a variable-rate clip, checking
        where it landed by the decoded frame's timestamp; restart from 0 when unsure."""
        times = self._times
        assert times is not None and times.pts is not None  # _seek: a scanned variable-rate clip
        cap, cv2, pts = self._cap, self._cv2, times.pts
        rate = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or self.info.fps
        cap.set(cv2.CAP_PROP_POS_FRAMES, max(0, int(pts[index - 1] * rate) - 2))
        k = -1
        if cap.grab():
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 - self._origin
            k = int(np.argmin(np.abs(pts - t)))
            if abs(pts[k] - t) > 1e-3:
                k = -1
        if not 0 <= k < index:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._next = 0
            return
        while k < index - 1 and cap.grab():
            k += 1
        self._next = k + 1

    def read(self, index: int, size: Optional[tuple[int, int]] = None,
             bgrx: bool = False) -> np.ndarray:
        """Frame ``index`` as RGB uint8 (H, W, 3). Raises VideoError past the end.

        ``size`` = (w, h): a frame larger than that comes scaled down (nearest pixel, aspect
        kept) to fit in it, e.g. for drawing at its on-screen size while playing; None: the
        full resolution. ``bgrx``: (H, W, 4) bytes blue, green, red, 255 instead (the 32-bit
        layout screens paint fastest). Reading the frame just read again (other size) does
        not decode."""
        if index < 0 or index >= self.info.frame_count:
            raise VideoError(f"Frame {index} is outside 0..{self.info.frame_count - 1}")
        if self._last[0] == index and self._last[1] is not None:
            return self._rgb(self._last[1], size, bgrx)
        gap = index - self._next
        if gap < 0 or gap > FORWARD_DECODE_LIMIT:
            self._seek(index)
        while self._next < index:
            if not self._cap.grab():
                break
            self._next += 1
        self._last = (-1, None)
        bgr = self._read_bgr() if self._next == index else None
        if bgr is None:
            raise VideoError(f"Frame {index} of {Path(self.info.path).name} cannot be decoded "
                             "(file truncated or corrupt)")
        self._last = (index, bgr)
        return self._rgb(bgr, size, bgrx)

    def frames(self, start: int = 0, stop: Optional[int] = None) -> Iterator[tuple[int, np.ndarray]]:
        """Decode sequentially from ``start``; stops early at the real end of stream."""
        stop = self.info.frame_count if stop is None else stop
        if start != self._next:
            self._seek(start)
            while self._next < start and self._cap.grab():
                self._next += 1
        i = start
        while i < stop:
            frame = self._read_next()
            if frame is None:
                return
            yield i, frame
            i += 1

    def thumbnail(self, max_side: int = 160) -> np.ndarray:
        """The frame half a second in, scaled down to at most ``max_side`` pixels."""
        frame = self.read(min(self.info.frame_count - 1, int(self.info.fps // 2)))
        h, w = frame.shape[:2]
        scale = max_side / max(h, w)
        return self._cv2.resize(frame, (max(1, int(w * scale)), max(1, int(h * scale))),
                                interpolation=self._cv2.INTER_AREA)

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _scan(path: Path, declared: int, fps: float) -> FrameTimes:
    """Decode every frame once (no colour conversion) and note when each is shown."""
    import cv2  # noqa: PLC0415

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    pts = array("d")
    try:
        while len(pts) < SCAN_FRAME_LIMIT and cap.grab():
            pts.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
    finally:
        cap.release()
    t = np.frombuffer(pts, dtype=np.float64).copy() if pts else np.zeros(0)
    origin = float(t[0]) if len(t) else 0.0
    t -= origin
    if len(t) > 1 and not (np.diff(t) > 0).all():   # no usable timestamps: constant rate
        t = np.arange(len(t), dtype=np.float64) / fps
    return decoded_times(FrameTimes(fps, t, declared, None, origin), len(t))


STOP_REASON = "corrupt or truncated data; later frames are not read"


def decoded_times(times: FrameTimes, decoded: int) -> FrameTimes:
    """``times`` after decoding the clip found ``decoded`` frames: the table ends there,
    and a clip that stops before its declared end says so."""
    pts = None if times.pts is None else times.pts[:decoded]
    if pts is None:
        pts = np.arange(decoded, dtype=np.float64) / times.fps if times.fps > 0 else np.zeros(0)
    stop = STOP_REASON if times.declared and decoded < times.declared else None
    return FrameTimes(times.fps, pts, times.declared, stop, times.origin, checked=True)


def _from_index(path: Path, declared: int, fps: float) -> Optional[FrameTimes]:
    """The frame times the container's index gives (nothing decoded), or None when it
    gives none this reader trusts (the caller decodes the clip instead)."""
    from .container_index import IndexUnusable, read_index  # noqa: PLC0415

    try:
        index = read_index(path)
    except IndexUnusable:
        return None
    if index.kind == "avi":   # constant rate by design: one frame every 1/fps
        if not declared or fps <= 0:
            return None
        return FrameTimes(fps, np.arange(declared, dtype=np.float64) / fps, declared,
                          checked=False)
    if index.pts is None or (declared and len(index.pts) != declared):   # disagree: decode
        return None
    return FrameTimes(fps, index.pts, declared, checked=False)


_SCANS: "OrderedDict[tuple, FrameTimes]" = OrderedDict()
_SCANS_LOCK = threading.Lock()
SCANS_KEPT = 64  # clips whose timestamp table this process remembers


def frame_times(path, info: VideoInfo, check: bool = False) -> FrameTimes:
    """The clip's frame timestamp table, read once per file version in this process (a
    project stores it too: ``Repository.clip_info``): from the container's index when it
    has one (no decoding), else by decoding every frame. ``check`` always decodes every
    frame, which also finds where a damaged file stops decoding."""
    table = container_times(path, info) if not check else None
    if table is not None:
        return table
    table = _cached(path, info, "scan", _scan)
    assert table is not None   # a decoding pass always gives a table (maybe empty)
    return table


def container_times(path, info: VideoInfo) -> Optional[FrameTimes]:
    """The frame times the container's index gives, or None (nothing is decoded)."""
    return _cached(path, info, "index", _from_index)


def _cached(path, info: VideoInfo, how: str, read) -> Optional[FrameTimes]:
    p = Path(info.path if path is None else path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, how)
    with _SCANS_LOCK:
        if key in _SCANS:
            _SCANS.move_to_end(key)
            return _SCANS[key]
    times = read(p, info.frame_count if info.declared_count else 0, info.fps)
    with _SCANS_LOCK:
        _SCANS[key] = times
        while len(_SCANS) > SCANS_KEPT:
            _SCANS.popitem(last=False)
    return times


def with_times(info: VideoInfo, times: FrameTimes) -> VideoInfo:
    """``info`` carrying ``times``; a header without a frame count takes the decoded one."""
    count = info.frame_count if info.declared_count else max(times.listed, 1)
    return dataclasses.replace(info, frame_count=count, times=times)


def probe(path, check: bool = False) -> VideoInfo:
    """A clip's properties with the timestamp of every frame: from the container's index
    where it has one (fast), else by decoding the clip. ``check`` decodes every frame to
    find where a damaged file stops decoding (``times.decoded``, ``times.stop``)."""
    with VideoReader(path) as reader:
        info = reader.info
    return with_times(info, frame_times(path, info, check))
