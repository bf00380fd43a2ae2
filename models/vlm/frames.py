"""Frame sampling shared by every VLM backend.

``sample_indices`` picks frame indices (N uniform over the clip or an interval, a frame
rate, or the marked A/B frames); ``sample_frames`` decodes them once, caps their pixel
count and caches the result so every model of a comparison sees identical pixels.

Decoding strategy (see ``bench/bench_frames.py``): for dense picks a single sequential
pass that ``grab()``s skipped frames and only converts the wanted ones is fastest; for
sparse picks over long spans, one seek per frame wins. ``choose_strategy`` decides from
the mean gap between picks.
"""
from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..video import VideoInfo, _check_path
from .types import VLMError

DEFAULT_MAX_PIXELS = 448 * 448
SEEK_MIN_GAP = 250       # mean gap (frames) from which per-frame seeking beats grab-skip
                         # (x264's default keyframe interval; see bench/bench_frames.py)
MAX_FRAMES = 256


@dataclass(frozen=True)
class FrameSelection:
    mode: str = "uniform"                 # "uniform" | "rate" | "marked"
    count: int = 8                        # uniform: N frames; rate: at most N frames
    rate: Optional[float] = None          # rate: frames per second of video
    start: Optional[int] = None           # interval, inclusive (None = clip start)
    end: Optional[int] = None             # interval, inclusive (None = clip end)
    marked: tuple[int, ...] = ()          # marked: e.g. (frame_a, frame_b)
    max_pixels: Optional[int] = DEFAULT_MAX_PIXELS

    def as_dict(self) -> dict:
        return {"mode": self.mode, "count": self.count, "rate": self.rate, "start": self.start,
                "end": self.end, "marked": list(self.marked), "max_pixels": self.max_pixels}


@dataclass
class SampledFrames:
    video: str
    indices: list[int]
    frames: list[np.ndarray] = field(repr=False)
    fps: float
    frame_count: int
    window: tuple[int, int]
    strategy: str = ""
    duration_s: Optional[float] = None   # seconds the window spans (by the frames' times)

    @property
    def span_s(self) -> float:
        if self.duration_s is not None:
            return self.duration_s
        return (self.window[1] - self.window[0] + 1) / self.fps if self.fps else 0.0


def _window(info: VideoInfo, sel: FrameSelection) -> tuple[int, int]:
    last = info.frame_count - 1
    start = 0 if sel.start is None else int(sel.start)
    end = last if sel.end is None else int(sel.end)
    if start > end or start > last or end < 0:
        raise VLMError(f"No frames in the chosen interval {start}..{end} "
                       f"(the clip has frames 0..{last})")
    return max(0, start), min(last, end)


def sample_indices(info: VideoInfo, sel: FrameSelection) -> list[int]:
    """Frame indices for a selection (sorted, unique, inside the clip)."""
    if sel.mode == "marked":
        return _marked(info, sel.marked)
    start, end = _window(info, sel)
    span = end - start + 1
    if sel.mode == "uniform":
        if int(sel.count) < 1:
            raise VLMError(f"The number of frames must be at least 1 (got {sel.count})")
        n = min(int(sel.count), MAX_FRAMES)
        picks = start + np.floor((np.arange(n) + 0.5) * span / n).astype(int)
    elif sel.mode == "rate":
        if not sel.rate or sel.rate <= 0:
            raise VLMError("A sampling rate (frames per second) must be positive")
        if info.times is not None and info.times.vfr:   # every 1/rate s of presentation time
            tl = info.timeline
            moments = np.arange(tl.time_of(start), tl.time_of(end) + 1e-9, 1.0 / sel.rate)
            picks = np.array([tl.shown_at(t, info.frame_count) for t in moments], dtype=int)
        else:
            step = max(info.fps / sel.rate, 1.0)
            picks = start + np.floor(np.arange(0, span, step)).astype(int)
        limit = max(1, min(int(sel.count or MAX_FRAMES), MAX_FRAMES))
        if len(picks) > limit:
            picks = picks[np.floor((np.arange(limit) + 0.5) * len(picks) / limit).astype(int)]
    else:
        raise VLMError(f"Unknown frame selection '{sel.mode}' (uniform, rate or marked)")
    return sorted(set(int(i) for i in np.clip(picks, start, end)))


def _marked(info: VideoInfo, marked) -> list[int]:
    if not marked:
        raise VLMError("No frames are marked; mark frame A (and B) first")
    bad = [i for i in marked if not 0 <= int(i) < info.frame_count]
    if bad:
        raise VLMError(f"Marked frame {bad[0]} is outside the clip (0..{info.frame_count - 1})")
    return [int(i) for i in marked]


def choose_strategy(indices: list[int]) -> str:
    if len(indices) < 2:
        return "seek" if indices and indices[0] > SEEK_MIN_GAP else "sequential"
    gap = (max(indices) - min(indices)) / (len(indices) - 1)
    return "seek" if gap >= SEEK_MIN_GAP else "sequential"


def cap_pixels(frame: np.ndarray, max_pixels: Optional[int]) -> np.ndarray:
    h, w = frame.shape[:2]
    if not max_pixels or h * w <= max_pixels:
        return frame
    import cv2  # noqa: PLC0415

    scale = math.sqrt(max_pixels / (h * w))
    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _open(path):
    import cv2  # noqa: PLC0415

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise VLMError(f"Cannot decode {os.path.basename(str(path))}")
    return cap


def _rgb(bgr, max_pixels: Optional[int] = None):
    """RGB copy of a decoded BGR frame, shrunk to the pixel cap first (converting the
    small frame, not the full-size one)."""
    import cv2  # noqa: PLC0415

    return cv2.cvtColor(cap_pixels(bgr, max_pixels), cv2.COLOR_BGR2RGB)


def _seek_to(cap, index: int) -> int:
    """Seek so the next grab() returns ``index``; returns the real position (0 on doubt)."""
    import cv2  # noqa: PLC0415

    if index <= 0:
        return 0
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    if int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == index:
        return index
    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    return 0


def decode_sequential(path, indices: list[int],
                      max_pixels: Optional[int] = None) -> dict[int, np.ndarray]:
    """One seek to the first pick, then one forward pass: grab() every frame and
    retrieve() (convert) only the wanted ones."""
    wanted, out = set(indices), {}
    cap = _open(path)
    try:
        for i in range(_seek_to(cap, min(indices)), max(indices) + 1):
            if not cap.grab():
                break
            if i in wanted:
                ok, bgr = cap.retrieve()
                if ok:
                    out[i] = _rgb(bgr, max_pixels)
    finally:
        cap.release()
    return out


def decode_seek(path, indices: list[int],
                max_pixels: Optional[int] = None) -> dict[int, np.ndarray]:
    """One seek per wanted frame (the decoder decodes forward from the prior keyframe)."""
    import cv2  # noqa: PLC0415

    out = {}
    cap = _open(path)
    try:
        for i in sorted(set(indices)):
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, bgr = cap.read()
            if ok:
                out[i] = _rgb(bgr, max_pixels)
    finally:
        cap.release()
    return out


DECODERS = {"sequential": decode_sequential, "seek": decode_seek}

_CACHE: "OrderedDict[tuple, SampledFrames]" = OrderedDict()
_INFO: "OrderedDict[tuple, VideoInfo]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 4


def sample_frames(path, sel: FrameSelection = FrameSelection(),
                  info: Optional[VideoInfo] = None, strategy: Optional[str] = None) -> SampledFrames:
    """Decode the selected frames (cached by file, selection and pixel cap)."""
    p = _check_path(path)
    st = p.stat()
    file_key = (str(p.resolve()), st.st_size, st.st_mtime)
    info = info or _probe(p, file_key)
    indices = sample_indices(info, sel)
    key = file_key + (tuple(indices), sel.max_pixels)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    result = _decode(p, info, sel, indices, strategy or choose_strategy(indices))
    with _CACHE_LOCK:
        _CACHE[key] = result
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


def _probe(p, file_key: tuple) -> VideoInfo:
    """The clip's properties, probed once per file version (not again on every request)."""
    with _CACHE_LOCK:
        info = _INFO.get(file_key)
    if info is None:
        from ..video import probe  # noqa: PLC0415

        info = probe(p)
        with _CACHE_LOCK:
            _INFO[file_key] = info
            while len(_INFO) > CACHE_SIZE:
                _INFO.popitem(last=False)
    return info


def _decode(p, info: VideoInfo, sel: FrameSelection, indices, strategy: str) -> SampledFrames:
    decoded = DECODERS[strategy](p, indices, sel.max_pixels)
    missing = [i for i in indices if i not in decoded]
    if missing:
        raise VLMError(f"Frame {missing[0]} of {p.name} cannot be decoded "
                       "(file truncated or frame count wrong)")
    frames = [decoded[i] for i in indices]
    window = (sel.start or 0, info.frame_count - 1 if sel.end is None else sel.end)
    if sel.mode == "marked":
        window = (min(indices), max(indices))
    window = (int(window[0]), int(min(window[1], info.frame_count - 1)))
    span = info.time_of(window[1] + 1) - info.time_of(window[0])
    return SampledFrames(str(p), indices, frames, info.fps, info.frame_count, window, strategy,
                         span)


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
        _INFO.clear()
