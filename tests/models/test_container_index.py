"""Frame times from the container's index (no decoding) against a real decoder's times.

Every clip of tests/data/clips, the VFR clip of tests/media_tools.py and copies of a
B-frame clip (tai_chi.mp4: composition offsets and an edit list) rewritten with 64-bit
box sizes and ``co64`` chunk offsets, or with a leading empty edit, must give the same
presentation times (within 1 ms) and the same frame count as decoding every frame.
Then: the box parser on hostile input (property tests).
"""
from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models.video as video
from models.container_index import (BOX_LIMIT, IndexUnusable, read_index,
                                    read_index_bytes)
from models.video import VideoReader, container_times, frame_times, probe
from tests.conftest import CLIPS
from tests.media_tools import (_path_to, make_delayed_clip, make_faststart_clip,
                               make_vfr_clip, make_wide_clip)


def _scan_and_index(path):
    with VideoReader(path) as reader:
        info = reader.info
    video._SCANS.clear()
    return frame_times(path, info, check=True), container_times(path, info)


def _made(kind, tmp_path):
    dst = tmp_path / f"{kind}.mp4"
    if kind == "vfr":
        make_vfr_clip(CLIPS / "tai_chi.mp4", dst, 10, 40, step=2)
    elif kind == "wide":
        make_wide_clip(CLIPS / "tai_chi.mp4", dst)
    else:
        make_delayed_clip(CLIPS / "tai_chi.mp4", dst)
    return dst


CLIP_NAMES = sorted(p.name for p in CLIPS.iterdir() if video.is_video_path(p))


@pytest.mark.parametrize("name", CLIP_NAMES + ["made:vfr", "made:wide", "made:delayed"])
def test_index_times_equal_the_decoded_times(name, tmp_path):
    path = _made(name[5:], tmp_path) if name.startswith("made:") else CLIPS / name
    scanned, indexed = _scan_and_index(path)
    assert indexed is not None, "the container index was not used"
    assert not indexed.checked and scanned.checked and scanned.stop is None
    assert indexed.listed == scanned.decoded == scanned.declared
    np.testing.assert_allclose(indexed.pts, scanned.pts, atol=1e-3, rtol=0)
    assert indexed.vfr == scanned.vfr
    if name == "made:vfr":
        assert indexed.vfr


def test_made_copies_use_the_layouts_they_are_for(tmp_path):
    wide = _made("wide", tmp_path).read_bytes()
    assert wide[4:8] == b"ftyp" and b"co64" in wide and b"stco" not in wide
    assert struct.unpack(">I", wide[40:44])[0] == 1 and wide[44:48] == b"mdat"   # 64-bit
    i = _path_to(wide, [b"moov"])[-1][0]
    assert struct.unpack(">I", wide[i:i + 4])[0] == 1
    delayed = _made("delayed", tmp_path).read_bytes()
    i, hdr, _ = _path_to(delayed, [b"moov", b"trak", b"edts", b"elst"])[-1]
    count, first_media = struct.unpack(">I4xi", delayed[i + hdr + 4:i + hdr + 16])
    assert (count, first_media) == (2, -1)   # an empty edit, then the clip's own


def test_probe_reads_the_index_and_decodes_nothing_more(clip):
    video._SCANS.clear()
    info = probe(clip("tai_chi.mp4"))
    assert info.frame_count == 300 and info.times.listed == 300 and not info.times.checked
    assert info.times.decoded is None and "decodable_frames" not in info.as_dict()
    assert not [k for k in video._SCANS if k[-1] == "scan"], "probe decoded the clip"


def test_cut_off_mp4_falls_back_to_decoding_and_says_where_it_stops(clip, tmp_path):
    whole = tmp_path / "whole.mp4"
    make_faststart_clip(clip("weightlifting_clean_and_jerk.mp4"), whole)
    data = whole.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")   # index first: a cut leaves it whole
    assert container_times(whole, probe(whole)).listed == 300
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:len(data) * 6 // 10])
    with pytest.raises(IndexUnusable, match="past the end"):
        read_index(cut)
    info = probe(cut)
    assert info.times.checked and 0 < info.times.decoded < 300 and info.times.stop


def test_other_containers_decode(tmp_path, clip):
    import cv2

    src = cv2.VideoCapture(str(clip("street_pedestrians.mp4")), cv2.CAP_FFMPEG)
    frames = []
    while (got := src.read())[0]:
        frames.append(got[1])
    src.release()
    dst = tmp_path / "clip.mkv"
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    assert dst.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"   # Matroska, no index we read
    with pytest.raises(IndexUnusable):
        read_index(dst)
    info = probe(dst)
    assert info.times.checked and info.times.decoded == len(frames)


# -- hostile input --------------------------------------------------------------------------
def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


SMALL = (CLIPS / "street_pedestrians.mp4").read_bytes()
MOOV = SMALL.rindex(b"moov") - 4   # the index: where changed sizes and counts matter


def _bounded(data: bytes):
    """read_index_bytes: times or IndexUnusable, with allocations bounded by the size."""
    tracemalloc.start()
    try:
        try:
            out = read_index_bytes(data)
        except IndexUnusable:
            out = None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 64 * len(data) + (2 << 20), f"{peak} bytes for a {len(data)}-byte file"
    if out is not None and out.pts is not None:
        assert len(out.pts) <= len(data) and np.isfinite(out.pts).all()
        assert out.pts[0] == 0 and (np.diff(out.pts) > 0).all()
    return out


def test_the_small_clip_parses():
    assert len(_bounded(SMALL).pts) == 5


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_garbage_is_rejected_or_read(data):
    _bounded(data)
    _bounded(b"\x00\x00\x00\x10ftyp" + data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(MOOV, len(SMALL) - 4),
                          st.sampled_from([0, 1, 7, 8, 9, 16, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000,
                                           len(SMALL), len(SMALL) + 1])),
                min_size=1, max_size=4),
       st.integers(0, len(SMALL)))
def test_a_real_file_with_changed_sizes_or_counts(edits, keep):
    data = bytearray(SMALL)
    for at, value in edits:
        struct.pack_into(">I", data, at, value)
    _bounded(bytes(data))
    _bounded(bytes(data[:keep]))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, 2 ** 64 - 1))
def test_absurd_sizes_and_counts(count, delta, big):
    stts = _box(b"stts", struct.pack(">IIII", 0, 1, count, delta))
    stsz = _box(b"stsz", struct.pack(">III", 0, 1, count))
    moov = _box(b"moov", _box(b"trak", _box(b"mdia", _box(b"hdlr", bytes(8) + b"vide" + bytes(12))
                                              + _box(b"minf", _box(b"stbl", stts + stsz)))))
    _bounded(_box(b"ftyp", b"isom") + moov)
    huge = struct.pack(">I4sQ", 1, b"moov", big) + moov[8:]
    _bounded(_box(b"ftyp", b"isom") + huge)


def test_a_flood_of_tiny_boxes_stops_at_the_box_limit():
    data = _box(b"ftyp", b"isom") + struct.pack(">I4s", 8, b"free") * (BOX_LIMIT + 10)
    with pytest.raises(IndexUnusable, match="too many boxes"):
        read_index_bytes(data)


def test_deep_nesting_is_refused():
    body = _box(b"hdlr", bytes(8) + b"vide" + bytes(12))
    for _ in range(50):
        body = _box(b"trak" if _ == 49 else b"mdia", body)
    with pytest.raises(IndexUnusable):
        read_index_bytes(_box(b"ftyp", b"isom") + _box(b"moov", body))
