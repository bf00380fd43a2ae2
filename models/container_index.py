"""Frame presentation times read from a container's index, without decoding a frame.

An MP4/MOV/M4V file (ISO base media format) lists every video sample's decode duration
(``stts``), composition offset (``ctts``) and byte range (``stsz``/``stsc``/``stco``/
``co64``) in its ``moov`` box; an edit list (``elst``) can shift the timeline. Reading
those tables gives each frame's presentation time in milliseconds of I/O instead of one
decode of the whole clip. An AVI stream is constant-rate by design.

Files are hostile input: every box size is checked against its parent and the file size,
every count against the bytes that hold it, and the sample count is capped, so a read
never goes past what the file holds and an allocation never grows past a bound set by
the file's size. Anything unexpected (malformed tables, fragmented files, edit lists that
cut or repeat media, sample data past the end of the file) raises ``IndexUnusable`` and
the caller decodes the clip instead.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Optional

import numpy as np

from .errors import VideoError

SAMPLE_LIMIT = 10_000_000   # video samples read from one index at most
BOX_LIMIT = 20_000          # boxes visited in one file at most
LEAF_LIMIT = 256 << 20      # bytes of one table box read at most
BMFF_TOP = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid",
            b"styp", b"sidx", b"meta", b"moof", b"mfra", b"pdin", b"prft"}
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"mvex"}
_TABLES = {b"mvhd", b"mdhd", b"hdlr", b"elst", b"stts", b"ctts", b"stsz", b"stz2", b"stsc",
           b"stco", b"co64"}


class IndexUnusable(VideoError):
    """The container's index cannot give the frame times; decode the clip instead."""


@dataclass(frozen=True)
class IndexTimes:
    kind: str                       # "mp4" or "avi"
    pts: Optional[np.ndarray]       # seconds from the first frame (None for "avi")
    timescale: int = 0


def sniff(head: bytes) -> Optional[str]:
    """'mp4', 'avi' or None from the first 12 bytes of a file."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if len(head) >= 8 and head[4:8] in BMFF_TOP:
        return "mp4"
    return None


def read_index(path) -> IndexTimes:
    """The presentation times the container's index gives for the video frames."""
    try:
        with open(path, "rb") as fh:
            return _read(fh)
    except OSError as exc:
        raise IndexUnusable(f"cannot read {path}: {exc.strerror or exc}") from None


def read_index_bytes(data: bytes) -> IndexTimes:
    """``read_index`` of an in-memory file (for tests)."""
    import io  # noqa: PLC0415

    return _read(io.BytesIO(data))


def _read(fh: BinaryIO) -> IndexTimes:
    size = fh.seek(0, 2)
    fh.seek(0)
    head = fh.read(12)
    kind = sniff(head)
    if kind == "avi":
        riff = struct.unpack("<I", head[4:8])[0]
        if riff + 8 > size:   # the file ends before its own header says it does
            raise IndexUnusable("AVI file shorter than its header states")
        return IndexTimes("avi", None)
    if kind != "mp4":
        raise IndexUnusable("no container index this reader understands")
    return _Bmff(fh, size).video_times()


class _Bmff:
    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.size, self.visited = fh, size, 0

    # -- boxes ------------------------------------------------------------------------------
    def boxes(self, start: int, end: int, top: bool = False) -> Iterator[tuple[bytes, int, int]]:
        """(type, payload start, box end) of each box in ``start..end``."""
        pos = start
        while pos + 8 <= end:
            self.visited += 1
            if self.visited > BOX_LIMIT:
                raise IndexUnusable("too many boxes")
            self.fh.seek(pos)
            hdr = self.fh.read(16)
            if len(hdr) < 8:
                raise IndexUnusable("truncated box header")
            n, kind = struct.unpack(">I4s", hdr[:8])
            body = pos + 8
            if n == 1:
                if len(hdr) < 16:
                    raise IndexUnusable("truncated box header")
                n, body = struct.unpack(">Q", hdr[8:16])[0], pos + 16
            elif n == 0:
                if not top:
                    raise IndexUnusable("open-ended box inside another box")
                n = end - pos
            if n < body - pos or pos + n > end:
                if top and kind == b"mdat" and pos + n > end:
                    # media data cut short: samples past the end are checked below
                    yield kind, body, end
                    return
                raise IndexUnusable(f"box {kind!r} size {n} does not fit its parent")
            yield kind, body, pos + n
            pos += n
        if pos != end and not top:
            raise IndexUnusable("trailing bytes inside a box")

    def payload(self, start: int, end: int) -> bytes:
        if end - start > LEAF_LIMIT:
            raise IndexUnusable("index table too large")
        self.fh.seek(start)
        data = self.fh.read(end - start)
        if len(data) != end - start:
            raise IndexUnusable("truncated index table")
        return data

    # -- the video track ----------------------------------------------------------------------
    def video_times(self) -> IndexTimes:
        moov = None
        for kind, body, end in self.boxes(0, self.size, top=True):
            if kind == b"moof":
                raise IndexUnusable("fragmented file")
            if kind == b"moov":
                if moov is not None:
                    raise IndexUnusable("two moov boxes")
                moov = (body, end)
        if moov is None:
            raise IndexUnusable("no moov box")
        movie_scale, tracks = 0, []
        for kind, body, end in self.boxes(*moov):
            if kind == b"mvhd":
                movie_scale = _timescale(self.payload(body, end))
            elif kind == b"mvex":
                raise IndexUnusable("fragmented file")
            elif kind == b"trak":
                tables: dict = {}
                self._collect(body, end, tables, 0)
                if tables.get(b"hdlr", b"")[8:12] == b"vide":
                    tracks.append(tables)
        if len(tracks) != 1:
            raise IndexUnusable(f"{len(tracks)} video tracks")
        return IndexTimes("mp4", *_presentation(tracks[0], movie_scale, self.size))

    def _collect(self, start: int, end: int, tables: dict, depth: int) -> None:
        if depth > 6:
            raise IndexUnusable("boxes nested too deep")
        for kind, body, stop in self.boxes(start, end):
            if kind in _CONTAINERS:
                self._collect(body, stop, tables, depth + 1)
            elif kind in _TABLES:
                if kind in tables:
                    raise IndexUnusable(f"two {kind!r} boxes in one track")
                tables[kind] = self.payload(body, stop)


# -- tables -------------------------------------------------------------------------------------
def _full(data: bytes, need: int) -> int:
    """Version of a full box whose payload must hold ``need`` bytes after version/flags."""
    if len(data) < 4 + need:
        raise IndexUnusable("index table too short")
    return data[0]


def _timescale(data: bytes) -> int:
    """Timescale of an mvhd or mdhd payload."""
    version = _full(data, 20 if data[:1] == b"\x01" else 12)
    at = 20 if version == 1 else 12
    scale = struct.unpack(">I", data[at:at + 4])[0]
    if scale == 0:
        raise IndexUnusable("zero timescale")
    return scale


def _entries(data: bytes, width: int, dtype: str, limit: int = SAMPLE_LIMIT) -> np.ndarray:
    """The table after version/flags and a 32-bit entry count: ``count`` rows of ``dtype``."""
    _full(data, 4)
    count = struct.unpack(">I", data[4:8])[0]
    if count > limit or 8 + count * width > len(data):
        raise IndexUnusable("table entry count does not fit its box")
    dt = np.dtype(dtype)
    return np.frombuffer(data, dtype=dt, count=count * width // dt.itemsize, offset=8)


def _presentation(t: dict, movie_scale: int, file_size: int) -> tuple[np.ndarray, int]:
    for need in (b"mdhd", b"stts", b"stsz", b"stsc"):
        if need not in t:
            raise IndexUnusable(f"video track has no {need.decode()} box")
    if b"stco" not in t and b"co64" not in t:
        raise IndexUnusable("video track has no chunk offsets")
    scale = _timescale(t[b"mdhd"])
    sizes, n = _sample_sizes(t[b"stsz"], file_size)
    if n == 0:
        raise IndexUnusable("video track has no samples")
    stts = _entries(t[b"stts"], 8, ">u4", n)
    counts, deltas = stts[0::2].astype(np.int64), stts[1::2].astype(np.int64)
    if int(counts.sum()) != n or (deltas >= 1 << 31).any():
        raise IndexUnusable("decode durations do not match the samples")
    dts = np.zeros(n, dtype=np.int64)
    np.cumsum(np.repeat(deltas, counts)[:-1], out=dts[1:])
    ct = dts
    if b"ctts" in t:
        ctts = _entries(t[b"ctts"], 8, ">i4", n)
        c_counts = ctts[0::2].astype(np.uint32).astype(np.int64)
        if int(c_counts.sum()) != n:
            raise IndexUnusable("composition offsets do not match the samples")
        ct = dts + np.repeat(ctts[1::2].astype(np.int64), c_counts)
    ct = _edit(t.get(b"elst"), ct, scale, movie_scale)
    _check_data(t, sizes, n, file_size)
    pts = np.sort(ct)
    if n > 1 and not (np.diff(pts) > 0).all():
        raise IndexUnusable("two frames share a presentation time")
    return (pts - pts[0]).astype(np.float64) / scale, scale


def _sample_sizes(data: bytes, file_size: int) -> tuple[Optional[np.ndarray], int]:
    _full(data, 8)
    fixed, n = struct.unpack(">II", data[4:12])
    if n > min(SAMPLE_LIMIT, file_size):   # a frame takes at least one byte of the file
        raise IndexUnusable("sample count out of range")
    if fixed:
        if fixed * n > file_size:
            raise IndexUnusable("samples larger than the file")
        return None, n
    if 12 + 4 * n > len(data):
        raise IndexUnusable("sample size table does not fit its box")
    return np.frombuffer(data, dtype=">u4", count=n, offset=12).astype(np.int64), n


def _edit(elst: Optional[bytes], ct: np.ndarray, scale: int, movie_scale: int) -> np.ndarray:
    """Composition times after the edit list; only a plain shift (leading empty edits, then
    one edit at normal rate that keeps every frame) is taken, anything else decodes."""
    if elst is None:
        return ct
    version = _full(elst, 4)
    width = 20 if version == 1 else 12
    count = struct.unpack(">I", elst[4:8])[0]
    if count > 1000 or 8 + count * width > len(elst):
        raise IndexUnusable("edit list does not fit its box")
    edits = []
    for k in range(count):
        at = 8 + k * width
        if version == 1:
            dur, media, rate, frac = struct.unpack(">QqhH", elst[at:at + 20])
        else:
            dur, media, rate, frac = struct.unpack(">IihH", elst[at:at + 12])
        edits.append((dur, media, rate, frac))
    while edits and edits[0][1] == -1:
        edits.pop(0)
    if len(edits) != 1:
        raise IndexUnusable("edit list with several segments")
    dur, media, rate, frac = edits[0]
    if media < 0 or rate != 1 or frac != 0 or dur == 0 or movie_scale <= 0:
        raise IndexUnusable("edit list that is not a plain shift")
    if int(ct.min()) < media:
        raise IndexUnusable("edit list drops leading frames")
    if (int(ct.max()) - media) * movie_scale >= dur * scale:
        raise IndexUnusable("edit list drops trailing frames")
    return ct - media


def _check_data(t: dict, sizes: Optional[np.ndarray], n: int, file_size: int) -> None:
    """Every sample's bytes lie inside the file (a cut-off file decodes instead, which
    finds where decoding really stops)."""
    if b"co64" in t:
        if b"stco" in t:
            raise IndexUnusable("two chunk offset tables")
        offsets = _entries(t[b"co64"], 8, ">u8", n).astype(np.uint64)
        if len(offsets) and int(offsets.max()) > file_size:
            raise IndexUnusable("chunk offset past the end of the file")
        offsets = offsets.astype(np.int64)
    else:
        offsets = _entries(t[b"stco"], 4, ">u4", n).astype(np.int64)
    chunks = len(offsets)
    stsc = _entries(t[b"stsc"], 12, ">u4", max(chunks, 1)).reshape(-1, 3).astype(np.int64)
    if not chunks or not len(stsc):
        raise IndexUnusable("empty chunk tables")
    first = stsc[:, 0]
    if first[0] != 1 or (np.diff(first) <= 0).any() or first[-1] > chunks:
        raise IndexUnusable("chunk map out of order")
    per = stsc[:, 1]
    if (per > n).any():
        raise IndexUnusable("chunk holds more samples than the track")
    runs = np.diff(np.append(first, chunks + 1))
    if int((per * runs).sum()) != n:
        raise IndexUnusable("chunk map does not match the samples")
    per_chunk = np.repeat(per, runs)
    if sizes is None:
        fixed = struct.unpack(">I", t[b"stsz"][4:8])[0]
        ends = offsets + per_chunk * fixed
    else:
        csum = np.concatenate(([0], np.cumsum(sizes)))
        start = np.concatenate(([0], np.cumsum(per_chunk)))
        ends = offsets + (csum[start[1:]] - csum[start[:-1]])
    if int(ends.max()) > file_size:
        raise IndexUnusable("sample data past the end of the file")
