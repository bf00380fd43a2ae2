"""Test material made from the real clips: a variable-frame-rate MP4 and a clip with
garbage in the middle of its media data.

The VFR clip is a real MP4: frames of a test clip are encoded with OpenCV (MPEG-4 part 2,
no B-frames) and the sample table's decode durations (``stts``) are then rewritten so the
first frames last 1/5 s each and the rest 1/30 s, as a phone writes when its frame rate
drops. Any FFmpeg-based reader sees those presentation times.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_CONTAINERS = (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts")


def _boxes(data: bytes, start: int, end: int):
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        hdr = 8
        if size == 1:
            size, hdr = struct.unpack(">Q", data[i + 8:i + 16])[0], 16
        elif size == 0:
            size = end - i
        yield kind, i, hdr, size
        i += size


def _path_to(data: bytes, names: list) -> list[tuple[int, int, int]]:
    """(offset, header size, size) of each box along ``names`` (the chain of ancestors)."""
    chain, start, end = [], 0, len(data)
    for name in names:
        for kind, i, hdr, size in _boxes(data, start, end):
            if kind == name:
                chain.append((i, hdr, size))
                start, end = i + hdr, i + size
                break
        else:
            raise ValueError(f"box {name!r} not found")
    return chain


def _replace_box(data: bytes, names: list, payload: bytes) -> bytes:
    """``data`` with the box at ``names`` given a new body; ancestors' sizes follow."""
    chain = _path_to(data, names)
    i, hdr, size = chain[-1]
    grow = (8 + len(payload)) - size
    out = bytearray(data[:i] + struct.pack(">I4s", 8 + len(payload), names[-1]) + payload
                    + data[i + size:])
    for (j, jhdr, jsize) in chain[:-1]:
        if jhdr != 8:
            raise ValueError("64-bit box sizes are not handled")
        struct.pack_into(">I", out, j, jsize + grow)
    return bytes(out)


def encode_cfr(src: Path, dst: Path, frames: int, fps: int = 30, step: int = 1) -> None:
    """Encode every ``step``-th of the first frames of ``src`` into a constant-rate MP4."""
    import cv2

    cap = cv2.VideoCapture(str(src), cv2.CAP_FFMPEG)
    w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for k in range(frames * step):
        ok, frame = cap.read()
        assert ok, f"{src} has fewer than {frames * step} frames"
        if k % step == 0:
            writer.write(frame)
    writer.release()
    cap.release()


def make_vfr_clip(src: Path, dst: Path, slow: int = 10, fast: int = 40,
                  slow_fps: int = 5, fast_fps: int = 30, step: int = 1) -> np.ndarray:
    """Write a VFR MP4 of ``slow`` frames at ``slow_fps`` then ``fast`` at ``fast_fps``;
    returns the presentation time (seconds) of every frame."""
    encode_cfr(src, dst, slow + fast, fast_fps, step)
    data = dst.read_bytes()
    stbl = [b"moov", b"trak", b"mdia", b"minf", b"stbl"]
    i, hdr, _size = _path_to(data, [b"moov", b"trak", b"mdia", b"mdhd"])[-1]
    version = data[i + hdr]
    assert version == 0
    timescale = struct.unpack(">I", data[i + hdr + 12:i + hdr + 16])[0]
    d_slow, d_fast = timescale // slow_fps, timescale // fast_fps
    assert d_slow * slow_fps == timescale and d_fast * fast_fps == timescale
    stts = struct.pack(">II", 0, 2) + struct.pack(">II", slow, d_slow) + struct.pack(">II", fast, d_fast)
    data = _replace_box(data, stbl + [b"stts"], stts)
    # durations: media (mdhd, media timescale), track/movie/edit list (movie timescale)
    media_dur = slow * d_slow + fast * d_fast
    out = bytearray(data)
    i, hdr, _ = _path_to(data, [b"moov", b"trak", b"mdia", b"mdhd"])[-1]
    struct.pack_into(">I", out, i + hdr + 16, media_dur)
    i, hdr, _ = _path_to(data, [b"moov", b"mvhd"])[-1]
    movie_ts = struct.unpack(">I", data[i + hdr + 12:i + hdr + 16])[0]
    movie_dur = media_dur * movie_ts // timescale
    struct.pack_into(">I", out, i + hdr + 16, movie_dur)
    i, hdr, _ = _path_to(data, [b"moov", b"trak", b"tkhd"])[-1]
    struct.pack_into(">I", out, i + hdr + 20, movie_dur)
    i, hdr, _ = _path_to(data, [b"moov", b"trak", b"edts", b"elst"])[-1]
    struct.pack_into(">I", out, i + hdr + 8, movie_dur)
    dst.write_bytes(bytes(out))
    return np.concatenate([np.arange(slow) / slow_fps, slow / slow_fps + np.arange(fast) / fast_fps])


def make_corrupt_clip(src: Path, dst: Path, seed: int = 7) -> tuple[int, int]:
    """Copy ``src`` with the middle of its media data (``mdat``) overwritten by random
    bytes; returns the overwritten byte range."""
    data = bytearray(src.read_bytes())
    for kind, i, hdr, size in _boxes(bytes(data), 0, len(data)):
        if kind == b"mdat":
            start = i + hdr + (size - hdr) // 2
            end = start + (size - hdr) // 10
            rng = np.random.default_rng(seed)
            data[start:end] = rng.integers(0, 256, end - start, dtype=np.uint8).tobytes()
            dst.write_bytes(bytes(data))
            return start, end
    raise ValueError(f"{src} has no mdat box")


def make_wide_clip(src: Path, dst: Path) -> None:
    """Copy an MP4 whose ``moov`` follows ``mdat`` with the 64-bit forms of its layout: both
    boxes get 64-bit size headers and the chunk offsets move from ``stco`` to ``co64``
    (shifted by the 8 bytes the wider ``mdat`` header adds)."""
    data = src.read_bytes()
    top = [(kind, i, hdr, size) for kind, i, hdr, size in _boxes(data, 0, len(data))]
    kinds = [k for k, *_ in top]
    assert kinds.index(b"mdat") < kinds.index(b"moov") == len(kinds) - 1, kinds
    stbl = [b"moov", b"trak", b"mdia", b"minf", b"stbl"]
    i, hdr, size = _path_to(data, stbl + [b"stco"])[-1]
    count = struct.unpack(">I", data[i + hdr + 4:i + hdr + 8])[0]
    offsets = struct.unpack(f">{count}I", data[i + hdr + 8:i + hdr + 8 + 4 * count])
    co64 = data[i + hdr:i + hdr + 8] + struct.pack(f">{count}Q", *(o + 8 for o in offsets))
    chain = _path_to(data, stbl + [b"stco"])
    grow = (8 + len(co64)) - size
    out = bytearray(data[:i] + struct.pack(">I4s", 8 + len(co64), b"co64") + co64 + data[i + size:])
    for j, _jhdr, jsize in chain[:-1]:
        struct.pack_into(">I", out, j, jsize + grow)
    data = bytes(out)
    parts = []
    for kind, i, hdr, size in _boxes(data, 0, len(data)):
        body = data[i + hdr:i + size]
        if kind in (b"mdat", b"moov"):
            parts.append(struct.pack(">I4sQ", 1, kind, 16 + len(body)) + body)
        else:
            parts.append(data[i:i + size])
    dst.write_bytes(b"".join(parts))


def make_delayed_clip(src: Path, dst: Path, delay: int = 500) -> None:
    """Copy an MP4 with an empty edit of ``delay`` movie-time units before its one edit:
    the whole timeline starts later, the frames keep their spacing."""
    data = src.read_bytes()
    path = [b"moov", b"trak", b"edts", b"elst"]
    i, hdr, _size = _path_to(data, path)[-1]
    assert data[i + hdr] == 0 and struct.unpack(">I", data[i + hdr + 4:i + hdr + 8])[0] == 1
    edit = data[i + hdr + 8:i + hdr + 20]
    body = struct.pack(">II", 0, 2) + struct.pack(">IihH", delay, -1, 1, 0) + edit
    dst.write_bytes(_replace_box(data, path, body))


def make_faststart_clip(src: Path, dst: Path) -> None:
    """Copy an MP4 whose ``moov`` follows ``mdat`` with ``moov`` moved to the front (as a
    streaming-ready file has it): the chunk offsets move by the size of ``moov``."""
    data = src.read_bytes()
    top = list(_boxes(data, 0, len(data)))
    kinds = [k for k, *_ in top]
    assert kinds.index(b"mdat") < kinds.index(b"moov") == len(kinds) - 1, kinds
    _, mi, _mhdr, msize = top[-1]
    moov = bytearray(data[mi:mi + msize])
    stbl = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco"]
    i, hdr, _size = _path_to(bytes(moov), stbl)[-1]
    count = struct.unpack(">I", moov[i + hdr + 4:i + hdr + 8])[0]
    for k in range(count):
        at = i + hdr + 8 + 4 * k
        struct.pack_into(">I", moov, at, struct.unpack(">I", moov[at:at + 4])[0] + msize)
    first = top[kinds.index(b"mdat")][1]
    dst.write_bytes(data[:first] + bytes(moov) + data[first:mi])
