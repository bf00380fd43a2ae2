"""Video decoding with frame-exact random access (OpenCV/FFmpeg underneath).

``VideoReader.read(i)`` returns frame ``i`` as an RGB uint8 array, the same pixels a
sequential decode yields for that index. Short forward jumps decode forward from the
current position; longer jumps seek and then verify the position the decoder reports.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from .errors import VideoError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
FORWARD_DECODE_LIMIT = 48  # frames: decode forward instead of seeking below this gap


@dataclass(frozen=True)
class VideoInfo:
    path: str
    frame_count: int
    fps: float
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0

    def time_of(self, frame: int) -> float:
        return frame / self.fps if self.fps > 0 else 0.0

    def frame_at(self, seconds: float) -> int:
        return max(0, min(self.frame_count - 1, int(round(seconds * self.fps))))

    def as_dict(self) -> dict:
        return {"path": self.path, "frames": self.frame_count, "fps": round(self.fps, 3),
                "width": self.width, "height": self.height,
                "duration_s": round(self.duration, 3)}


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
        first = self._read_next()
        if first is None:
            cap.release()
            raise VideoError(f"{p.name} has no decodable frames")
        self._first = first
        if fps <= 0 or fps > 1000:
            fps = 25.0
        self.info = VideoInfo(str(p), max(count, 1), fps, w or first.shape[1], h or first.shape[0])

    # -- decoding ---------------------------------------------------------------------
    def _read_next(self) -> Optional[np.ndarray]:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            return None
        self._next += 1
        return self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)

    def _seek(self, index: int) -> None:
        cap, cv2 = self._cap, self._cv2
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
        if pos != index:  # decoder landed elsewhere: restart and decode forward
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            pos = 0
        self._next = pos

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as RGB uint8 (H, W, 3). Raises VideoError past the end."""
        if index < 0 or index >= self.info.frame_count:
            raise VideoError(f"Frame {index} is outside 0..{self.info.frame_count - 1}")
        if index == 0 and self._next == 1:
            return self._first
        gap = index - self._next
        if gap < 0 or gap > FORWARD_DECODE_LIMIT:
            self._seek(index)
        while self._next < index:
            if not self._cap.grab():
                break
            self._next += 1
        frame = self._read_next()
        if frame is None:
            raise VideoError(f"Frame {index} of {Path(self.info.path).name} cannot be decoded "
                             "(file truncated or corrupt)")
        return frame

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


def probe(path) -> VideoInfo:
    """Open a clip just long enough to read its properties (and prove it decodes)."""
    with VideoReader(path) as reader:
        return reader.info
